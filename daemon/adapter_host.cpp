// SPDX-License-Identifier: LGPL-2.1-or-later
#include "adapter_host.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <filesystem>

#include <dlfcn.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "build-config.h"
#include "command_scopes.h"
#include "config_values.h"
#include "logging.h"
#include "state_file.h"

namespace scopevisor {
namespace fs = std::filesystem;

namespace {

std::string locFile(const config::SourceLoc& l) { return l.file; }

void addSetting(AdapterConfig& c, const std::string& section, const std::string& key, const std::string& value,
                const config::SourceLoc& loc) {
    c.settings.push_back(AdapterSetting{section, key, value, locFile(loc), loc.line});
}

std::string octal(mode_t m) {
    char buf[16];
    snprintf(buf, sizeof buf, "0%o", unsigned(m));
    return buf;
}

bool isNo(const std::string& v) { return v == "no" || v == "false" || v == "off" || v == "0"; }

std::string exeDir() {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        return {};
    buf[n] = '\0';
    return fs::path(buf).parent_path().string();
}

} // namespace

std::vector<AdapterPlan> planAdapters(const config::Config& cfg) {
    std::vector<AdapterPlan> plans;
    auto planFor = [&](const std::string& name) -> AdapterPlan& {
        for (auto& p : plans)
            if (p.name == name)
                return p;
        plans.push_back(AdapterPlan{name, AdapterConfig{name, cfg.path, {}}, true});
        return plans.back();
    };
    // supervisord's own sections enable the XML-RPC adapter, as they enable
    // supervisord's HTTP servers.
    for (auto [sec, srv] : {std::pair{"unix_http_server", &cfg.unixHttpServer},
                            std::pair{"inet_http_server", &cfg.inetHttpServer}}) {
        if (!*srv)
            continue;
        const config::HttpServerConfig& h = **srv;
        AdapterPlan& p = planFor("xmlrpc");
        if (!h.file.empty()) {
            addSetting(p.config, sec, "file", h.file, h.loc);
            addSetting(p.config, sec, "chmod", octal(h.chmod), h.loc);
            if (!h.chown.empty())
                addSetting(p.config, sec, "chown", h.chown, h.loc);
        }
        if (!h.port.empty())
            addSetting(p.config, sec, "port", h.port, h.loc);
        if (!h.username.empty())
            addSetting(p.config, sec, "username", h.username, h.loc);
        if (!h.password.empty())
            addSetting(p.config, sec, "password", h.password, h.loc);
    }
    for (const auto& raw : cfg.adapters) {
        std::string name = raw.name.substr(raw.name.find(':') + 1);
        if (const std::string* en = raw.get("enabled"); en && isNo(*en)) {
            plans.erase(std::remove_if(plans.begin(), plans.end(), [&](auto& p) { return p.name == name; }),
                        plans.end());
            continue;
        }
        AdapterPlan& p = planFor(name);
        for (const auto& [k, v] : raw.keys) {
            auto it = raw.keyLocs.find(k);
            config::SourceLoc loc = it != raw.keyLocs.end() ? it->second : raw.loc;
            if (k == "required") {
                p.required = !isNo(v);
                continue;
            }
            if (k == "enabled")
                continue;
            addSetting(p.config, raw.name, k, v, loc);
        }
    }
    return plans;
}

std::vector<std::string> adapterSearchPath(const std::string& name) {
    std::vector<std::string> v;
    // A daemon run from its build directory: <build>/daemon/scopevisord
    // finds <build>/adapters/<name>/<name>.so, no install and no environment.
    std::string dir = exeDir();
    if (!dir.empty())
        v.push_back(dir + "/../adapters/" + name + "/" + name + ".so");
    v.push_back(std::string(SCOPEVISOR_ADAPTERDIR) + "/" + name + ".so");
    return v;
}

struct AdapterManager::Entry {
    AdapterPlan plan;
    void* handle = nullptr;
    const AdapterModule* module = nullptr;
    std::unique_ptr<AdapterHost> host;
    std::unique_ptr<Adapter> adapter;
    bool running = false;
};

// The AdapterHost of one adapter.
class HostImpl final : public AdapterHost {
public:
    HostImpl(AdapterManager& m, std::string name, std::string defaultRole)
        : m_(m), name_(std::move(name)), defaultRole_(std::move(defaultRole)) {}

    Control& control() override { return *m_.control_; }

    void log(LogLevel level, std::string_view message) override {
        std::string line = name_ + ": " + std::string(message);
        switch (level) {
        case LogLevel::Error: log::error(line); break;
        case LogLevel::Warn: log::warn(line); break;
        case LogLevel::Info: log::info(line); break;
        case LogLevel::Debug: log::debug(line); break;
        }
    }

    Role roleFor(std::string_view identity) override {
        if (!identity.empty()) {
            std::string key = name_ + ":" + std::string(identity);
            // The last [access] line for a key wins, as everywhere in the file.
            for (auto it = m_.access_.rbegin(); it != m_.access_.rend(); ++it)
                if (it->first == key)
                    return parseRole(it->second).value_or(Role::None);
        }
        return parseRole(defaultRole_).value_or(Role::None);
    }

    void authorizeLocal(const UnixPeer& peer, Verb verb, const std::string& program,
                        std::function<void(bool, std::string)> done) override {
        if (peer.uid == 0)
            return done(true, "");
        LocalAuthorizer a;
        {
            std::lock_guard lock(m_.mutex_);
            a = m_.authorizer_;
        }
        if (!a)
            return done(false, "polkit is not available; only root may use this socket");
        a(peer, verb, program, std::move(done));
    }

    int takeListenFd(std::string_view name) override {
        std::lock_guard lock(m_.mutex_);
        auto it = m_.listenFds_.find(std::string(name));
        if (it == m_.listenFds_.end() || it->second.empty())
            return -1;
        int fd = it->second.front();
        it->second.erase(it->second.begin());
        return fd;
    }

    std::string stateDirectory() override {
        std::string dir = scopevisor::stateDirectory(m_.stateDir_) + "/" + name_;
        std::error_code ec;
        fs::create_directories(dir, ec);
        return dir;
    }

    void startCommandScope(pid_t pid, std::string_view description,
                           std::function<void(std::string, std::string)> done) override {
        if (!m_.commandScopes_)
            return done({}, {});
        m_.commandScopes_->start(name_, pid, std::string(description), std::move(done));
    }

    void killCommandScope(const std::string& unit, std::function<void(std::string)> done) override {
        // An adapter kills only the scopes made for it, never a program's.
        if (!m_.commandScopes_ || !CommandScopes::belongsTo(unit, name_))
            return done("no scope " + unit + " of adapter " + name_);
        m_.commandScopes_->kill(unit, std::move(done));
    }

private:
    AdapterManager& m_;
    std::string name_;
    std::string defaultRole_;
};

AdapterManager::AdapterManager(const config::Config& cfg) : access_(cfg.access), stateDir_(cfg.daemon.stateDir) {}

AdapterManager::~AdapterManager() {
    stop();
    for (auto& e : entries_) {
        e->adapter.reset();
        if (e->handle)
            dlclose(e->handle);
    }
}

bool AdapterManager::load(const std::vector<AdapterPlan>& plans, std::string* error) {
    for (const auto& plan : plans) {
        auto e = std::make_unique<Entry>();
        e->plan = plan;
        std::string tried, lastError;
        for (const auto& path : adapterSearchPath(plan.name)) {
            tried += (tried.empty() ? "" : ", ") + path;
            if (!fs::exists(path))
                continue;
            e->handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
            if (!e->handle) {
                lastError = dlerror();
                continue;
            }
            auto entry = reinterpret_cast<const AdapterModule* (*)()>(dlsym(e->handle, "scopevisor_adapter_module"));
            if (!entry) {
                lastError = path + " is not a scopevisor adapter module (no scopevisor_adapter_module)";
                dlclose(e->handle);
                e->handle = nullptr;
                continue;
            }
            e->module = entry();
            if (!e->module || e->module->apiVersion != SCOPEVISOR_ADAPTER_API_VERSION) {
                lastError = path + " was built for adapter API version " +
                            std::to_string(e->module ? e->module->apiVersion : 0) + ", this daemon has version " +
                            std::to_string(SCOPEVISOR_ADAPTER_API_VERSION);
                dlclose(e->handle);
                e->handle = nullptr;
                e->module = nullptr;
                continue;
            }
            log::info("adapter " + plan.name + ": loaded " + path);
            break;
        }
        if (!e->module) {
            std::string msg = "adapter '" + plan.name + "': " +
                              (lastError.empty() ? "module not found (looked in " + tried + ")" : lastError);
            if (plan.required) {
                *error = msg;
                return false;
            }
            log::error(msg + "; running without it (required = no)");
            continue;
        }
        entries_.push_back(std::move(e));
    }
    return true;
}

config::GroupConfig AdapterManager::toGroup(const ImportedProgram& ip, const std::string& adapter) {
    config::ProcessConfig p;
    p.name = p.group = p.programName = ip.name;
    p.argv = ip.argv;
    for (const auto& a : ip.argv)
        p.command += (p.command.empty() ? "" : " ") + a;
    p.directory = ip.directory;
    p.autostart = ip.autostart;
    p.autorestart = ip.autorestart ? config::AutoRestart::True : config::AutoRestart::False;
    p.redirectStderr = ip.redirectStderr;
    p.environment = ip.environment;
    p.stdoutLog.isAuto = false;
    p.stdoutLog.path = ip.stdoutLogfile;
    p.stderrLog.isAuto = false;
    p.stderrLog.path = ip.stderrLogfile;
    if (ip.startsecs >= 0)
        p.startsecs = ip.startsecs;
    p.loc.file = ip.source.empty() ? adapter : ip.source;
    config::GroupConfig g;
    g.name = ip.name;
    g.priority = p.priority;
    g.loc = p.loc;
    g.processes.push_back(std::move(p));
    return g;
}

bool AdapterManager::importPrograms(std::vector<config::GroupConfig>* out, std::string* error) const {
    for (const auto& e : entries_) {
        if (!e->module->importPrograms)
            continue;
        std::vector<ImportedProgram> progs;
        std::string err;
        if (!e->module->importPrograms(e->plan.config, &progs, &err)) {
            *error = "adapter '" + e->plan.name + "': " + err;
            return false;
        }
        for (const auto& ip : progs) {
            // A name from a legacy file becomes a group, a unit name and a
            // line of the state file: it obeys the configuration's rules
            // (a tab or a newline would corrupt the state file).
            std::string why;
            try {
                if (config::detail::checkName(ip.name) != ip.name)
                    why = "leading or trailing white space";
            } catch (const std::invalid_argument& ex) {
                why = ex.what();
            }
            if (!why.empty()) {
                *error = "adapter '" + e->plan.name + "': " + (ip.source.empty() ? std::string() : ip.source + ": ") +
                         "imported program name '" + ip.name + "' refused: " + why;
                return false;
            }
            out->push_back(toGroup(ip, e->plan.name));
        }
    }
    return true;
}

std::string AdapterManager::serverUrl() const {
    for (const auto& e : entries_)
        if (e->module->serverUrl)
            if (std::string url = e->module->serverUrl(e->plan.config); !url.empty())
                return url;
    return "";
}

bool AdapterManager::start(Control& control, std::string* error) {
    control_ = &control;
    for (auto& e : entries_) {
        const AdapterSetting* dr = nullptr;
        for (const auto& s : e->plan.config.settings)
            if (s.key == "default_role")
                dr = &s;
        // No rights for identities [access] does not name, nor for anonymous
        // peers, unless the configuration says so in one explicit line: an
        // open control port is what an attacker looks for first.
        std::string defaultRole = dr ? dr->value : "";
        if (!defaultRole.empty() && !parseRole(defaultRole)) {
            *error = (dr ? dr->file + ":" + std::to_string(dr->line) + ": " : std::string()) + "adapter '" +
                     e->plan.name + "': default_role: invalid value '" + defaultRole +
                     "' (expected admin, operator, log-reader, viewer or empty)";
            return false;
        }
        log::info("adapter " + e->plan.name + ": identities not listed in [access] and anonymous peers get " +
                  (defaultRole.empty() ? std::string("no access (default_role is empty)")
                                       : "the role " + defaultRole + " (default_role)"));
        e->host = std::make_unique<HostImpl>(*this, e->plan.name, defaultRole);
        std::string err;
        Adapter* a = e->module->create(*e->host, e->plan.config, &err);
        if (a) {
            e->adapter.reset(a);
            if (a->start(&err)) {
                e->running = true;
                continue;
            }
        }
        std::string msg = "adapter '" + e->plan.name + "' failed: " + err;
        if (e->plan.required) {
            *error = msg;
            return false;
        }
        log::error(msg + "; running without it (required = no)");
        e->adapter.reset();
    }
    return true;
}

void AdapterManager::stop() {
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it)
        if ((*it)->running) {
            (*it)->adapter->stop();
            (*it)->running = false;
        }
}

void AdapterManager::setLocalAuthorizer(LocalAuthorizer a) {
    std::lock_guard lock(mutex_);
    authorizer_ = std::move(a);
}

void AdapterManager::takeSocketActivation() {
    char** names = nullptr;
    int n = sd_listen_fds_with_names(1, &names);
    if (n <= 0)
        return;
    std::lock_guard lock(mutex_);
    for (int i = 0; i < n; ++i) {
        std::string name = names && names[i] ? names[i] : "unknown";
        listenFds_[name].push_back(SD_LISTEN_FDS_START + i);
        free(names ? names[i] : nullptr);
    }
    free(names);
    log::info("socket activation: " + std::to_string(n) + " listening socket(s) from systemd");
}

} // namespace scopevisor
