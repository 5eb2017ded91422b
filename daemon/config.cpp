// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Loading a configuration: reading the files ([include]), the sections that
// configure the daemon itself ([supervisord], [scopevisord], the HTTP
// servers, [access], [adapter:x]) and the sorting of every other section into
// "handled elsewhere", "accepted but not supported" and "unknown". Programs
// and groups are config_program.cpp's.
#include "config.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "config_loader.h"

extern char** environ;

namespace scopevisor::config {

using namespace detail;

namespace {

std::string located(const SourceLoc& loc, const std::string& section, const std::string& key,
                    const std::string& message)
{
    std::string r;
    if (!loc.file.empty()) {
        r = loc.file;
        if (loc.line > 0)
            r += ":" + std::to_string(loc.line);
        r += ": ";
    }
    if (!section.empty())
        r += "[" + section + "] ";
    if (!key.empty())
        r += key + ": ";
    return r + message;
}

// Config files are text; anything larger than this is a mistake (or
// /dev/zero), and reading it would only exhaust memory.
constexpr off_t kMaxFileSize = 16 * 1024 * 1024;

// Reads a regular file; on failure returns nullopt and says why in `error`
// (`missing` is set when the file does not exist).
std::optional<std::string> readFile(const std::string& path, std::string& error, bool* missing = nullptr)
{
    // O_NONBLOCK: opening a FIFO must not hang; it is refused below anyway.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (missing)
            *missing = errno == ENOENT;
        error = std::strerror(errno);
        return std::nullopt;
    }
    struct stat st {};
    std::optional<std::string> text;
    if (::fstat(fd, &st) != 0) {
        error = std::strerror(errno);
    } else if (S_ISDIR(st.st_mode)) {
        error = "is a directory";
    } else if (!S_ISREG(st.st_mode)) {
        error = "not a regular file";
    } else if (st.st_size > kMaxFileSize) {
        error = "file too large";
    } else {
        text.emplace();
        char buf[65536];
        for (;;) {
            const ssize_t n = ::read(fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                error = std::strerror(errno);
                text.reset();
                break;
            }
            if (n == 0)
                break;
            text->append(buf, size_t(n));
            if (text->size() > size_t(kMaxFileSize)) {
                error = "file too large";
                text.reset();
                break;
            }
        }
    }
    ::close(fd);
    return text;
}

std::string absolutePath(const std::string& path)
{
    std::error_code ec;
    std::filesystem::path p = std::filesystem::absolute(path, ec);
    if (ec)
        return path;
    return p.lexically_normal().string();
}

constexpr std::string_view kDaemonKeys[] = {
    "logfile",   "logfile_maxbytes", "logfile_backups", "loglevel",  "pidfile",
    "umask",     "nodaemon",         "silent",          "minfds",    "minprocs",
    "nocleanup", "childlogdir",      "user",            "directory", "strip_ansi",
    "environment", "identifier",
};
// [scopevisord] has these and every key of [supervisord].
constexpr std::string_view kScopevisordKeys[] = {"backend", "log_buffer_lines", "log_buffer_bytes",
                                                 "state_dir"};
constexpr std::string_view kIncludeKeys[] = {"files"};
constexpr std::string_view kUnixServerKeys[] = {"file", "chmod", "chown", "username", "password"};
constexpr std::string_view kInetServerKeys[] = {"port", "username", "password"};
constexpr std::string_view kCtlKeys[] = {"serverurl", "username", "password", "prompt", "history_file"};
// Keys of the other interpreted sections, for [DEFAULT].
constexpr std::string_view kOtherKeys[] = {
    "files", "programs", "port", "file", "chmod", "chown", "username", "password",
    "command", "process_name", "numprocs", "numprocs_start", "priority", "autostart",
    "startsecs", "startretries", "autorestart", "exitcodes", "stopsignal", "stopwaitsecs",
    "stopasgroup", "killasgroup", "redirect_stderr", "serverurl", "backoff_max",
    "stdout_logfile", "stdout_logfile_maxbytes", "stdout_logfile_backups",
    "stdout_capture_maxbytes", "stdout_events_enabled", "stdout_syslog", "stderr_logfile",
    "stderr_logfile_maxbytes", "stderr_logfile_backups", "stderr_capture_maxbytes",
    "stderr_events_enabled", "stderr_syslog",
};

// Defaults that depend on the environment rather than on the file.
void environmentDefaults(DaemonConfig& d, const LoadContext& ctx)
{
    auto env = [&](const char* name) -> std::string {
        const auto it = ctx.env.find(name);
        return it == ctx.env.end() ? std::string() : it->second;
    };
    // childlogdir stays empty unless set: the engine puts AUTO log files
    // under the state directory then (Engine::childLogDir), not in a
    // world-writable /tmp where anyone can plant a file at the name.
    if (ctx.euid == 0)
        d.stateDir = "/var/lib/scopevisor";
    else if (!env("XDG_STATE_HOME").empty() && env("XDG_STATE_HOME")[0] == '/')
        d.stateDir = env("XDG_STATE_HOME") + "/scopevisor";
    else if (!env("HOME").empty())
        d.stateDir = env("HOME") + "/.local/state/scopevisor";
}

// The keys of [supervisord], and of [scopevisord], which may repeat them and
// then wins. Only keys that are present are assigned.
void readDaemonKeys(SectionReader& r, DaemonConfig& d, const LoadContext& ctx, bool own)
{
    auto path = [&](std::string_view key, std::string& out) {
        if (auto v = r.get(key))
            out = expandUser(*v, ctx.env);
    };
    path("logfile", d.logfile);
    d.logfileMaxbytes = r.bytes("logfile_maxbytes", d.logfileMaxbytes);
    d.logfileBackups = int(r.integer("logfile_backups", d.logfileBackups, 0, INT_MAX));
    if (auto v = r.convert("loglevel", [](const std::string& s) {
            const std::string l = lower(trim(s));
            for (const char* level : {"critical", "error", "warn", "info", "debug", "trace", "blather"})
                if (l == level)
                    return l;
            throw std::invalid_argument("invalid value " + quote(s) +
                                        " (expected critical, error, warn, info, debug, trace or blather)");
        }))
        d.loglevel = *v;
    path("pidfile", d.pidfile);
    d.umask = r.octal("umask", d.umask, 0777);
    d.nodaemon = r.boolean("nodaemon", d.nodaemon);
    d.silent = r.boolean("silent", d.silent);
    d.minfds = int(r.integer("minfds", d.minfds, 0, INT_MAX));
    d.minprocs = int(r.integer("minprocs", d.minprocs, 0, INT_MAX));
    d.nocleanup = r.boolean("nocleanup", d.nocleanup);
    path("childlogdir", d.childlogdir);
    d.user = std::string(trim(r.get("user", d.user)));
    path("directory", d.directory);
    d.stripAnsi = r.boolean("strip_ansi", d.stripAnsi);
    d.identifier = r.get("identifier", d.identifier);
    if (!own)
        return;
    if (auto v = r.convert("backend", [](const std::string& s) {
            const std::string l = lower(trim(s));
            if (l == "auto")
                return BackendChoice::Auto;
            if (l == "systemd")
                return BackendChoice::Systemd;
            if (l == "direct")
                return BackendChoice::Direct;
            throw std::invalid_argument("invalid value " + quote(s) + " (expected auto, systemd or direct)");
        }))
        d.backend = *v;
    d.logBufferLines = uint64_t(r.integer("log_buffer_lines", (long long)d.logBufferLines, 1, LLONG_MAX));
    d.logBufferBytes = r.bytes("log_buffer_bytes", d.logBufferBytes);
    if (d.logBufferBytes == 0)
        r.fail("log_buffer_bytes", "must be at least 1");
    path("state_dir", d.stateDir);
}

// environment= of [supervisord] / [scopevisord], read first because every
// later value may use its names as %(ENV_X)s.
void readDaemonEnvironment(Loader& l, const ini::Section* s)
{
    if (!s)
        return;
    SectionReader r(l, *s, l.globals);
    std::vector<std::string> notes;
    auto env = r.convert("environment", [&](const std::string& v) { return parseEnvironment(v, &notes); });
    for (const std::string& n : notes)
        r.warn("environment", n);
    if (!env)
        return;
    l.cfg.daemon.environment = *env;
}

void readDaemon(Loader& l)
{
    const ini::Section* sup = l.doc.find("supervisord");
    const ini::Section* own = l.doc.find("scopevisord");
    environmentDefaults(l.cfg.daemon, l.ctx);
    readDaemonEnvironment(l, sup);
    readDaemonEnvironment(l, own);
    for (const auto& [k, v] : l.cfg.daemon.environment)
        l.globals["ENV_" + k] = v;
    if (sup) {
        SectionReader r(l, *sup, l.globals);
        readDaemonKeys(r, l.cfg.daemon, l.ctx, false);
    }
    if (own) {
        SectionReader r(l, *own, l.globals);
        readDaemonKeys(r, l.cfg.daemon, l.ctx, true);
    }
}

// username and password: both or neither (supervisord's rule).
void readCredentials(SectionReader& r, HttpServerConfig& h)
{
    const auto user = r.get("username");
    const auto pass = r.get("password");
    if (user && !pass)
        r.fail("username", "set without a password (set both or neither)");
    if (pass && !user)
        r.fail("password", "set without a username (set both or neither)");
    h.username = user.value_or("");
    h.password = pass.value_or("");
}

HttpServerConfig readUnixServer(Loader& l, const ini::Section& s)
{
    SectionReader r(l, s, l.globals);
    HttpServerConfig h;
    h.loc = s.loc;
    const auto file = r.get("file");
    if (!file)
        r.fail("file", "missing (required)");
    h.file = expandUser(std::string(trim(*file)), l.ctx.env);
    if (h.file.empty())
        r.fail("file", "empty (a socket path is required)");
    h.chmod = mode_t(r.octal("chmod", 0700, 07777));
    if (auto v = r.convert("chown", [](const std::string& value) {
            const std::string t(trim(value));
            const size_t colon = t.find(':');
            if (t.empty() || colon == 0 || (colon != std::string::npos && colon + 1 == t.size()))
                throw std::invalid_argument("invalid value " + quote(value) + " (expected user or user:group)");
            return t;
        }))
        h.chown = *v;
    readCredentials(r, h);
    return h;
}

HttpServerConfig readInetServer(Loader& l, const ini::Section& s)
{
    SectionReader r(l, s, l.globals);
    HttpServerConfig h;
    h.loc = s.loc;
    const auto port = r.convert("port", [](const std::string& v) {
        // supervisord's inet_address(): "host:port", "*:port" or "port".
        const std::string t(trim(v));
        const size_t colon = t.rfind(':');
        const std::string number = colon == std::string::npos ? t : t.substr(colon + 1);
        try {
            parseInteger(number, 1, 65535);
        } catch (const std::invalid_argument&) {
            throw std::invalid_argument("invalid value " + quote(v) +
                                        " (expected host:port, *:port or port, with a port from 1 to 65535)");
        }
        return t;
    });
    if (!port)
        r.fail("port", "missing (required)");
    h.port = *port;
    readCredentials(r, h);
    return h;
}

void readAccess(Loader& l, const ini::Section& s)
{
    SectionReader r(l, s, l.globals);
    for (const ini::Entry& e : s.entries) {
        const size_t colon = e.key.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == e.key.size())
            r.fail(e.key, "expected <adapter>:<identity> = role");
        const std::string role = *r.convert(e.key, [](const std::string& v) { return checkRole(v); });
        l.cfg.access.emplace_back(e.key, role);
    }
}

void readAdapter(Loader& l, const ini::Section& s)
{
    SectionReader r(l, s, l.globals);
    try {
        checkName(s.name.substr(s.name.find(':') + 1));
    } catch (const std::invalid_argument& e) {
        throw ConfigError(s.loc, s.name, "", e.what());
    }
    RawSection raw;
    raw.name = s.name;
    raw.loc = s.loc;
    for (const ini::Entry& e : s.entries) {
        std::string value = *r.get(e.key);
        if (e.key == "default_role" && !trim(value).empty())
            value = *r.convert(e.key, [](const std::string& v) { return checkRole(v); });
        raw.keys.emplace_back(e.key, value);
        raw.keyLocs[e.key] = e.loc;
    }
    l.cfg.adapters.push_back(std::move(raw));
}

void readIncludes(Loader& l, const std::string& mainFile)
{
    const ini::Section* inc = l.doc.find("include");
    if (!inc)
        return;
    SectionReader r(l, *inc, l.globals);
    const auto files = r.get("files");
    if (!files)
        r.fail("files", "missing (required)");
    const SourceLoc at = r.entry("files")->loc;

    std::vector<std::string> patterns;
    const std::string_view all = *files;
    for (size_t i = 0; i < all.size();) {
        const size_t b = all.find_first_not_of(" \t\r\n\f\v", i);
        if (b == std::string_view::npos)
            break;
        const size_t e = std::min(all.find_first_of(" \t\r\n\f\v", b), all.size());
        patterns.emplace_back(all.substr(b, e - b));
        i = e;
    }
    if (!l.ctx.readIncludes)
        return;

    std::set<std::string> seen{mainFile};
    const std::string base = dirnameOf(mainFile);
    for (const std::string& pattern : patterns) {
        const std::string full = pattern[0] == '/' ? pattern : base + "/" + pattern;
        glob_t g{};
        const int rc = ::glob(full.c_str(), 0, nullptr, &g);
        std::vector<std::string> matches;
        if (rc == 0)
            for (size_t i = 0; i < g.gl_pathc; ++i)
                matches.emplace_back(g.gl_pathv[i]);
        ::globfree(&g);
        if (matches.empty()) {
            l.warn(at, "include", "files", "no file matches " + quote(full));
            continue;
        }
        std::sort(matches.begin(), matches.end());
        for (const std::string& file : matches) {
            if (!seen.insert(file).second)
                continue;
            struct stat st {};
            if (::stat(file.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
                l.warn(at, "include", "files", quote(file) + " is a directory, skipped");
                continue;
            }
            std::string error;
            const auto text = readFile(file, error);
            if (!text)
                throw ConfigError(at, "include", "files", "cannot read " + file + ": " + error);
            ini::Document doc = ini::Document::parse(*text, file);
            // supervisord reads [include] of the main file only; an included
            // file's own [include] would silently do nothing there.
            if (const ini::Section* nested = doc.find("include")) {
                l.warn(nested->loc, "include", "",
                       "not followed in an included file (only the main file's [include] is read)");
                doc.remove("include");
            }
            l.doc.merge(std::move(doc));
            l.cfg.files.push_back(file);
        }
    }
}

bool isOneOf(std::string_view key, std::span<const std::string_view> keys)
{
    return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// Keys of [DEFAULT] are defaults of every section; warn only about those no
// interpreted section knows.
void checkDefaults(Loader& l, const ini::Section& s)
{
    for (const ini::Entry& e : s.entries)
        if (!isOneOf(e.key, kDaemonKeys) && !isOneOf(e.key, kScopevisordKeys) &&
            !isOneOf(e.key, kOtherKeys) && !isResourceKey(e.key))
            l.warn(e.loc, s.name, e.key, "unknown key, ignored");
}

void readSections(Loader& l)
{
    for (const ini::Section& s : l.doc.sections()) {
        const std::string& n = s.name;
        const std::string kind = n.substr(0, n.find(':'));
        if (n == "DEFAULT") {
            checkDefaults(l, s);
        } else if (n == "supervisord") {
            l.warnUnknownKeys(s, kDaemonKeys);
        } else if (n == "scopevisord") {
            l.warnUnknownKeys(s, kDaemonKeys, kScopevisordKeys);
        } else if (n == "include") {
            l.warnUnknownKeys(s, kIncludeKeys);
        } else if (n == "unix_http_server") {
            l.cfg.unixHttpServer = readUnixServer(l, s);
            l.warnUnknownKeys(s, kUnixServerKeys);
        } else if (n == "inet_http_server") {
            l.cfg.inetHttpServer = readInetServer(l, s);
            l.warnUnknownKeys(s, kInetServerKeys);
        } else if (n == "supervisorctl") {
            l.warnUnknownKeys(s, kCtlKeys);
        } else if (n == "access") {
            readAccess(l, s);
        } else if (n == "rpcinterface:supervisor") {
            // Every supervisord.conf has it; the XML-RPC adapter is its equivalent.
        } else if (kind == "program" || kind == "group") {
            if (n.find(':') == std::string::npos)
                l.warn(s.loc, n, "", "unknown section, ignored (expected [" + n + ":name])");
            // else: buildGroups()
        } else if (kind == "adapter" && n.find(':') != std::string::npos) {
            readAdapter(l, s);
        } else if (kind == "eventlistener") {
            l.warn(s.loc, n, "", "event listeners are not supported; section ignored");
        } else if (kind == "fcgi-program") {
            l.warn(s.loc, n, "", "FastCGI programs are not supported; section ignored");
        } else if (kind == "rpcinterface") {
            l.warn(s.loc, n, "", "RPC interface plugins are not supported; section ignored");
        } else if (kind == "ctlplugin") {
            l.warn(s.loc, n, "", "supervisorctl plugins are not supported; section ignored");
        } else {
            l.warn(s.loc, n, "", "unknown section, ignored");
        }
    }
}

Config build(ini::Document doc, const std::string& file, const LoadContext& ctx)
{
    Config cfg;
    cfg.path = file;
    cfg.files.push_back(file);
    Loader l{ctx, cfg, std::move(doc), {}, nullptr};
    for (const auto& [k, v] : ctx.env)
        l.globals["ENV_" + k] = v;
    l.globals["host_node_name"] = ctx.hostname;

    // The main file's [DEFAULT] applies to its [include] already; the
    // included files' [DEFAULT] keys join it afterwards.
    l.defaults = l.doc.find("DEFAULT");
    readIncludes(l, file);
    l.defaults = l.doc.find("DEFAULT");
    readDaemon(l);
    readSections(l);
    buildGroups(l);
    return cfg;
}

} // namespace

// ---- public types ----

ConfigError::ConfigError(SourceLoc loc, std::string section, std::string key, std::string message)
    : std::runtime_error(located(loc, section, key, message)),
      loc_(std::move(loc)),
      section_(std::move(section)),
      key_(std::move(key)),
      message_(std::move(message))
{
}

std::string Diagnostic::text() const
{
    return located(loc, section, key, message);
}

bool ProcessConfig::sameAs(const ProcessConfig& o) const
{
    ProcessConfig copy = *this;
    copy.loc = o.loc;
    return copy == o;
}

bool GroupConfig::sameAs(const GroupConfig& o) const
{
    if (name != o.name || priority != o.priority || fromGroupSection != o.fromGroupSection ||
        processes.size() != o.processes.size())
        return false;
    for (size_t i = 0; i < processes.size(); ++i)
        if (!processes[i].sameAs(o.processes[i]))
            return false;
    return true;
}

const GroupConfig* Config::findGroup(const std::string& name) const
{
    for (const GroupConfig& g : groups)
        if (g.name == name)
            return &g;
    return nullptr;
}

const std::string* RawSection::get(const std::string& key) const
{
    for (const auto& [k, v] : keys)
        if (k == key)
            return &v;
    return nullptr;
}

LoadContext LoadContext::fromProcess()
{
    LoadContext ctx;
    for (char** e = environ; e && *e; ++e) {
        const char* eq = std::strchr(*e, '=');
        if (eq)
            ctx.env.emplace(std::string(*e, size_t(eq - *e)), std::string(eq + 1));
    }
    struct utsname u {};
    if (::uname(&u) == 0)
        ctx.hostname = u.nodename;
    ctx.euid = ::geteuid();
    return ctx;
}

Config load(const std::string& path, const LoadContext& ctx)
{
    const std::string file = absolutePath(path);
    std::string error;
    bool missing = false;
    const auto text = readFile(file, error, &missing);
    if (!text) {
        if (missing)
            throw ConfigError(SourceLoc{file, 0}, "", "", "could not find config file");
        throw ConfigError(SourceLoc{file, 0}, "", "", "could not read config file: " + error);
    }
    return build(ini::Document::parse(*text, file), file, ctx);
}

Config parse(const std::string& text, const std::string& path, const LoadContext& ctx)
{
    const std::string file = absolutePath(path);
    return build(ini::Document::parse(text, file), file, ctx);
}

} // namespace scopevisor::config
