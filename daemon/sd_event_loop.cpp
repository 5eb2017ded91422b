// SPDX-License-Identifier: LGPL-2.1-or-later
#include "sd_event_loop.h"

#include <algorithm>
#include <csignal>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>

#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

namespace scopevisor {
namespace {

void check(int r, const char* what) {
    if (r < 0)
        throw std::system_error(-r, std::generic_category(), what);
}

// One sd_event_source and the callback it runs. The callback is held through a
// shared_ptr so that a callback which destroys its own Source (a common thing:
// a timer that resets itself) keeps running on a live function object.
template <typename Fn>
class SdSource final : public Source {
public:
    explicit SdSource(Fn fn) : fn_(std::make_shared<Fn>(std::move(fn))) {}
    ~SdSource() override {
        if (src_)
            sd_event_source_disable_unref(src_);
    }
    std::shared_ptr<Fn> fn_;
    sd_event_source* src_ = nullptr;
};

using TimerSource = SdSource<std::function<void()>>;
using IoSource = SdSource<std::function<void(uint32_t)>>;

int onTimer(sd_event_source*, uint64_t, void* userdata) {
    auto fn = static_cast<TimerSource*>(userdata)->fn_; // keep alive, see SdSource
    (*fn)();
    return 0;
}

int onIo(sd_event_source*, int, uint32_t revents, void* userdata) {
    auto fn = static_cast<IoSource*>(userdata)->fn_;
    (*fn)(revents);
    return 0;
}

int onSignal(sd_event_source*, const struct signalfd_siginfo*, void* userdata) {
    auto fn = static_cast<TimerSource*>(userdata)->fn_;
    (*fn)();
    return 0;
}

uint64_t clockUs(clockid_t id) {
    struct timespec ts {};
    clock_gettime(id, &ts);
    return uint64_t(ts.tv_sec) * 1000000u + uint64_t(ts.tv_nsec) / 1000u;
}

} // namespace

SdEventLoop::SdEventLoop() {
    check(sd_event_new(&ev_), "sd_event_new");
    postFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (postFd_ < 0)
        throw std::system_error(errno, std::generic_category(), "eventfd");
    check(sd_event_add_io(ev_, &postSource_, postFd_, EPOLLIN, &SdEventLoop::onPosted, this),
          "sd_event_add_io");
    // Deferred work runs after everything else that is pending.
    check(sd_event_add_defer(ev_, &deferSource_, &SdEventLoop::onDeferred, this), "sd_event_add_defer");
    sd_event_source_set_priority(deferSource_, SD_EVENT_PRIORITY_IDLE);
    sd_event_source_set_enabled(deferSource_, SD_EVENT_OFF);
}

SdEventLoop::~SdEventLoop() {
    sd_event_source_disable_unref(postSource_);
    sd_event_source_disable_unref(deferSource_);
    if (postFd_ >= 0)
        close(postFd_);
    sd_event_unref(ev_);
}

uint64_t SdEventLoop::now() const { return clockUs(CLOCK_MONOTONIC); }
uint64_t SdEventLoop::realtime() const { return clockUs(CLOCK_REALTIME); }

SourcePtr SdEventLoop::addTimer(uint64_t atUs, std::function<void()> fn) {
    auto s = std::make_unique<TimerSource>(std::move(fn));
    // An explicit accuracy: sd-event's default (250 ms) would blur startsecs.
    check(sd_event_add_time(ev_, &s->src_, CLOCK_MONOTONIC, atUs, 1000, onTimer, s.get()),
          "sd_event_add_time");
    return s;
}

SourcePtr SdEventLoop::addIo(int fd, uint32_t events, std::function<void(uint32_t)> fn) {
    auto s = std::make_unique<IoSource>(std::move(fn));
    check(sd_event_add_io(ev_, &s->src_, fd, events, onIo, s.get()), "sd_event_add_io");
    return s;
}

SourcePtr SdEventLoop::addSignal(int sig, std::function<void()> fn) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    auto s = std::make_unique<TimerSource>(std::move(fn));
    check(sd_event_add_signal(ev_, &s->src_, sig, onSignal, s.get()), "sd_event_add_signal");
    return s;
}

void SdEventLoop::post(std::function<void()> fn) {
    {
        std::lock_guard lock(postMutex_);
        posted_.push_back(std::move(fn));
    }
    uint64_t one = 1;
    // EAGAIN only when the counter is saturated: the loop will wake anyway.
    (void)!write(postFd_, &one, sizeof one);
}

int SdEventLoop::onPosted(sd_event_source*, int, uint32_t, void* self) {
    auto* l = static_cast<SdEventLoop*>(self);
    uint64_t n;
    (void)!read(l->postFd_, &n, sizeof n);
    std::vector<std::function<void()>> batch;
    {
        std::lock_guard lock(l->postMutex_);
        batch.swap(l->posted_);
    }
    for (auto& fn : batch)
        fn();
    return 0;
}

void SdEventLoop::defer(std::function<void()> fn) {
    deferred_.push_back(std::move(fn));
    sd_event_source_set_enabled(deferSource_, SD_EVENT_ONESHOT);
}

int SdEventLoop::onDeferred(sd_event_source*, void* self) {
    auto* l = static_cast<SdEventLoop*>(self);
    std::vector<std::function<void()>> batch;
    batch.swap(l->deferred_);
    for (auto& fn : batch)
        fn();
    return 0;
}

// Not sd_event_loop()/sd_event_exit(): a finished sd_event cannot run again,
// and the daemon keeps turning the loop after the engine is done, while the
// adapters shut down.
int SdEventLoop::run() {
    exitRequested_ = false;
    while (!exitRequested_) {
        int r = sd_event_run(ev_, UINT64_MAX);
        if (r < 0)
            return r;
    }
    return exitCode_;
}

bool SdEventLoop::runUntil(const std::function<bool()>& pred, uint64_t timeoutUs) {
    const uint64_t deadline = now() + timeoutUs;
    while (!pred()) {
        uint64_t t = now();
        if (t >= deadline)
            return pred();
        // Short slices: `pred` may turn true without any event of ours
        // (a file another process writes).
        int r = sd_event_run(ev_, std::min<uint64_t>(deadline - t, 10000));
        if (r < 0)
            return pred();
    }
    return true;
}

void SdEventLoop::exit(int code) {
    exitCode_ = code;
    exitRequested_ = true;
}

} // namespace scopevisor
