// SPDX-License-Identifier: LGPL-2.1-or-later
#include "command_scopes.h"

#include <csignal>

#include "config.h"
#include "loop.h"
#include "systemd_backend.h"
#include "systemd_manager.h"
#include "unit_name.h"

namespace scopevisor {
namespace {

// A program's scope properties (slice, collection, kill settings), with
// SIGKILL as the stop signal: a command is only ever stopped because its
// time is up, and then nothing of it may linger.
std::vector<UnitProperty> commandScopeProperties(const std::string& description) {
    config::ProcessConfig c;
    c.stopsignal = SIGKILL;
    std::vector<UnitProperty> props = scopeProperties(description, &c);
    for (auto& p : props)
        if (p.name == "Description")
            p.value = description;
    return props;
}

} // namespace

CommandScopes::CommandScopes(Loop& loop, SystemdManager* manager) : loop_(loop), mgr_(manager) {}

std::string CommandScopes::unitName(const std::string& adapter, pid_t pid, uint64_t nowUs) {
    return std::string(kScopePrefix) + systemdEscape(adapter) + "-" + std::to_string(pid) + "-" +
           std::to_string(nowUs) + std::string(kScopeSuffix);
}

bool CommandScopes::belongsTo(const std::string& unit, const std::string& adapter) {
    const std::string prefix = std::string(kScopePrefix) + systemdEscape(adapter) + "-";
    return unit.size() > prefix.size() + kScopeSuffix.size() && unit.starts_with(prefix) &&
           unit.ends_with(kScopeSuffix) && unit.find('/') == std::string::npos;
}

void CommandScopes::start(const std::string& adapter, pid_t pid, const std::string& description, StartDone done) {
    if (!mgr_) {
        done({}, {});
        return;
    }
    // The manager (and the loop's clock) belong to the loop thread.
    loop_.post([loop = &loop_, mgr = mgr_, adapter, pid, description, done = std::move(done)]() mutable {
        ScopeRequest req{unitName(adapter, pid, loop->now()), pid, commandScopeProperties(description)};
        mgr->startScope(req, [unit = req.unit, done = std::move(done)](const std::string& error) {
            if (error.empty())
                done(unit, {});
            else
                done({}, "couldn't create scope " + unit + ": " + error);
        });
    });
}

void CommandScopes::kill(const std::string& unit, StopDone done) {
    if (!mgr_) {
        done("no scope " + unit + " (the direct backend makes none)");
        return;
    }
    // KillSignal=SIGKILL: the stop job kills every process of the scope and
    // ends once the scope's cgroup is empty.
    loop_.post([mgr = mgr_, unit, done = std::move(done)]() mutable {
        mgr->stopUnit(unit, [unit, done = std::move(done)](const std::string& error) {
            done(error.empty() ? std::string() : "couldn't stop scope " + unit + ": " + error);
        });
    });
}

} // namespace scopevisor
