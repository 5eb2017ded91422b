// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The event loop seam. The engine only sees this interface: the daemon runs
// it on sd-event (sd_event_loop.cpp), the state-machine tests on a fake clock
// (tests/unit/fake_loop.h). Everything but post() is called on the loop's
// own thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace scopevisor {

// A registered event source; destroying it unregisters it.
class Source {
public:
    virtual ~Source() = default;
};
using SourcePtr = std::unique_ptr<Source>;

class Loop {
public:
    virtual ~Loop() = default;

    // CLOCK_MONOTONIC and CLOCK_REALTIME in microseconds.
    virtual uint64_t now() const = 0;
    virtual uint64_t realtime() const = 0;

    // Call `fn` once at monotonic time `atUs`.
    virtual SourcePtr addTimer(uint64_t atUs, std::function<void()> fn) = 0;
    // Call `fn(revents)` whenever `fd` is ready for `events` (EPOLLIN, ...).
    virtual SourcePtr addIo(int fd, uint32_t events, std::function<void(uint32_t)> fn) = 0;
    // Run `fn` on the loop thread soon. Thread-safe.
    virtual void post(std::function<void()> fn) = 0;
    // Run `fn` on the loop thread once the current dispatch has finished
    // (used to batch work: called after every pending event was handled).
    virtual void defer(std::function<void()> fn) = 0;
};

} // namespace scopevisor
