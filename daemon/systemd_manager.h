// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The seam between the systemd backend and systemd's D-Bus API.
//
// SystemdBackend only needs three things from the service manager: create a
// transient scope for a pid and learn when its start job has finished, signal
// every process of a unit, and stop a unit. This interface is exactly that,
// so the backend's logic (holding the child, one scope per name at a time,
// failures) is tested against a fake (tests/unit/test_systemd_backend.cpp),
// and connectSystemdManager() provides the real one: raw asynchronous sd-bus
// calls on the engine's sd-event loop, so many jobs are in flight at once and
// the loop never waits for PID 1.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <sys/types.h>

namespace scopevisor {

class SdEventLoop;

// One property of StartTransientUnit's a(sv): the D-Bus type follows the
// alternative (b, i, u, t, s, as).
struct UnitProperty {
    std::string name;
    std::variant<bool, int32_t, uint32_t, uint64_t, std::string, std::vector<std::string>> value;
    bool operator==(const UnitProperty&) const = default;
};

struct ScopeRequest {
    std::string unit;        // "scopevisor-x.scope"
    pid_t pid = 0;           // goes into PIDs=
    std::vector<UnitProperty> properties; // Description, Slice, kill and resource settings
};

class SystemdManager {
public:
    // "" on success, else why (systemd's error message or the job's result).
    using Done = std::function<void(const std::string& error)>;

    virtual ~SystemdManager() = default;

    // StartTransientUnit(unit, "fail", properties + PIDs=[pid]) and wait for
    // the job (JobRemoved). `done` runs once on the loop thread, never from
    // inside this call.
    virtual void startScope(const ScopeRequest& req, Done done) = 0;
    // KillUnit(unit, "all", sig): every process of the unit. Asynchronous;
    // a failure is only logged (the unit may already be gone).
    virtual void killUnit(const std::string& unit, int sig) = 0;
    // StopUnit(unit, "replace") and wait for the job; a unit that is not
    // loaded any more counts as stopped. `done` runs once on the loop
    // thread, never from inside this call.
    virtual void stopUnit(const std::string& unit, Done done) = 0;
    // For the log: which manager, over which connection.
    virtual std::string describe() const = 0;
};

// Connect to the system manager (`user` false: as root over
// /run/systemd/private, the manager's own socket, else over the system bus)
// or to the calling user's manager (`user` true: over the session bus).
// Returns nullptr with `why` set when no manager answers.
std::unique_ptr<SystemdManager> connectSystemdManager(SdEventLoop& loop, bool user, std::string* why);

} // namespace scopevisor
