// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The supervisord state machine (docs/protocols/xmlrpc.md §3.3), every transition, on a fake
// clock and a fake backend.
#include <gtest/gtest.h>

#include <csignal>
#include <optional>

#include "engine.h"
#include "logging.h"
#include "fake_backend.h"
#include "fake_loop.h"

using namespace scopevisor;
using scopevisor::test::FakeBackend;
using scopevisor::test::FakeLoop;

namespace {

constexpr uint64_t kSec = 1000000;

config::ProcessConfig proc(const std::string& name, int priority = 999) {
    config::ProcessConfig p;
    p.name = name;
    p.group = name;
    p.programName = name;
    p.command = "/bin/sleep 1000";
    p.argv = {"/bin/sleep", "1000"};
    p.priority = priority;
    p.stdoutLog.isAuto = false;
    p.stderrLog.isAuto = false;
    return p;
}

config::GroupConfig group(config::ProcessConfig p) {
    config::GroupConfig g;
    g.name = p.group;
    g.priority = p.priority;
    g.processes.push_back(std::move(p));
    return g;
}

struct Recorder : Listener {
    std::vector<std::pair<std::string, std::string>> changes; // namespec, new state
    std::vector<ProgramInfo> spawned;
    void programSpawned(const ProgramInfo& i) override { spawned.push_back(i); }
    void programStateChanged(const ProgramInfo& i, ProcessState) override {
        changes.emplace_back(i.namespec, stateName(i.state));
    }
    std::vector<std::string> statesOf(const std::string& n) const {
        std::vector<std::string> v;
        for (auto& [ns, s] : changes)
            if (ns == n)
                v.push_back(s);
        return v;
    }
};

class StateMachine : public ::testing::Test {
protected:
    void make(std::vector<config::ProcessConfig> procs) {
        config::Config cfg;
        for (auto& p : procs)
            cfg.groups.push_back(group(p));
        makeWith(std::move(cfg));
    }
    void makeWith(config::Config cfg) {
        log::setLevel(log::Level::Error); // the transitions are asserted, not read
        EngineOptions o;
        o.version = "test";
        engine = std::make_unique<Engine>(loop, backend, std::move(cfg), o);
        engine->addListener(&rec);
        loop.runPending();
        engine->begin();
        loop.runPending();
    }
    ProcessState state(const std::string& n) { return engine->findProgram(n)->state(); }
    // Let time pass in small steps until the program is STARTING again.
    bool advanceUntilStarting(const std::string& n, double maxSeconds = 120) {
        for (int i = 0; i < int(maxSeconds * 10) && state(n) != ProcessState::Starting; ++i)
            loop.advance(kSec / 10);
        return state(n) == ProcessState::Starting;
    }
    ProgramInfo info(const std::string& n) { return engine->findProgram(n)->info(); }

    template <typename T, typename F>
    std::optional<T> call(F&& f) {
        std::optional<T> out;
        f([&](T v) { out.emplace(std::move(v)); });
        loop.runPending();
        return out;
    }

    FakeLoop loop;
    FakeBackend backend;
    Recorder rec;
    std::unique_ptr<Engine> engine;
};

TEST_F(StateMachine, AutostartGoesRunningStrictlyAfterStartsecs) {
    auto p = proc("a");
    p.startsecs = 2;
    make({p});
    EXPECT_EQ(state("a"), ProcessState::Starting);
    EXPECT_EQ(backend.spawnCount("a"), 1u);
    loop.advance(2 * kSec); // not yet: now - laststart must exceed startsecs
    EXPECT_EQ(state("a"), ProcessState::Starting);
    loop.advance(1);
    EXPECT_EQ(state("a"), ProcessState::Running);
    EXPECT_EQ(rec.statesOf("a"), (std::vector<std::string>{"STARTING", "RUNNING"}));
    EXPECT_NE(info("a").pid, 0);
    EXPECT_EQ(info("a").description.rfind("pid 1000, uptime 0:00:0", 0), 0u);
}

TEST_F(StateMachine, StartsecsZeroIsRunningAtOnce) {
    auto p = proc("a");
    p.startsecs = 0;
    make({p});
    EXPECT_EQ(state("a"), ProcessState::Running);
}

TEST_F(StateMachine, NoAutostartStaysStopped) {
    auto p = proc("a");
    p.autostart = false;
    make({p});
    EXPECT_EQ(state("a"), ProcessState::Stopped);
    EXPECT_EQ(info("a").description, "Not started");
    EXPECT_EQ(backend.spawnCount("a"), 0u);
}

TEST_F(StateMachine, CrashLoopEndsFatalAfterOnePlusStartretriesSpawns) {
    auto p = proc("a");
    p.startretries = 3;
    make({p});
    // Die young every time: 1 + startretries spawns, then FATAL.
    while (state("a") == ProcessState::Starting) {
        backend.exitCode(backend.pidOf("a"), 1);
        if (state("a") == ProcessState::Backoff) {
            ASSERT_TRUE(advanceUntilStarting("a"));
        }
    }
    EXPECT_EQ(state("a"), ProcessState::Fatal);
    loop.advance(100 * kSec);
    EXPECT_EQ(backend.spawnCount("a"), 4u);
    EXPECT_EQ(info("a").spawnError, "Exited too quickly (process log may have details)");
    EXPECT_EQ(info("a").description, "Exited too quickly (process log may have details)");
    EXPECT_EQ(info("a").exitStatus, 0);
}

TEST_F(StateMachine, StartretriesOneMatchesObservedSequence) {
    auto p = proc("a");
    p.startretries = 1;
    make({p});
    backend.exitCode(backend.pidOf("a"), 1);
    loop.advance(1 * kSec);
    backend.exitCode(backend.pidOf("a"), 1);
    loop.advance(5 * kSec);
    EXPECT_EQ(rec.statesOf("a"),
              (std::vector<std::string>{"STARTING", "BACKOFF", "STARTING", "BACKOFF", "FATAL"}));
}

TEST_F(StateMachine, BackoffDelaysAreLinear) {
    auto p = proc("a");
    p.startretries = 5;
    make({p});
    // Each retry waits 1 s, 2 s, 3 s... after the previous failure.
    for (int attempt = 1; attempt <= 3; ++attempt) {
        backend.exitCode(backend.pidOf("a"), 1);
        ASSERT_EQ(state("a"), ProcessState::Backoff);
        loop.advance(uint64_t(attempt) * kSec - 1);
        EXPECT_EQ(state("a"), ProcessState::Backoff) << "attempt " << attempt;
        loop.advance(1);
        EXPECT_EQ(state("a"), ProcessState::Starting) << "attempt " << attempt;
    }
}

TEST_F(StateMachine, InfiniteRetriesWithCapNeverGiveUp) {
    auto p = proc("a");
    p.startretriesInfinite = true;
    p.backoffMax = 5;
    make({p});
    for (int i = 0; i < 50; ++i) {
        ASSERT_EQ(state("a"), ProcessState::Starting) << i;
        backend.exitCode(backend.pidOf("a"), 1);
        ASSERT_EQ(state("a"), ProcessState::Backoff);
        const uint64_t t0 = loop.now();
        ASSERT_TRUE(advanceUntilStarting("a"));
        EXPECT_LE(loop.now() - t0, 5 * kSec) << "the delay exceeded backoff_max";
    }
    EXPECT_EQ(backend.spawnCount("a"), 51u);
}

TEST_F(StateMachine, BackoffResetsOnRunning) {
    auto p = proc("a");
    p.startretries = 1;
    make({p});
    backend.exitCode(backend.pidOf("a"), 1); // backoff 1
    loop.advance(1 * kSec);
    loop.advance(2 * kSec); // RUNNING: backoff reset
    ASSERT_EQ(state("a"), ProcessState::Running);
    p.autorestart = config::AutoRestart::True;
    backend.exitCode(backend.pidOf("a"), 1); // EXITED, restart (unexpected)
    ASSERT_EQ(state("a"), ProcessState::Starting);
    backend.exitCode(backend.pidOf("a"), 1); // backoff 1 again, not 2 -> not FATAL
    EXPECT_EQ(state("a"), ProcessState::Backoff);
}

TEST_F(StateMachine, SpawnFailureIsBackoffWithTheCause) {
    auto p = proc("a");
    p.startretries = 0;
    backend.failNext = 1;
    make({p});
    EXPECT_EQ(state("a"), ProcessState::Fatal);
    EXPECT_EQ(info("a").spawnError, "couldn't exec /bin/sleep: Permission denied");
    EXPECT_EQ(rec.statesOf("a"), (std::vector<std::string>{"STARTING", "BACKOFF", "FATAL"}));
}

TEST_F(StateMachine, AutorestartUnexpected) {
    auto p = proc("a");
    make({p});
    loop.advance(2 * kSec);
    backend.exitCode(backend.pidOf("a"), 0); // expected: stays EXITED
    EXPECT_EQ(state("a"), ProcessState::Exited);
    EXPECT_EQ(info("a").exitStatus, 0);
    EXPECT_EQ(info("a").spawnError, "");
    EXPECT_EQ(backend.spawnCount("a"), 1u);

    auto s = call<Status>([&](auto cb) { engine->start("a", false, cb); });
    ASSERT_TRUE(s && *s);
    loop.advance(2 * kSec);
    backend.exitCode(backend.pidOf("a"), 3); // unexpected: restarted at once
    EXPECT_EQ(state("a"), ProcessState::Starting);
    EXPECT_EQ(info("a").spawnError, "");
    auto v = rec.statesOf("a");
    EXPECT_EQ(v[v.size() - 2], "EXITED");
    EXPECT_EQ(backend.spawnCount("a"), 3u);
}

TEST_F(StateMachine, KilledBySignalIsExitStatusMinusOneAndUnexpected) {
    // "a" restarts (autorestart=unexpected), which spawns anew and resets its
    // exit status; "f" (autorestart=false) stays EXITED, so its status can be read.
    auto f = proc("f");
    f.autorestart = config::AutoRestart::False;
    make({proc("a"), f});
    loop.advance(2 * kSec);
    backend.exitSignal(backend.pidOf("a"), SIGHUP);
    backend.exitSignal(backend.pidOf("f"), SIGHUP);
    EXPECT_EQ(state("a"), ProcessState::Starting); // restarted: the exit was not expected
    auto v = rec.statesOf("a");
    ASSERT_GE(v.size(), 2u);
    EXPECT_EQ(v[v.size() - 2], "EXITED");
    EXPECT_EQ(state("f"), ProcessState::Exited);
    EXPECT_EQ(info("f").exitStatus, -1);
    EXPECT_EQ(info("f").spawnError, "Bad exit code -1");
}

TEST_F(StateMachine, AutorestartTrueAndFalse) {
    auto t = proc("t");
    t.autorestart = config::AutoRestart::True;
    auto f = proc("f");
    f.autorestart = config::AutoRestart::False;
    make({t, f});
    loop.advance(2 * kSec);
    backend.exitCode(backend.pidOf("t"), 0);
    backend.exitCode(backend.pidOf("f"), 9);
    EXPECT_EQ(state("t"), ProcessState::Starting);
    EXPECT_EQ(state("f"), ProcessState::Exited);
    EXPECT_EQ(info("f").exitStatus, 9);
    EXPECT_EQ(info("f").spawnError, "Bad exit code 9");
}

TEST_F(StateMachine, ExitAtExactlyStartsecsIsTooQuick) {
    auto p = proc("a");
    p.startsecs = 1;
    p.autorestart = config::AutoRestart::False;
    make({p});
    // Exit exactly when startsecs is over but before the RUNNING timer.
    loop.advance(kSec + 1 - 1);
    backend.exitCode(backend.pidOf("a"), 0);
    // now - laststart == startsecs: still "too quickly" by supervisord's rule
    EXPECT_EQ(state("a"), ProcessState::Backoff);
}

TEST_F(StateMachine, StopSendsStopsignalAndEndsStopped) {
    auto p = proc("a");
    p.stopsignal = SIGINT;
    make({p});
    loop.advance(2 * kSec);
    auto s = call<Status>([&](auto cb) { engine->stop("a", true, cb); });
    EXPECT_FALSE(s.has_value()); // deferred until stopped
    EXPECT_EQ(state("a"), ProcessState::Stopping);
    ASSERT_EQ(backend.kills.size(), 1u);
    EXPECT_EQ(backend.kills[0].sig, SIGINT);
    EXPECT_FALSE(backend.kills[0].tree);
    backend.deliverSignals();
    loop.runPending();
    EXPECT_EQ(state("a"), ProcessState::Stopped);
    EXPECT_EQ(info("a").exitStatus, -1);
    // The backend cleans up what is left of the program's tree.
    EXPECT_EQ(backend.cleanups.size(), 1u);
}

TEST_F(StateMachine, StopasgroupSignalsTheGroup) {
    auto p = proc("a");
    p.stopasgroup = p.killasgroup = true;
    make({p});
    loop.advance(2 * kSec);
    call<Status>([&](auto cb) { engine->stop("a", false, cb); });
    ASSERT_EQ(backend.kills.size(), 1u);
    EXPECT_TRUE(backend.kills[0].tree);
}

TEST_F(StateMachine, IgnoredStopsignalIsFollowedBySigkillAfterStopwaitsecs) {
    auto p = proc("a");
    p.stopwaitsecs = 3;
    make({p});
    backend.ignoredSignals = {SIGTERM};
    loop.advance(2 * kSec);
    std::optional<Status> reply;
    engine->stop("a", true, [&](Status s) { reply = s; });
    loop.runPending();
    loop.advance(3 * kSec - 1);
    EXPECT_EQ(backend.kills.size(), 1u);
    loop.advance(1);
    ASSERT_EQ(backend.kills.size(), 2u);
    EXPECT_EQ(backend.kills[1].sig, SIGKILL);
    EXPECT_TRUE(backend.kills[1].tree);
    EXPECT_EQ(state("a"), ProcessState::Stopping);
    EXPECT_FALSE(reply);
    backend.deliverSignals();
    loop.runPending();
    EXPECT_EQ(state("a"), ProcessState::Stopped);
    ASSERT_TRUE(reply);
    EXPECT_TRUE(*reply);
}

TEST_F(StateMachine, StopFromBackoffGoesStoppedWithoutSignal) {
    make({proc("a")});
    backend.exitCode(backend.pidOf("a"), 1);
    ASSERT_EQ(state("a"), ProcessState::Backoff);
    auto s = call<Status>([&](auto cb) { engine->stop("a", true, cb); });
    ASSERT_TRUE(s && *s);
    EXPECT_EQ(state("a"), ProcessState::Stopped);
    EXPECT_TRUE(backend.kills.empty());
    loop.advance(60 * kSec);
    EXPECT_EQ(backend.spawnCount("a"), 1u); // the backoff timer is gone
}

TEST_F(StateMachine, RequestErrors) {
    auto p = proc("a");
    p.autostart = false;
    make({p});
    auto s = call<Status>([&](auto cb) { engine->stop("a", true, cb); });
    ASSERT_TRUE(s);
    EXPECT_EQ(s->error().code, ErrorCode::NotRunning);
    s = call<Status>([&](auto cb) { engine->start("nosuch", true, cb); });
    EXPECT_EQ(s->error().code, ErrorCode::NoSuchProgram);
    s = call<Status>([&](auto cb) { engine->start("a", false, cb); });
    EXPECT_TRUE(*s);
    s = call<Status>([&](auto cb) { engine->start("a", false, cb); });
    EXPECT_EQ(s->error().code, ErrorCode::AlreadyStarted);
    s = call<Status>([&](auto cb) { engine->signal("a", 0, cb); });
    EXPECT_EQ(s->error().code, ErrorCode::BadSignal);
}

TEST_F(StateMachine, StartOfMissingCommandIsNoFile) {
    auto p = proc("a");
    p.autostart = false;
    p.argv = {"/nonexistent/binary"};
    make({p});
    auto s = call<Status>([&](auto cb) { engine->start("a", true, cb); });
    ASSERT_TRUE(s);
    EXPECT_EQ(s->error().code, ErrorCode::NoFile);
    EXPECT_EQ(state("a"), ProcessState::Stopped);
}

TEST_F(StateMachine, StartWaitRepliesOnRunningOrSpawnError) {
    auto good = proc("good");
    good.autostart = false;
    auto bad = proc("bad");
    bad.autostart = false;
    make({good, bad});
    std::optional<Status> g, b;
    engine->start("good", true, [&](Status s) { g = s; });
    engine->start("bad", true, [&](Status s) { b = s; });
    loop.runPending();
    EXPECT_FALSE(g);
    EXPECT_FALSE(b);
    backend.exitCode(backend.pidOf("bad"), 1);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->error().code, ErrorCode::SpawnFailed);
    loop.advance(2 * kSec);
    ASSERT_TRUE(g);
    EXPECT_TRUE(*g);
}

TEST_F(StateMachine, StartWhileStoppingIsANoOp) {
    auto p = proc("a");
    make({p});
    backend.exitOnSignal = false;
    loop.advance(2 * kSec);
    call<Status>([&](auto cb) { engine->stop("a", false, cb); });
    ASSERT_EQ(state("a"), ProcessState::Stopping);
    auto s = call<Status>([&](auto cb) { engine->start("a", false, cb); });
    EXPECT_TRUE(*s);
    s = call<Status>([&](auto cb) { engine->start("a", true, cb); });
    EXPECT_EQ(s->error().code, ErrorCode::AbnormalTermination);
    s = call<Status>([&](auto cb) { engine->stop("a", false, cb); });
    EXPECT_EQ(s->error().code, ErrorCode::NotRunning);
}

TEST_F(StateMachine, KillFailureIsUnknown) {
    make({proc("a")});
    loop.advance(2 * kSec);
    backend.killErrno = EPERM;
    auto s = call<Status>([&](auto cb) { engine->stop("a", false, cb); });
    EXPECT_EQ(s->error().code, ErrorCode::Failed);
    EXPECT_EQ(state("a"), ProcessState::Unknown);
    s = call<Status>([&](auto cb) { engine->start("a", false, cb); });
    EXPECT_EQ(s->error().code, ErrorCode::Failed);
}

TEST_F(StateMachine, PriorityOrdersStartAndReverseStop) {
    auto a = proc("a", 30), b = proc("b", 10), c = proc("c", 20);
    a.autostart = b.autostart = c.autostart = false;
    make({a, b, c});
    auto r = call<MultiResult>([&](auto cb) { engine->startAll(false, cb); });
    ASSERT_TRUE(r);
    ASSERT_EQ(backend.spawns.size(), 3u);
    EXPECT_EQ(backend.spawns[0].namespec, "b");
    EXPECT_EQ(backend.spawns[1].namespec, "c");
    EXPECT_EQ(backend.spawns[2].namespec, "a");
    loop.advance(2 * kSec);
    backend.exitOnSignal = false;
    r = call<MultiResult>([&](auto cb) { engine->stopAll(false, cb); });
    ASSERT_EQ(r->size(), 3u);
    EXPECT_EQ((*r)[0].namespec, "a");
    EXPECT_EQ((*r)[2].namespec, "b");
}

TEST_F(StateMachine, GroupStartWaitsForEveryMember) {
    config::Config cfg;
    config::GroupConfig g;
    g.name = "g";
    for (auto n : {"x", "y"}) {
        auto p = proc(n);
        p.group = "g";
        p.autostart = false;
        g.processes.push_back(p);
    }
    cfg.groups.push_back(g);
    makeWith(cfg);
    std::optional<Result<MultiResult>> r;
    engine->startGroup("g", true, [&](Result<MultiResult> v) { r = v; });
    loop.runPending();
    EXPECT_FALSE(r);
    backend.exitCode(backend.pidOf("g:y"), 1);
    EXPECT_FALSE(r);
    loop.advance(2 * kSec);
    ASSERT_TRUE(r && *r);
    ASSERT_EQ(r->value().size(), 2u);
    EXPECT_EQ(r->value()[0].error.code, ErrorCode::Ok);
    EXPECT_EQ(r->value()[1].error.code, ErrorCode::SpawnFailed);
    // Members of a [group:x] are only reachable as group:name.
    auto s = call<Status>([&](auto cb) { engine->stop("x", false, cb); });
    EXPECT_EQ(s->error().code, ErrorCode::NoSuchProgram);
    auto bad = call<Result<MultiResult>>([&](auto cb) { engine->startGroup("nosuch", true, cb); });
    EXPECT_EQ(bad->error().code, ErrorCode::NoSuchGroup);
}

TEST_F(StateMachine, ShutdownStopsGroupsInReversePriorityOneAtATime) {
    auto a = proc("a", 1), b = proc("b", 2);
    auto c = proc("c", 3);
    c.startretries = 5;
    make({a, b, c});
    loop.advance(2 * kSec);
    backend.exitCode(backend.pidOf("c"), 1); // c restarts...
    backend.exitCode(backend.pidOf("c"), 1); // ...and fails young: BACKOFF
    ASSERT_EQ(state("c"), ProcessState::Backoff);
    backend.exitOnSignal = false;
    bool done = false;
    engine->setOnShutdown([&] { done = true; });
    engine->requestShutdown();
    loop.runPending();
    EXPECT_EQ(state("c"), ProcessState::Fatal); // BACKOFF members give up
    EXPECT_EQ(state("b"), ProcessState::Stopping);
    EXPECT_EQ(state("a"), ProcessState::Running); // waits for b's group
    auto s = call<Status>([&](auto cb) { engine->start("a", false, cb); });
    EXPECT_EQ(s->error().code, ErrorCode::ShuttingDown);
    backend.exitCode(backend.pidOf("b"), 0);
    loop.runPending();
    EXPECT_EQ(state("b"), ProcessState::Stopped); // no restart while shutting down
    EXPECT_EQ(state("a"), ProcessState::Stopping);
    EXPECT_FALSE(done);
    backend.exitCode(backend.pidOf("a"), 0);
    loop.runPending();
    EXPECT_TRUE(done);
    loop.advance(100 * kSec);
    EXPECT_EQ(backend.spawnCount("c"), 2u); // FATAL: no retry after the shutdown began
}

TEST_F(StateMachine, RestartStopsThenStarts) {
    make({proc("a")});
    loop.advance(2 * kSec);
    pid_t first = backend.pidOf("a");
    std::optional<Status> r;
    engine->restart("a", true, [&](Status s) { r = s; });
    loop.runPending();
    backend.deliverSignals();
    loop.runPending();
    EXPECT_NE(backend.pidOf("a"), first);
    EXPECT_FALSE(r);
    loop.advance(2 * kSec);
    ASSERT_TRUE(r);
    EXPECT_TRUE(*r);
}

TEST_F(StateMachine, SignalGoesToThePidOnly) {
    make({proc("a")});
    loop.advance(2 * kSec);
    backend.exitOnSignal = false;
    auto s = call<Status>([&](auto cb) { engine->signal("a", SIGUSR1, cb); });
    EXPECT_TRUE(*s);
    ASSERT_EQ(backend.kills.size(), 1u);
    EXPECT_EQ(backend.kills[0].sig, SIGUSR1);
    EXPECT_FALSE(backend.kills[0].tree);
    EXPECT_EQ(state("a"), ProcessState::Running);
}

TEST_F(StateMachine, AddAndRemoveGroup) {
    make({proc("a")});
    auto s = call<Status>([&](auto cb) { engine->removeGroup("a", cb); });
    EXPECT_EQ(s->error().code, ErrorCode::StillRunning);
    s = call<Status>([&](auto cb) { engine->addGroup("a", cb); });
    EXPECT_EQ(s->error().code, ErrorCode::AlreadyAdded);
    call<Status>([&](auto cb) { engine->stop("a", true, cb); });
    backend.deliverSignals();
    loop.runPending();
    s = call<Status>([&](auto cb) { engine->removeGroup("a", cb); });
    EXPECT_TRUE(*s);
    EXPECT_EQ(engine->findProgram("a"), nullptr);
    s = call<Status>([&](auto cb) { engine->addGroup("a", cb); });
    EXPECT_TRUE(*s);
    EXPECT_EQ(state("a"), ProcessState::Starting); // autostart on add
}

TEST(Description, UptimeLikePythonTimedelta) {
    EXPECT_EQ(formatUptime(62), "0:01:02");
    EXPECT_EQ(formatUptime(12 * 3600), "12:00:00");
    EXPECT_EQ(formatUptime(86400 + 2 * 3600 + 3 * 60 + 4), "1 day, 2:03:04");
    EXPECT_EQ(formatUptime(3 * 86400 + 5), "3 days, 0:00:05");
    EXPECT_EQ(formatUptime(-5), "0:00:00");
}

TEST(Description, PerState) {
    EXPECT_EQ(describe(ProcessState::Stopped, 0, 0, 0, 0, "", "x"), "Not started");
    EXPECT_EQ(describe(ProcessState::Fatal, 0, 1, 1, 1, "", "x"), "unknown error (try \"tail x\")");
    EXPECT_EQ(describe(ProcessState::Starting, 5, 1, 0, 1, "", "x"), "");
    EXPECT_EQ(describe(ProcessState::Running, 42, 10 * kSec, 0, 72 * kSec, "", "x"), "pid 42, uptime 0:01:02");
}

} // namespace

TEST_F(StateMachine, SpawnedEventCarriesThePidBeforeRunning) {
    auto a = proc("a");
    a.startsecs = 5;
    auto b = proc("b");
    b.autostart = false;
    make({a, b});
    ASSERT_EQ(rec.spawned.size(), 1u);
    EXPECT_EQ(rec.spawned[0].namespec, "a");
    EXPECT_EQ(rec.spawned[0].state, ProcessState::Starting);
    EXPECT_NE(rec.spawned[0].pid, 0);
    EXPECT_EQ(rec.spawned[0].pid, info("a").pid);
    // A failed spawn makes no process, hence no event.
    backend.failNext = 1;
    engine->start("b", false, [](Status) {});
    loop.runPending();
    EXPECT_EQ(backend.failNext, 0); // the spawn was tried
    EXPECT_EQ(state("b"), ProcessState::Backoff);
    EXPECT_EQ(rec.spawned.size(), 1u);
}

// Regression: a listener the daemon adds on the loop thread before begin()
// (the journal sink) took effect only at the loop's first turn, after
// events of begin() and after output an adopted program had left in its
// pipe, so those lines never reached the journal.
TEST_F(StateMachine, ListenerAddedOnTheLoopThreadHearsEverythingFromThenOn) {
    struct Added : Listener {
        std::vector<std::string> names;
        void programAdded(const ProgramInfo& i) override { names.push_back(i.namespec); }
    } added;
    config::Config cfg;
    cfg.groups.push_back(group(proc("a")));
    EngineOptions o;
    o.version = "test";
    engine = std::make_unique<Engine>(loop, backend, std::move(cfg), o);
    engine->addListener(&added); // no loop turn in between
    engine->begin();
    EXPECT_EQ(added.names, std::vector<std::string>{"a"});
    loop.runPending();
    EXPECT_EQ(added.names, std::vector<std::string>{"a"}); // told once
}

// Stops of many programs go out a batch at a time with a pause between
// batches, so that they do not all exit in the same few milliseconds (issue 4:
// replies held up 30 to 60 ms by a StopAll of 1000). Starts are not paused.
TEST_F(StateMachine, StopAllPausesBetweenBatchesStartAllDoesNot) {
    std::vector<config::ProcessConfig> procs;
    for (int i = 0; i < 100; ++i) {
        auto p = proc("p" + std::to_string(1000 + i));
        p.autostart = false;
        p.startsecs = 0;
        procs.push_back(p);
    }
    make(procs);
    std::optional<MultiResult> started;
    engine->startAll(false, [&](MultiResult r) { started.emplace(std::move(r)); });
    loop.runPending(); // no time passes: every batch of starts runs at once
    ASSERT_TRUE(started);
    EXPECT_EQ(backend.spawns.size(), 100u);
    loop.advance(kSec);

    backend.exitOnSignal = false;
    std::optional<MultiResult> stopped;
    engine->stopAll(false, [&](MultiResult r) { stopped.emplace(std::move(r)); });
    loop.runPending();
    const size_t first = backend.kills.size();
    EXPECT_GT(first, 0u);
    EXPECT_LT(first, 100u) << "every stop went out at once";
    EXPECT_FALSE(stopped);
    loop.advance(2000); // within the pause: nothing more
    EXPECT_EQ(backend.kills.size(), first);
    for (int i = 0; i < 100 && !stopped; ++i)
        loop.advance(1000);
    ASSERT_TRUE(stopped);
    EXPECT_EQ(backend.kills.size(), 100u);
    EXPECT_EQ(stopped->size(), 100u);
}
