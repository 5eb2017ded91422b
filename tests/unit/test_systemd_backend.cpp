// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The systemd backend against a fake manager, with real processes: the
// child is held until its scope exists, a failed job is a spawn error and
// the program never runs, one scope per name at a time, kills and cleanup
// go to the manager. The real manager is covered by tests/system.
#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "command_scopes.h"
#include "fake_loop.h"
#include "sd_event_loop.h"
#include "systemd_backend.h"

using namespace scopevisor;

namespace {

constexpr uint64_t kTimeout = 10'000'000;

class FakeManager : public SystemdManager {
public:
    struct StartCall {
        ScopeRequest req;
        Done done;
    };
    struct StopCall {
        std::string unit;
        Done done;
    };
    std::deque<StartCall> starts;
    std::deque<StopCall> stops;
    std::vector<std::pair<std::string, int>> kills;

    void startScope(const ScopeRequest& req, Done done) override { starts.push_back({req, std::move(done)}); }
    void killUnit(const std::string& unit, int sig) override { kills.emplace_back(unit, sig); }
    void stopUnit(const std::string& unit, Done done) override { stops.push_back({unit, std::move(done)}); }
    std::string describe() const override { return "fake"; }

    void finishStart(const std::string& error = {}) {
        auto c = std::move(starts.front());
        starts.pop_front();
        c.done(error);
    }
    void finishStop() {
        auto c = std::move(stops.front());
        stops.pop_front();
        c.done("");
    }
};

struct Fixture : ::testing::Test {
    SdEventLoop loop;
    FakeManager* mgr = nullptr;
    std::unique_ptr<SystemdBackend> backend;
    std::string dir;

    void SetUp() override {
        auto m = std::make_unique<FakeManager>();
        mgr = m.get();
        backend = std::make_unique<SystemdBackend>(loop, std::move(m), "scopevisor.slice", "scopevisord.service");
        char tmpl[] = "/tmp/sv-sdbackend-XXXXXX";
        dir = mkdtemp(tmpl);
    }
    void TearDown() override {
        backend.reset();
        std::system(("rm -rf " + dir).c_str());
    }

    SpawnSpec spec(const std::string& namespec, const std::string& script) {
        SpawnSpec s;
        s.namespec = namespec;
        s.path = "/bin/sh";
        s.argv = {"/bin/sh", "-c", script};
        s.env = {"PATH=/usr/bin:/bin"};
        return s;
    }

    struct Outcome {
        std::optional<Result<Child>> result;
        bool exited = false;
        int status = 0;
    };

    void spawn(const SpawnSpec& s, Outcome& o) {
        backend->spawn(
            s, [&o](Result<Child> r) { o.result.emplace(std::move(r)); },
            [&o](int st, bool) {
                o.exited = true;
                o.status = st;
            });
    }

    bool exists(const std::string& name) {
        struct stat st {};
        return ::stat((dir + "/" + name).c_str(), &st) == 0;
    }
};

void closeChild(Child& c) {
    for (int* fd : {&c.stdinFd, &c.stdoutFd, &c.stderrFd})
        if (*fd >= 0)
            ::close(*fd), *fd = -1;
}

} // namespace

TEST_F(Fixture, ChildWaitsForItsScopeThenRuns) {
    Outcome o;
    spawn(spec("grp:web", "touch " + dir + "/ran; exec sleep 30"), o);
    ASSERT_EQ(mgr->starts.size(), 1u);
    const ScopeRequest& req = mgr->starts.front().req;
    EXPECT_EQ(req.unit, "scopevisor-grp:web.scope");
    EXPECT_GT(req.pid, 0);
    // Held: nothing of the program has run while the job is pending.
    loop.runUntil([] { return false; }, 200'000);
    EXPECT_FALSE(exists("ran"));
    EXPECT_FALSE(o.result);

    mgr->finishStart();
    ASSERT_TRUE(loop.runUntil([&] { return o.result.has_value(); }, kTimeout));
    ASSERT_TRUE(o.result->ok()) << o.result->error().message;
    Child c = o.result->value();
    EXPECT_EQ(c.pid, req.pid);
    EXPECT_EQ(c.unit, "scopevisor-grp:web.scope");
    ASSERT_TRUE(loop.runUntil([&] { return exists("ran"); }, kTimeout));

    // Tree kill goes to the scope; a plain one to the process.
    EXPECT_EQ(backend->kill(c, SIGUSR1, true), 0);
    ASSERT_EQ(mgr->kills.size(), 1u);
    EXPECT_EQ(mgr->kills[0], std::make_pair(std::string("scopevisor-grp:web.scope"), int(SIGUSR1)));
    EXPECT_EQ(backend->kill(c, SIGTERM, false), 0);
    ASSERT_TRUE(loop.runUntil([&] { return o.exited; }, kTimeout));
    EXPECT_TRUE(WIFSIGNALED(o.status));
    EXPECT_EQ(WTERMSIG(o.status), SIGTERM);

    backend->cleanup(c);
    EXPECT_EQ(mgr->kills.back(), std::make_pair(std::string("scopevisor-grp:web.scope"), int(SIGKILL)));
    ASSERT_EQ(mgr->stops.size(), 1u);
    EXPECT_EQ(mgr->stops.front().unit, "scopevisor-grp:web.scope");
    mgr->finishStop();
    closeChild(c);
}

TEST_F(Fixture, PropertiesCarryKillSettingsResourcesAndOrdering) {
    config::ProcessConfig cfg;
    cfg.stopsignal = SIGINT;
    cfg.stopwaitsecs = 7;
    for (auto [key, value] : {std::pair{"memory_max", "512M"}, {"cpu_quota", "150%"}, {"tasks_max", "infinity"},
                              {"memory_high", "50%"}})
        cfg.resources[key] = config::parseResource(key, value);
    auto props = scopeProperties("web", &cfg, "scopevisor.slice", "scopevisord.service");
    auto find = [&](const std::string& n) -> const UnitProperty* {
        for (auto& p : props)
            if (p.name == n)
                return &p;
        return nullptr;
    };
    ASSERT_TRUE(find("Slice"));
    EXPECT_EQ(std::get<std::string>(find("Slice")->value), "scopevisor.slice");
    EXPECT_EQ(std::get<std::string>(find("Description")->value), "scopevisor program web");
    EXPECT_EQ(std::get<std::string>(find("CollectMode")->value), "inactive-or-failed");
    EXPECT_EQ(std::get<std::string>(find("KillMode")->value), "control-group");
    EXPECT_EQ(std::get<int32_t>(find("KillSignal")->value), SIGINT);
    EXPECT_EQ(std::get<uint64_t>(find("TimeoutStopUSec")->value), 7'000'000u);
    EXPECT_EQ(std::get<bool>(find("SendSIGKILL")->value), true);
    EXPECT_EQ(std::get<uint64_t>(find("MemoryMax")->value), 512ull << 20);
    EXPECT_EQ(std::get<uint64_t>(find("CPUQuotaPerSecUSec")->value), 1'500'000u);
    EXPECT_EQ(std::get<uint64_t>(find("TasksMax")->value), UINT64_MAX);
    EXPECT_EQ(std::get<uint32_t>(find("MemoryHighScale")->value), 2147483648u);
    EXPECT_FALSE(find("MemoryHigh"));
    EXPECT_EQ(std::get<std::vector<std::string>>(find("Before")->value),
              std::vector<std::string>{"scopevisord.service"});
    EXPECT_FALSE(find("PIDs")); // added by the manager call
    EXPECT_FALSE(find("Before") == nullptr);
    EXPECT_EQ(scopeProperties("web", nullptr).size(), 7u); // no Before without a daemon unit
}

TEST_F(Fixture, FailedJobIsASpawnErrorAndTheProgramNeverRuns) {
    Outcome o;
    spawn(spec("web", "touch " + dir + "/ran"), o);
    ASSERT_EQ(mgr->starts.size(), 1u);
    const pid_t pid = mgr->starts.front().req.pid;
    mgr->finishStart("Unit scopevisor-web.scope already exists.");
    ASSERT_TRUE(o.result.has_value()); // reported from the manager's callback
    ASSERT_FALSE(o.result->ok());
    EXPECT_EQ(o.result->error().code, ErrorCode::SpawnFailed);
    EXPECT_EQ(o.result->error().message,
              "couldn't create scope scopevisor-web.scope: Unit scopevisor-web.scope already exists.");
    EXPECT_NE(::kill(pid, 0), 0); // killed and reaped
    loop.runUntil([] { return false; }, 200'000);
    EXPECT_FALSE(exists("ran"));
    EXPECT_TRUE(mgr->stops.empty()); // a refused name may be someone else's
    EXPECT_EQ(backend->pendingSpawns(), 0u);
}

TEST_F(Fixture, ExecFailureStopsTheScope) {
    Outcome o;
    SpawnSpec s = spec("web", "");
    s.path = dir + "/missing";
    s.argv = {s.path};
    spawn(s, o);
    mgr->finishStart();
    ASSERT_TRUE(loop.runUntil([&] { return o.result.has_value(); }, kTimeout));
    ASSERT_FALSE(o.result->ok());
    EXPECT_EQ(o.result->error().code, ErrorCode::SpawnFailed);
    ASSERT_EQ(mgr->stops.size(), 1u);
    EXPECT_EQ(mgr->stops.front().unit, "scopevisor-web.scope");
    mgr->finishStop();
}

TEST_F(Fixture, ANameIsReusedOnlyOnceItsScopeIsGone) {
    Outcome first;
    spawn(spec("web", "exit 3"), first);
    mgr->finishStart();
    ASSERT_TRUE(loop.runUntil([&] { return first.exited; }, kTimeout));
    Child c = first.result->value();
    backend->cleanup(c);
    ASSERT_EQ(mgr->stops.size(), 1u);

    // Restarted at once: waits for the old scope's stop job.
    Outcome second;
    spawn(spec("web", "exec sleep 30"), second);
    EXPECT_TRUE(mgr->starts.empty());
    // Another program is not held up.
    Outcome other;
    spawn(spec("other", "exec sleep 30"), other);
    ASSERT_EQ(mgr->starts.size(), 1u);
    EXPECT_EQ(mgr->starts.front().req.unit, "scopevisor-other.scope");
    mgr->finishStart();

    mgr->finishStop();
    ASSERT_EQ(mgr->starts.size(), 1u);
    EXPECT_EQ(mgr->starts.front().req.unit, "scopevisor-web.scope");
    mgr->finishStart();
    ASSERT_TRUE(loop.runUntil([&] { return second.result.has_value() && other.result.has_value(); }, kTimeout));
    for (Outcome* o : {&second, &other}) {
        ASSERT_TRUE(o->result->ok());
        Child k = o->result->value();
        backend->kill(k, SIGKILL, false);
        ASSERT_TRUE(loop.runUntil([&] { return o->exited; }, kTimeout));
        backend->cleanup(k);
        closeChild(k);
    }
    closeChild(c);
}

TEST_F(Fixture, ManyJobsAreInFlightAtOnce) {
    std::vector<Outcome> out(50);
    for (size_t i = 0; i < out.size(); ++i)
        spawn(spec("p" + std::to_string(i), "exec sleep 30"), out[i]);
    EXPECT_EQ(mgr->starts.size(), out.size()); // none waits for another
    while (!mgr->starts.empty())
        mgr->finishStart();
    ASSERT_TRUE(loop.runUntil([&] {
        for (auto& o : out)
            if (!o.result)
                return false;
        return true;
    }, kTimeout));
    for (auto& o : out) {
        ASSERT_TRUE(o.result->ok());
        Child k = o.result->value();
        backend->kill(k, SIGKILL, false);
        ASSERT_TRUE(loop.runUntil([&] { return o.exited; }, kTimeout));
        backend->cleanup(k);
        closeChild(k);
    }
}

TEST_F(Fixture, DestroyedWithSpawnsPendingLeavesNoProgramRunning) {
    Outcome o;
    spawn(spec("web", "touch " + dir + "/ran"), o);
    const pid_t pid = mgr->starts.front().req.pid;
    backend.reset();
    // The held child exits (SIGKILL, or EOF on its release pipe).
    for (int i = 0; i < 100 && ::waitpid(pid, nullptr, WNOHANG) == 0; ++i)
        usleep(20'000);
    EXPECT_FALSE(exists("ran"));
}

// Scopes for the commands adapters run: posted to the loop, made by the
// manager, answered with the unit or systemd's reason.
TEST(CommandScopes, StartAndKillThroughTheManager) {
    test::FakeLoop loop;
    FakeManager mgr;
    CommandScopes cs(loop, &mgr);
    std::optional<std::pair<std::string, std::string>> started;
    cs.start("steward", 4321, "scopevisor steward command ls", [&](std::string u, std::string e) {
        started.emplace(std::move(u), std::move(e));
    });
    // Nothing touches the manager off the loop thread.
    EXPECT_TRUE(mgr.starts.empty());
    loop.runPending();
    ASSERT_EQ(mgr.starts.size(), 1u);
    const ScopeRequest& req = mgr.starts.front().req;
    EXPECT_EQ(req.pid, 4321);
    EXPECT_EQ(req.unit, CommandScopes::unitName("steward", 4321, loop.now()));
    EXPECT_TRUE(req.unit.starts_with("scopevisor-steward-4321-")) << req.unit;
    auto prop = [&](const std::string& name) -> const UnitProperty* {
        for (const auto& p : req.properties)
            if (p.name == name)
                return &p;
        return nullptr;
    };
    ASSERT_TRUE(prop("Slice"));
    EXPECT_EQ(std::get<std::string>(prop("Slice")->value), "scopevisor.slice");
    EXPECT_EQ(std::get<std::string>(prop("Description")->value), "scopevisor steward command ls");
    EXPECT_EQ(std::get<int32_t>(prop("KillSignal")->value), SIGKILL);
    EXPECT_FALSE(started);
    const std::string unit = req.unit;
    mgr.finishStart();
    ASSERT_TRUE(started);
    EXPECT_EQ(started->first, unit);
    EXPECT_EQ(started->second, "");

    std::optional<std::string> killed;
    cs.kill(unit, [&](std::string e) { killed = std::move(e); });
    loop.runPending();
    ASSERT_EQ(mgr.stops.size(), 1u);
    EXPECT_EQ(mgr.stops.front().unit, unit);
    mgr.finishStop();
    EXPECT_EQ(killed, "");
}

TEST(CommandScopes, FailedJobCarriesSystemdsReason) {
    test::FakeLoop loop;
    FakeManager mgr;
    CommandScopes cs(loop, &mgr);
    std::string unit, error;
    cs.start("steward", 7, "d", [&](std::string u, std::string e) {
        unit = std::move(u);
        error = std::move(e);
    });
    loop.runPending();
    mgr.finishStart("Access denied");
    EXPECT_EQ(unit, "");
    EXPECT_NE(error.find("couldn't create scope scopevisor-steward-7-"), std::string::npos) << error;
    EXPECT_NE(error.find("Access denied"), std::string::npos) << error;
}

TEST(CommandScopes, DirectBackendHasNoScopes) {
    test::FakeLoop loop;
    CommandScopes cs(loop, nullptr);
    bool answered = false;
    cs.start("steward", 7, "d", [&](std::string u, std::string e) {
        answered = true;
        EXPECT_EQ(u, "");
        EXPECT_EQ(e, "");
    });
    EXPECT_TRUE(answered);
    std::string err;
    cs.kill("scopevisor-steward-7-1.scope", [&](std::string e) { err = std::move(e); });
    EXPECT_NE(err.find("no scope"), std::string::npos);
}

TEST(CommandScopes, AnAdapterOwnsOnlyItsOwnScopes) {
    EXPECT_TRUE(CommandScopes::belongsTo(CommandScopes::unitName("steward", 12, 34), "steward"));
    EXPECT_FALSE(CommandScopes::belongsTo(CommandScopes::unitName("steward", 12, 34), "xmlrpc"));
    EXPECT_FALSE(CommandScopes::belongsTo("scopevisor-web.scope", "steward"));
    EXPECT_FALSE(CommandScopes::belongsTo("scopevisor-steward-.scope", "steward"));
    EXPECT_FALSE(CommandScopes::belongsTo("scopevisor-steward-1.service", "steward"));
    EXPECT_EQ(CommandScopes::unitName("supervisor-rs", 5, 6), "scopevisor-supervisor\\x2drs-5-6.scope");
}
