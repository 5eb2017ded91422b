// SPDX-License-Identifier: LGPL-2.1-or-later
#include "signal_queue.h"

#include <stdexcept>
#include <system_error>

#include <sdbus-c++/Error.h>

namespace scopevisor::dbus {
namespace {

// About a millisecond of work per turn of the loop.
constexpr size_t kBatch = 32;

} // namespace

SignalQueue::SignalQueue(sd_event* ev, std::function<bool()> backedUp) : backedUp_(std::move(backedUp)) {
    int r = sd_event_add_defer(ev, &source_, &SignalQueue::onDefer, this);
    if (r < 0)
        throw std::system_error(-r, std::generic_category(), "sd_event_add_defer");
    sd_event_source_set_enabled(source_, SD_EVENT_OFF);
    // A defer source stays pending while enabled and keeps its place in the
    // queue, so at the same priority it would go first on every turn: one
    // step below normal lets incoming calls (and the engine's own events)
    // be handled between two batches.
    sd_event_source_set_priority(source_, SD_EVENT_PRIORITY_NORMAL + 1);
    sd_event_source_set_description(source_, "dbus-signals");
}

SignalQueue::~SignalQueue() { sd_event_source_disable_unref(source_); }

void SignalQueue::push(sdbus::Signal s) {
    queue_.push_back(std::move(s));
    arm();
}

void SignalQueue::resume() {
    if (!queue_.empty())
        arm();
}

// The defer source runs on every turn while it is on: off while the
// connection is backed up, so that the loop sleeps until the bus reads.
void SignalQueue::arm() {
    const bool go = !queue_.empty() && !(backedUp_ && backedUp_());
    sd_event_source_set_enabled(source_, go ? SD_EVENT_ON : SD_EVENT_OFF);
}

void SignalQueue::flush() { send(queue_.size(), true); }

int SignalQueue::onDefer(sd_event_source*, void* self) {
    static_cast<SignalQueue*>(self)->send(kBatch, false);
    return 0;
}

void SignalQueue::send(size_t max, bool force) {
    for (size_t i = 0; i < max && !queue_.empty(); ++i) {
        if (!force && backedUp_ && backedUp_())
            break; // resume() goes on once the bus has read what we sent
        sdbus::Signal s = std::move(queue_.front());
        queue_.pop_front();
        try {
            s.send();
        } catch (const sdbus::Error&) {
            // The connection is failing; BusLoop reports it.
        }
    }
    arm();
}

} // namespace scopevisor::dbus
