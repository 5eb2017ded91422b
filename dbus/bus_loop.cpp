// SPDX-License-Identifier: LGPL-2.1-or-later
#include "bus_loop.h"

#include <cstdint>
#include <stdexcept>
#include <system_error>

#include <sdbus-c++/sdbus-c++.h>
#include <sys/epoll.h>

namespace scopevisor::dbus {
namespace {

// Messages handled per wake-up before other sources get their turn: enough
// to drain a burst quickly, few enough that engine events are not starved.
constexpr int kBatch = 64;

void check(int r, const char* what) {
    if (r < 0)
        throw std::system_error(-r, std::generic_category(), what);
}

} // namespace

BusLoop::BusLoop(sd_event* ev, sdbus::IConnection& conn, std::function<void(const std::string&)> onLost)
    : conn_(conn), onLost_(std::move(onLost)) {
    auto pd = conn_.getEventLoopPollData();
    check(sd_event_add_io(ev, &io_, pd.fd, uint32_t(pd.events), &BusLoop::onIo, this), "sd_event_add_io");
    check(sd_event_source_set_prepare(io_, &BusLoop::onPrepare), "sd_event_source_set_prepare");
    check(sd_event_add_time(ev, &time_, CLOCK_MONOTONIC, 0, 0, &BusLoop::onTime, this), "sd_event_add_time");
    sd_event_source_set_enabled(time_, SD_EVENT_OFF);
    // Callers first: at the engine's priority a call that arrives while a
    // thousand child exits are pending would wait for every one of them
    // (sd-event runs the older of two pending sources of one priority
    // first). One step above, it waits at most for the event being
    // handled; the engine still runs between two reads of the socket, and
    // kBatch bounds what one read may take.
    sd_event_source_set_priority(io_, SD_EVENT_PRIORITY_NORMAL - 1);
    sd_event_source_set_priority(time_, SD_EVENT_PRIORITY_NORMAL - 1);
    sd_event_source_set_description(io_, "dbus-io");
    sd_event_source_set_description(time_, "dbus-timeout");
}

BusLoop::~BusLoop() {
    sd_event_source_disable_unref(io_);
    sd_event_source_disable_unref(time_);
}

int BusLoop::onIo(sd_event_source*, int, uint32_t, void* self) {
    static_cast<BusLoop*>(self)->dispatch();
    return 0;
}

int BusLoop::onTime(sd_event_source*, uint64_t, void* self) {
    static_cast<BusLoop*>(self)->dispatch();
    return 0;
}

// Before every poll: wait for what sd-bus wants now (POLLOUT only while
// its write queue is not empty) and wake at its next timeout, which is 0
// when messages are already queued in memory (read during a synchronous
// call, say) and the fd alone would not tell.
int BusLoop::onPrepare(sd_event_source*, void* self) {
    auto* b = static_cast<BusLoop*>(self);
    if (b->failed_)
        return 0;
    try {
        auto pd = b->conn_.getEventLoopPollData();
        // poll(2) and epoll(7) share the values of IN/OUT/ERR/HUP.
        sd_event_source_set_io_events(b->io_, uint32_t(uint16_t(pd.events)));
        if (pd.timeout_usec == UINT64_MAX) {
            sd_event_source_set_enabled(b->time_, SD_EVENT_OFF);
        } else {
            sd_event_source_set_time(b->time_, pd.timeout_usec);
            sd_event_source_set_enabled(b->time_, SD_EVENT_ONESHOT);
        }
    } catch (const std::exception& e) {
        b->fail(e.what());
        return 0;
    }
    if (b->onPrepare_)
        b->onPrepare_();
    return 0;
}

void BusLoop::dispatch() {
    if (failed_)
        return;
    try {
        for (int i = 0; i < kBatch; ++i)
            if (!conn_.processPendingRequest())
                break;
    } catch (const std::exception& e) {
        fail(e.what());
    }
}

void BusLoop::fail(const std::string& why) {
    failed_ = true;
    sd_event_source_set_enabled(io_, SD_EVENT_OFF);
    sd_event_source_set_enabled(time_, SD_EVENT_OFF);
    if (onLost_)
        onLost_(why);
}

} // namespace scopevisor::dbus
