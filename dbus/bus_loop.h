// SPDX-License-Identifier: LGPL-2.1-or-later
//
// An sdbus-c++ connection driven by the engine's sd-event loop, so that
// D-Bus calls, replies and signals are handled on the one thread that owns
// all program state (docs/architecture.md §1). sdbus-c++ 1.2.0 offers
// getEventLoopPollData() and processPendingRequest() for this; the fd, the
// events and the timeout change as messages are queued, so they are
// refreshed in a prepare callback before every poll, as sd_bus_attach_event()
// does for a raw sd-bus connection.
#pragma once

#include <functional>
#include <string>

#include <systemd/sd-event.h>

namespace sdbus {
class IConnection;
}

namespace scopevisor::dbus {

class BusLoop {
public:
    // `onLost` runs once when the connection fails (the bus went away);
    // the sources are disabled by then.
    BusLoop(sd_event* ev, sdbus::IConnection& conn, std::function<void(const std::string&)> onLost);
    ~BusLoop();
    BusLoop(const BusLoop&) = delete;
    BusLoop& operator=(const BusLoop&) = delete;

    // Called before every poll, after the poll data was refreshed.
    void setOnPrepare(std::function<void()> fn) { onPrepare_ = std::move(fn); }

private:
    static int onIo(sd_event_source*, int, uint32_t, void* self);
    static int onTime(sd_event_source*, uint64_t, void* self);
    static int onPrepare(sd_event_source*, void* self);
    void dispatch();
    void fail(const std::string& why);

    sdbus::IConnection& conn_;
    std::function<void(const std::string&)> onLost_;
    sd_event_source* io_ = nullptr;
    sd_event_source* time_ = nullptr;
    bool failed_ = false;
    std::function<void()> onPrepare_;
};

} // namespace scopevisor::dbus
