// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The engine's loop on libsystemd's sd-event: timers, fds, signals, child
// exits (pidfds) and the D-Bus connection all live on this one loop, which is
// the only thread that touches program state.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include <systemd/sd-event.h>

#include "loop.h"

namespace scopevisor {

class SdEventLoop final : public Loop {
public:
    SdEventLoop();
    ~SdEventLoop() override;
    SdEventLoop(const SdEventLoop&) = delete;
    SdEventLoop& operator=(const SdEventLoop&) = delete;

    uint64_t now() const override;
    uint64_t realtime() const override;
    SourcePtr addTimer(uint64_t atUs, std::function<void()> fn) override;
    SourcePtr addIo(int fd, uint32_t events, std::function<void(uint32_t)> fn) override;
    void post(std::function<void()> fn) override;
    void defer(std::function<void()> fn) override;

    // Handle `sig` on the loop (the signal is blocked in every thread created
    // afterwards; call before starting threads).
    SourcePtr addSignal(int sig, std::function<void()> fn);

    // Run until exit() is called (on the loop thread); returns its code.
    int run();
    // Run until `pred` is true or `timeoutUs` passed (tests). Returns pred().
    bool runUntil(const std::function<bool()>& pred, uint64_t timeoutUs);
    void exit(int code);

    sd_event* raw() const noexcept { return ev_; }

private:
    static int onPosted(sd_event_source*, int, uint32_t, void* self);
    static int onDeferred(sd_event_source*, void* self);

    sd_event* ev_ = nullptr;
    bool exitRequested_ = false;
    int exitCode_ = 0;
    int postFd_ = -1;
    sd_event_source* postSource_ = nullptr;
    std::mutex postMutex_;
    std::vector<std::function<void()>> posted_;
    sd_event_source* deferSource_ = nullptr;
    std::vector<std::function<void()>> deferred_;
};

} // namespace scopevisor
