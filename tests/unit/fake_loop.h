// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A Loop with a fake clock: time moves only when the test says so, so the
// state machine's timing (startsecs, backoff, stopwaitsecs) is tested exactly
// and instantly.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "loop.h"

namespace scopevisor::test {

class FakeLoop final : public Loop {
public:
    uint64_t now() const override { return now_; }
    uint64_t realtime() const override { return 1700000000ull * 1000000 + now_; }

    SourcePtr addTimer(uint64_t atUs, std::function<void()> fn) override {
        auto alive = std::make_shared<bool>(true);
        timers_.emplace(atUs, Timer{alive, std::move(fn)});
        return std::make_unique<Handle>(alive);
    }
    SourcePtr addIo(int, uint32_t, std::function<void(uint32_t)>) override {
        return std::make_unique<Handle>(std::make_shared<bool>(true));
    }
    void post(std::function<void()> fn) override { posted_.push_back(std::move(fn)); }
    void defer(std::function<void()> fn) override { posted_.push_back(std::move(fn)); }

    // Run posted work until none is left.
    void runPending() {
        while (!posted_.empty()) {
            auto batch = std::move(posted_);
            posted_.clear();
            for (auto& fn : batch)
                fn();
        }
    }
    // Move the clock forward, firing every timer that falls due, in order.
    void advance(uint64_t us) {
        const uint64_t target = now_ + us;
        runPending();
        while (!timers_.empty() && timers_.begin()->first <= target) {
            auto it = timers_.begin();
            now_ = std::max(now_, it->first);
            Timer t = std::move(it->second);
            timers_.erase(it);
            if (*t.alive)
                t.fn();
            runPending();
        }
        now_ = target;
    }
    void advanceSeconds(double s) { advance(uint64_t(s * 1e6)); }
    size_t liveTimers() const {
        size_t n = 0;
        for (auto& [at, t] : timers_)
            n += *t.alive ? 1 : 0;
        return n;
    }

private:
    struct Handle final : Source {
        explicit Handle(std::shared_ptr<bool> a) : alive(std::move(a)) {}
        ~Handle() override { *alive = false; }
        std::shared_ptr<bool> alive;
    };
    struct Timer {
        std::shared_ptr<bool> alive;
        std::function<void()> fn;
    };
    uint64_t now_ = 1000000000; // not zero: "never started" is 0
    std::multimap<uint64_t, Timer> timers_;
    std::vector<std::function<void()>> posted_;
};

} // namespace scopevisor::test
