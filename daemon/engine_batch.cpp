// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Operations on many programs: a batch per loop turn, so that the engine
// answers other callers while a thousand programs start or stop, and one
// result per program once every deferred one is in.
#include "engine.h"

namespace scopevisor {

// Between two batches of stops (doMulti).
constexpr uint64_t kStopPauseUs = 3000;

void Engine::forEachBatched(std::vector<std::string> names, std::function<void(size_t, Program*)> fn,
                            std::function<void()> then, uint64_t pauseUs) {
    // Starting a thousand programs takes the loop a second or more: do it a
    // batch per loop turn, so that other callers are answered in between.
    // A batch ends after about a millisecond of work, however long each
    // program takes (spawns cost from tens of µs to a few hundred, more on
    // a busy machine), and after at most kMaxBatch programs.
    // Names, not pointers: a reload may remove programs between two turns.
    constexpr size_t kMaxBatch = 32;
    constexpr uint64_t kBudgetUs = 1000;
    auto step = std::make_shared<std::function<void(size_t)>>();
    auto pause = std::make_shared<SourcePtr>(); // the timer of a pause, once it has fired
    *step = [this, names = std::move(names), fn = std::move(fn), then = std::move(then), step, pause,
             pauseUs](size_t from) {
        pause->reset();
        const uint64_t t0 = loop_.now();
        size_t to = from;
        while (to < names.size() && to - from < kMaxBatch) {
            fn(to, findProgram(names[to]));
            ++to;
            if (loop_.now() - t0 >= kBudgetUs)
                break;
        }
        if (to < names.size()) {
            if (pauseUs) // posted from the timer, so that its source is not freed in its own callback
                *pause = loop_.addTimer(loop_.now() + pauseUs,
                                        [this, step, to] { loop_.post([step, to] { (*step)(to); }); });
            else
                loop_.post([step, to] { (*step)(to); });
            return;
        }
        auto finish = std::move(then);
        *step = nullptr; // the function held itself; let it go
        if (finish)
            finish();
    };
    (*step)(0);
}

void Engine::doMulti(std::vector<Program*> targets, bool isStart, bool wait, Callback<MultiResult> done) {
    // Collect one result per target; reply when every deferred one is in.
    struct Pending {
        MultiResult results;
        size_t outstanding = 0;
        Callback<MultiResult> done;
    };
    auto pending = std::make_shared<Pending>();
    pending->done = std::move(done);
    pending->results.reserve(targets.size());
    std::vector<std::string> names;
    for (auto* p : targets) {
        pending->results.push_back(resultFor(*p));
        names.push_back(p->namespec());
    }
    pending->outstanding = targets.size() + 1;
    auto finishOne = [pending](size_t i, Status st) {
        if (!st && i < pending->results.size())
            pending->results[i].error = st.error();
        if (--pending->outstanding == 0)
            pending->done(std::move(pending->results));
    };
    forEachBatched(
        std::move(names),
        [this, finishOne, isStart, wait](size_t i, Program* p) {
            auto cb = [finishOne, i](Status st) { finishOne(i, std::move(st)); };
            if (!p)
                cb(Error{ErrorCode::NoSuchProgram, "removed while the operation ran"});
            else if (isStart)
                doStart(*p, wait, cb);
            else
                doStop(*p, wait, cb);
        },
        [finishOne] { finishOne(SIZE_MAX, okStatus()); }, // the +1 above: reply only after the last batch
        // A thousand programs told to stop within a few milliseconds all exit
        // at once: the kernel tears down their memory, the engine reaps them
        // and dbus-daemon routes their signals, all in the same 50 ms on two
        // CPUs, and every caller of the daemon (and of dbus-daemon) waited
        // 30 to 60 ms. A pause between batches of stops spreads that out;
        // a StopAll of 1000 takes about as long as before (tests/bench/README.md).
        isStart ? 0 : kStopPauseUs);
}

} // namespace scopevisor
