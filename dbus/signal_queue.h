// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Signals built when a change happens and sent a batch at a time from the
// loop. Starting or stopping a thousand programs changes a thousand states
// in one turn of the loop; sending their two thousand signals there and
// then would hold up every method call behind them. Built at once, each
// signal carries the values of its moment (a later change cannot leak into
// an earlier signal); sent in small batches between the loop's other
// events, they leave room for replies. While the bus is slow to take what
// was sent (sd-bus queues it in memory), no more are sent: a reply goes
// behind whatever is queued, so the queue is kept short for it.
#pragma once

#include <deque>
#include <functional>

#include <sdbus-c++/Message.h>
#include <systemd/sd-event.h>

namespace scopevisor::dbus {

class SignalQueue {
public:
    // `backedUp` tells whether the connection still holds unsent messages.
    SignalQueue(sd_event* ev, std::function<bool()> backedUp);
    ~SignalQueue();
    SignalQueue(const SignalQueue&) = delete;
    SignalQueue& operator=(const SignalQueue&) = delete;

    void push(sdbus::Signal s);
    // Send everything queued now (before a signal that must follow them).
    void flush();
    // Drop what is queued (the connection is gone).
    void clear() { queue_.clear(); }
    // Go on sending if the connection has caught up (before every poll).
    void resume();

private:
    static int onDefer(sd_event_source*, void* self);
    // Up to `max` signals; unless `force`, none while the bus is behind.
    void send(size_t max, bool force);

    void arm();

    std::function<bool()> backedUp_;
    sd_event_source* source_ = nullptr;
    std::deque<sdbus::Signal> queue_;
};

} // namespace scopevisor::dbus
