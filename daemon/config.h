// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The configuration model: a superset of supervisord.conf (docs/architecture.md §11,
// docs/protocols/xmlrpc.md §6). Parsing produces plain values; nothing here touches
// processes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

#include "config_resources.h"

namespace scopevisor::config {

struct SourceLoc {
    std::string file;
    int line = 0;
    bool operator==(const SourceLoc&) const = default;
};

// A configuration error: names the file, the line and the key (when known).
// what() is the full text, e.g.
//   "/etc/x.conf:12: [program:web] autorestart: invalid value 'maybe' (expected true, false or unexpected)"
class ConfigError : public std::runtime_error {
public:
    ConfigError(SourceLoc loc, std::string section, std::string key, std::string message);
    const SourceLoc& loc() const noexcept { return loc_; }
    const std::string& section() const noexcept { return section_; }
    const std::string& key() const noexcept { return key_; }
    const std::string& message() const noexcept { return message_; }

private:
    SourceLoc loc_;
    std::string section_, key_, message_;
};

// A warning (unknown key or section, ignored value...), same shape as an error.
struct Diagnostic {
    SourceLoc loc;
    std::string section;
    std::string key;
    std::string message;
    std::string text() const; // "file:line: [section] key: message"
};

enum class AutoRestart { False, Unexpected, True };

struct LogFileConfig {
    // Empty path and !isAuto: no file. AUTO sets isAuto and leaves `path`
    // empty: the engine names the file in childlogdir (supervisord's naming).
    std::string path;
    bool isAuto = false;
    uint64_t maxBytes = 50 * 1024 * 1024; // 0 = never rotate
    int backups = 10;
    uint64_t captureMaxBytes = 0;
    bool eventsEnabled = false;
    bool syslog = false;
    bool operator==(const LogFileConfig&) const = default;
};

// One process, after numprocs expansion: the unit the engine manages.
struct ProcessConfig {
    std::string name;        // process name (process_name, expanded)
    std::string group;       // group name
    std::string programName; // x of [program:x]
    int processNum = 0;
    std::string command;           // as written (expanded)
    std::vector<std::string> argv; // shell-like split of command; argv[0] not yet resolved on PATH
    int priority = 999;
    bool autostart = true;
    int startsecs = 1;
    int startretries = 3;
    bool startretriesInfinite = false; // startretries = infinite
    int backoffMax = 0;                // seconds; 0 = no cap (supervisord's linear 1,2,3...)
    AutoRestart autorestart = AutoRestart::Unexpected;
    std::vector<int> exitcodes{0};
    int stopsignal = 15;
    int stopwaitsecs = 10;
    bool stopasgroup = false;
    bool killasgroup = false;
    std::string user;              // empty: the daemon's user
    bool redirectStderr = false;
    // Bytes sent to the program's stdin that it has not read yet, at most
    // (a sender past it gets an error; nothing is dropped or grows forever).
    uint64_t stdinBufferMax = 1024 * 1024;
    LogFileConfig stdoutLog;
    LogFileConfig stderrLog;
    // The program's own environment= (in order), not the merged child env.
    std::vector<std::pair<std::string, std::string>> environment;
    std::string directory; // empty: none
    int umask = -1;        // -1: none
    std::string serverurl = "AUTO";
    // systemd resource controls (systemd backend) by key (memory_max,
    // memory_high, cpu_weight, cpu_quota, tasks_max, io_weight), each
    // already converted to the scope property it sets (config_resources.h).
    std::map<std::string, ResourceProperty> resources;
    SourceLoc loc; // the [program:x] header

    std::string namespec() const { return group == name ? name : group + ":" + name; }
    // Equality for reload: everything but the source location.
    bool sameAs(const ProcessConfig& o) const;
    bool operator==(const ProcessConfig&) const = default; // including loc
};

struct GroupConfig {
    std::string name;
    int priority = 999;
    std::vector<ProcessConfig> processes;
    bool fromGroupSection = false; // [group:x] rather than an implicit program group
    SourceLoc loc;
    bool sameAs(const GroupConfig& o) const;
};

struct HttpServerConfig {
    std::string file;    // unix: socket path
    mode_t chmod = 0700; // unix
    std::string chown;   // unix: "user" or "user:group"
    std::string port;    // inet: "host:port", "port", "*:port"
    std::string username;
    std::string password; // plain, or "{SHA}" + hex SHA-1
    SourceLoc loc;
};

enum class BackendChoice { Auto, Systemd, Direct };

struct DaemonConfig {
    BackendChoice backend = BackendChoice::Auto;
    std::string logfile;        // empty: no main log file (journal/stderr only)
    uint64_t logfileMaxbytes = 50 * 1024 * 1024;
    int logfileBackups = 10;
    std::string loglevel = "info";
    std::string pidfile;        // empty: none
    int umask = 022;
    bool nodaemon = true;       // scopevisord never daemonizes; accepted for compatibility
    bool silent = false;
    int minfds = 1024;
    int minprocs = 200;
    bool nocleanup = false;
    std::string childlogdir;    // empty: <state_dir>/logs (Engine::childLogDir)
    std::string user;           // the default user= of the programs
    std::string directory;      // the daemon's working directory (main.cpp)
    bool stripAnsi = false;
    std::vector<std::pair<std::string, std::string>> environment;
    std::string identifier = "supervisor";
    // Per-program in-memory log buffer bounds, per stream.
    uint64_t logBufferLines = 10000;
    uint64_t logBufferBytes = 1024 * 1024;
    std::string stateDir; // desired state; default /var/lib/scopevisor (root) or $XDG_STATE_HOME/scopevisor
};

// A section kept as raw keys for a front end to interpret (adapters, [access]).
struct RawSection {
    std::string name; // full section name, e.g. "adapter:khanat"
    SourceLoc loc;
    std::vector<std::pair<std::string, std::string>> keys; // lower-cased keys, expanded values
    std::map<std::string, SourceLoc> keyLocs;
    const std::string* get(const std::string& key) const;
};

struct Config {
    std::string path; // the main file, absolute
    DaemonConfig daemon;
    std::vector<GroupConfig> groups; // load order (section order)
    std::optional<HttpServerConfig> unixHttpServer;
    std::optional<HttpServerConfig> inetHttpServer;
    std::vector<RawSection> adapters;            // [adapter:x] sections
    std::vector<std::pair<std::string, std::string>> access; // [access]: "<adapter>:<identity>" -> role
    std::vector<Diagnostic> warnings;
    std::vector<std::string> files; // every file read, main first

    const GroupConfig* findGroup(const std::string& name) const;
};

// Where the environment and host facts come from, so tests can fix them.
struct LoadContext {
    std::map<std::string, std::string> env; // the daemon's environment (for %(ENV_X)s)
    std::string hostname;
    uid_t euid = 0; // the daemon's user: chooses the default state_dir
    // false: [include] is checked but no included file is read (fuzzing,
    // syntax checks of a single file).
    bool readIncludes = true;
    static LoadContext fromProcess();
};

// Load the main file and its includes. Throws ConfigError.
Config load(const std::string& path, const LoadContext& ctx = LoadContext::fromProcess());
// Parse text as if it were the file `path` ([include] is resolved relative to it).
Config parse(const std::string& text, const std::string& path, const LoadContext& ctx);

// Helpers shared with adapters that import other formats.
int parseSignal(const std::string& s); // "TERM", "SIGTERM", "15"; -1 if invalid
std::string signalName(int sig);        // "TERM"
// supervisord's byte sizes: "50MB", "1KB", "123"; throws std::invalid_argument.
uint64_t parseByteSize(const std::string& s);
// Shell-like split (no shell): quotes and backslashes as Python shlex (POSIX).
// Throws std::invalid_argument on unbalanced quotes.
std::vector<std::string> splitCommand(const std::string& s);

} // namespace scopevisor::config
