// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The adapter API: the only header an adapter module includes (with
// control.h). An adapter speaks one legacy wire protocol and turns its
// requests into Control API calls; it owns its protocol, its listener and its
// identity mapping, and nothing else.
//
// A module is a shared object named <name>.so exporting
//     extern "C" const scopevisor::AdapterModule* scopevisor_adapter_module();
// The daemon refuses a module whose apiVersion differs from its own
// SCOPEVISOR_ADAPTER_API_VERSION. Modules are built with the same compiler
// and standard library as the daemon (C++ types cross this boundary); the
// version is bumped on every incompatible change of this file or control.h.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "scopevisor/control.h"

#define SCOPEVISOR_ADAPTER_API_VERSION 3u

namespace scopevisor {

// Roles of network identities (docs/architecture.md §6) and the verb classes of commands.
enum class Role { None = 0, Viewer, LogReader, Operator, Admin };
enum class Verb { View, ReadLog, Control, SendInput, Manage };

inline bool roleAllows(Role r, Verb v) noexcept {
    switch (v) {
    case Verb::View: return r >= Role::Viewer;
    case Verb::ReadLog: return r >= Role::LogReader;
    case Verb::Control:
    case Verb::SendInput: return r >= Role::Operator;
    case Verb::Manage: return r >= Role::Admin;
    }
    return false;
}
inline const char* roleName(Role r) noexcept {
    switch (r) {
    case Role::Viewer: return "viewer";
    case Role::LogReader: return "log-reader";
    case Role::Operator: return "operator";
    case Role::Admin: return "admin";
    default: return "none";
    }
}
inline std::optional<Role> parseRole(std::string_view s) noexcept {
    if (s == "viewer") return Role::Viewer;
    if (s == "log-reader") return Role::LogReader;
    if (s == "operator") return Role::Operator;
    if (s == "admin") return Role::Admin;
    return std::nullopt;
}
inline const char* verbName(Verb v) noexcept {
    switch (v) {
    case Verb::View: return "view";
    case Verb::ReadLog: return "read-log";
    case Verb::Control: return "control";
    case Verb::SendInput: return "send-input";
    case Verb::Manage: return "manage";
    }
    return "manage";
}

// One key of the configuration, with where it was written.
struct AdapterSetting {
    std::string section; // e.g. "adapter:khanat", "inet_http_server"
    std::string key;     // lower case
    std::string value;   // expanded
    std::string file;
    int line = 0;
};

struct AdapterConfig {
    std::string name;       // "xmlrpc", "khanat", "steward", "supervisor-rs"
    std::string configPath; // the daemon's main configuration file
    std::vector<AdapterSetting> settings;

    const AdapterSetting* find(std::string_view section, std::string_view key) const {
        for (auto it = settings.rbegin(); it != settings.rend(); ++it)
            if (it->section == section && it->key == key)
                return &*it;
        return nullptr;
    }
    bool hasSection(std::string_view section) const {
        for (const auto& s : settings)
            if (s.section == section)
                return true;
        return false;
    }
};

// A program described by a legacy tool's own configuration (khaganat.cfg,
// supervisor-rs server.yml), which the daemon adds to its own.
struct ImportedProgram {
    std::string name;
    std::vector<std::string> argv; // no shell
    std::string directory;
    bool autostart = false;
    bool autorestart = false;
    bool redirectStderr = false;
    std::vector<std::pair<std::string, std::string>> environment;
    std::string stdoutLogfile; // "" = none
    bool stdoutLogfileAppend = true;
    std::string stderrLogfile; // "" = none
    // The daemon always appends to log files (O_APPEND); an adapter whose
    // tool truncated them at each start does that itself before starting.
    bool stderrLogfileAppend = true;
    int startsecs = -1;          // -1 = the daemon's default; 0 = started once spawned
    uint64_t logBufferLines = 0; // 0 = the daemon's default
    std::string source;          // "file:line" or file, for messages
};

enum class LogLevel { Error, Warn, Info, Debug };

struct UnixPeer {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
};

// What the daemon offers an adapter. Every method is thread-safe.
class AdapterHost {
public:
    virtual ~AdapterHost() = default;
    virtual Control& control() = 0;
    // Logged with the adapter's name in front.
    virtual void log(LogLevel level, std::string_view message) = 0;
    // The role of a network identity: [access] "<adapter>:<identity>", else
    // the adapter's default_role (Role::None when that is empty). An empty
    // identity (anonymous peer) gets default_role.
    virtual Role roleFor(std::string_view identity) = 0;
    // Authorize a local peer with polkit (unix-process subject) for `verb`,
    // with details program/group. Root is allowed without asking. `done`
    // may run on any thread.
    virtual void authorizeLocal(const UnixPeer& peer, Verb verb, const std::string& program,
                                std::function<void(bool allowed, std::string reason)> done) = 0;
    // A listening socket handed over by systemd (scopevisord.socket) with
    // FileDescriptorName=`name`; -1 if none. The caller owns the fd.
    virtual int takeListenFd(std::string_view name) = 0;
    // Where adapter state may be kept (created on demand), e.g. /var/lib/scopevisor/<name>.
    virtual std::string stateDirectory() = 0;

    // A transient systemd scope for a process the adapter forked itself (a
    // command run for a peer), so that its whole tree is accounted and
    // killed as one, like a program's. The adapter holds the child (blocked
    // on a pipe) until `done` says where it is:
    //   unit != "":  it is in that new scope, "scopevisor-<adapter>-<pid>-<n>.scope"
    //                under scopevisor.slice; let it run.
    //   both "":     the daemon has no scopes to give (direct backend); the
    //                adapter keeps the child in a process group of its own.
    //   error != "": no scope (systemd's reason); the child must not run.
    // `done` runs once, on any thread, possibly inside this call. The
    // default is the direct backend's answer.
    virtual void startCommandScope(pid_t pid, std::string_view description,
                                   std::function<void(std::string unit, std::string error)> done) {
        (void)pid;
        (void)description;
        done({}, {});
    }
    // SIGKILL every process of a scope that startCommandScope made for this
    // adapter and stop it; `done` runs once it is gone (error "") or with
    // why not, on any thread, possibly inside this call.
    virtual void killCommandScope(const std::string& unit, std::function<void(std::string error)> done) {
        done("no scope " + unit);
    }
};

// True when a listening or connected socket is bound to a loopback address
// (127.0.0.0/8, ::1, a v4-mapped loopback) or is a unix socket.
inline bool isLoopbackSocket(int fd) noexcept {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
        return false;
    if (ss.ss_family == AF_UNIX)
        return true;
    if (ss.ss_family == AF_INET)
        return (ntohl(reinterpret_cast<sockaddr_in*>(&ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss.ss_family == AF_INET6) {
        const in6_addr& a = reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(&a))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127;
    }
    return false;
}

// Every adapter calls this for each network listener once it is bound: when
// anonymous peers (or identities [access] does not name) get a role and the
// listener is not on loopback, the daemon says so at every start.
// `listener` names it for the log ("0.0.0.0:9001"), `key` the setting that
// opened it ("[adapter:xmlrpc] default_role").
inline void warnIfOpenToAnonymous(AdapterHost& host, int listenFd, const std::string& listener,
                                  const std::string& key) {
    Role r = host.roleFor("");
    if (r == Role::None || isLoopbackSocket(listenFd))
        return;
    host.log(LogLevel::Warn, std::string("CRIT: ") + listener + " is not a loopback address and " + key +
                                 " gives anonymous and unlisted clients the role " + roleName(r) +
                                 ": anyone who can reach it has those rights");
}

class Adapter {
public:
    virtual ~Adapter() = default;
    // Bind listeners and start serving. False with *error set on failure.
    virtual bool start(std::string* error) = 0;
    // Stop serving and join every thread. Called before the engine goes.
    virtual void stop() = 0;
};

struct AdapterModule {
    uint32_t apiVersion; // SCOPEVISOR_ADAPTER_API_VERSION
    const char* name;
    // Check the configuration and make the adapter; nullptr with *error set
    // (naming file, line and key) when the configuration is wrong.
    Adapter* (*create)(AdapterHost& host, const AdapterConfig& cfg, std::string* error);
    // Programs from the legacy tool's own configuration; may be null.
    // Called before the engine starts; false with *error set on failure.
    bool (*importPrograms)(const AdapterConfig& cfg, std::vector<ImportedProgram>* out, std::string* error);
};

} // namespace scopevisor

extern "C" {
// The entry point every module exports.
const scopevisor::AdapterModule* scopevisor_adapter_module();
}
