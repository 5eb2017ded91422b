// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The D-Bus front end of the engine: org.scopevisor1 with the Manager object
// at /org/scopevisor1 and one Program object per program (docs/architecture.md §9). It
// sees the engine only through the Control API and its Listener, as every
// other protocol does, and runs on the engine's sd-event loop.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <systemd/sd-event.h>

#include "scopevisor/adapter.h"
#include "scopevisor/control.h"

namespace scopevisor::dbus {

constexpr const char* kBusName = "org.scopevisor1";
constexpr const char* kManagerPath = "/org/scopevisor1";
constexpr const char* kProgramPathPrefix = "/org/scopevisor1/program";

struct FrontendOptions {
    // The session bus instead of the system bus. Callers are then not
    // checked with polkit: only the bus's owner (and root) can connect.
    bool sessionBus = false;
    std::function<void(LogLevel, std::string_view)> log;
};

class Frontend {
public:
    virtual ~Frontend() = default;

    // Connect to the bus and publish the API; the bus name is requested as
    // soon as the objects of every program are in place, on the loop. Returns
    // nullptr with *error set when the bus cannot be reached.
    static std::unique_ptr<Frontend> start(sd_event* ev, Control& control, FrontendOptions opts,
                                           std::string* error);

    // Authorize a peer of an adapter's unix socket with polkit (a
    // unix-process subject; startTicks: field 22 of its /proc/<pid>/stat), for `verb` on `program` (any spelling of its
    // namespec; polkit gets the canonical one and its group). Call on the
    // loop thread; `done` runs there.
    virtual void authorizeProcess(const UnixPeer& peer, uint64_t startTicks, Verb verb, const std::string& program,
                                  std::function<void(bool allowed, std::string reason)> done) = 0;
};

// "/org/scopevisor1/program/<namespec escaped as sd_bus_path_encode does>".
std::string programPath(const std::string& namespec);

} // namespace scopevisor::dbus
