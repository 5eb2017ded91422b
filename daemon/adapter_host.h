// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Loading and hosting adapter modules (docs/architecture.md §7). The daemon loads a
// module only when the configuration enables it: [unix_http_server] or
// [inet_http_server] enable "xmlrpc", an [adapter:<name>] section enables
// <name> (unless it says enabled = no). Modules are found beside a daemon run
// from its build directory (<build>/adapters/<name>/<name>.so), else in the
// installed adapter directory.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config.h"
#include "scopevisor/adapter.h"

namespace scopevisor {

// How a local peer is authorized (polkit, from the D-Bus front end when a bus
// is there). Without one, only root is allowed: polkitd absent means refusal.
using LocalAuthorizer = std::function<void(const UnixPeer&, Verb, const std::string& program,
                                           std::function<void(bool, std::string)>)>;

struct AdapterPlan {
    std::string name;
    AdapterConfig config;
    bool required = true; // a failure stops the daemon (else: run without it)
};

// Which adapters the configuration enables, and their settings.
std::vector<AdapterPlan> planAdapters(const config::Config& cfg);

// Where a module is looked for, in order.
std::vector<std::string> adapterSearchPath(const std::string& name);

class LoadedModule;
class CommandScopes;

class AdapterManager {
public:
    explicit AdapterManager(const config::Config& cfg);
    ~AdapterManager();

    // Load every enabled module (no adapter started yet). Returns false with
    // *error set when a required module is missing or of another API version.
    bool load(const std::vector<AdapterPlan>& plans, std::string* error);
    // Programs the loaded modules import from their legacy configuration
    // files, as groups of the daemon's configuration.
    bool importPrograms(std::vector<config::GroupConfig>* out, std::string* error) const;
    // Create and start every adapter on `control`. Returns false (with
    // *error) when a required one fails; optional ones are logged and left out.
    bool start(Control& control, std::string* error);
    size_t loadedCount() const noexcept { return entries_.size(); }
    // SUPERVISOR_SERVER_URL for programs: the first URL a loaded module
    // reports for its server (AdapterModule::serverUrl), "" when none does.
    std::string serverUrl() const;
    // Stop every adapter, joining their threads. Safe to call twice.
    void stop();

    void setLocalAuthorizer(LocalAuthorizer a);
    // The listening sockets systemd passed (sd_listen_fds_with_names).
    void takeSocketActivation();
    // Where AdapterHost::startCommandScope makes its scopes; without it
    // (tests, before start) adapters get the direct backend's "no scope".
    // Must outlive the adapters.
    void setCommandScopes(CommandScopes* scopes) { commandScopes_ = scopes; }

    // Convert one imported program into a group of the configuration.
    static config::GroupConfig toGroup(const ImportedProgram& p, const std::string& adapter);

private:
    friend class HostImpl;
    struct Entry;
    Control* control_ = nullptr;
    // Only what the hosts need of the configuration, not a copy of all of it.
    std::vector<std::pair<std::string, std::string>> access_;
    std::string stateDir_;
    std::vector<std::unique_ptr<Entry>> entries_;
    std::mutex mutex_;
    LocalAuthorizer authorizer_;
    std::map<std::string, std::vector<int>> listenFds_;
    CommandScopes* commandScopes_ = nullptr;
};

} // namespace scopevisor
