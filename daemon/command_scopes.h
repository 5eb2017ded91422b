// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Transient scopes for processes that adapters fork themselves (Steward's
// REQCliCommand and friends): the daemon side of
// AdapterHost::startCommandScope / killCommandScope.
//
// The calls come from adapter threads, but systemd is reached through the
// backend's SystemdManager, which lives on the engine's loop thread. Each
// call is posted to the loop and answered from the manager's callback, so
// there is one connection to PID 1 and one copy of the StartTransientUnit /
// JobRemoved code; a second connection would need its own thread or loop
// and its own job tracking. The loop only sends and dispatches; the adapter
// thread is the one that waits.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <sys/types.h>

namespace scopevisor {

class Loop;
class SystemdManager;

class CommandScopes {
public:
    using StartDone = std::function<void(std::string unit, std::string error)>;
    using StopDone = std::function<void(std::string error)>;

    // `manager` null: the direct backend, no scopes (start answers "", "").
    CommandScopes(Loop& loop, SystemdManager* manager);

    // The unit name for a process `pid` of `adapter`, made at monotonic time
    // `nowUs`: "scopevisor-<escaped adapter>-<pid>-<nowUs>.scope". A pid and
    // a time are unique within a boot, so a scope whose command left a
    // process behind never blocks the name of a later one.
    static std::string unitName(const std::string& adapter, pid_t pid, uint64_t nowUs);
    // Whether `unit` is one that unitName() made for `adapter`.
    static bool belongsTo(const std::string& unit, const std::string& adapter);

    // Thread-safe. `done` runs once on the loop thread (or inside the call
    // when there are no scopes).
    void start(const std::string& adapter, pid_t pid, const std::string& description, StartDone done);
    // SIGKILL to every process of the scope, then wait until it is gone.
    void kill(const std::string& unit, StopDone done);

private:
    Loop& loop_;
    SystemdManager* mgr_;
};

} // namespace scopevisor
