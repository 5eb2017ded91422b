// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The engine with everything real but the front end: a configuration file
// read by the real loader, the sd-event loop, the direct backend and real
// processes, driven through the Control API as every front end drives it.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <dirent.h>
#include <unistd.h>

#include "config.h"
#include "direct_backend.h"
#include "engine.h"
#include "sd_event_loop.h"

using namespace scopevisor;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kSec = 1000000;

class RealEngine : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/scopevisor-engine-XXXXXX";
        dir = mkdtemp(tmpl);
    }
    void TearDown() override {
        if (engine) {
            bool done = false;
            engine->setOnShutdown([&] { done = true; });
            engine->requestShutdown();
            loop.runUntil([&] { return done; }, 30 * kSec);
            engine.reset();
        }
        fs::remove_all(dir);
    }

    void writeConfig(const std::string& body) {
        std::ofstream(dir + "/test.conf") << "[supervisord]\nchildlogdir = " << dir << "\n[scopevisord]\nstate_dir = "
                                          << dir << "/state\n"
                                          << body;
    }
    void boot(const std::string& body) {
        writeConfig(body);
        EngineOptions o;
        o.configPath = dir + "/test.conf";
        o.loadContext = config::LoadContext::fromProcess();
        o.version = "test";
        auto cfg = config::load(o.configPath, o.loadContext);
        engine = std::make_unique<Engine>(loop, backend, std::move(cfg), o);
        engine->begin();
    }
    ProcessState state(const std::string& n) {
        Program* p = engine->findProgram(n);
        return p ? p->state() : ProcessState::Unknown;
    }
    bool waitState(const std::string& n, ProcessState s, double seconds = 10) {
        return loop.runUntil([&] { return state(n) == s; }, uint64_t(seconds * kSec));
    }
    template <typename T, typename F>
    std::optional<T> call(F&& f, double seconds = 30) {
        std::optional<T> out;
        f([&](T v) { out.emplace(std::move(v)); });
        loop.runUntil([&] { return out.has_value(); }, uint64_t(seconds * kSec));
        return out;
    }
    static int countLines(const std::string& path) {
        std::ifstream f(path);
        std::string l;
        int n = 0;
        while (std::getline(f, l))
            ++n;
        return n;
    }
    static bool pidAlive(pid_t pid) { return ::kill(pid, 0) == 0; }

    std::string dir;
    SdEventLoop loop;
    DirectBackend backend{loop};
    std::unique_ptr<Engine> engine;
};

TEST_F(RealEngine, CrashLoopEndsFatalAfterExactlyOnePlusStartretriesSpawns) {
    boot("[program:crash]\ncommand = /bin/sh -c 'echo spawn >> " + dir +
         "/spawns; exit 1'\nstartretries = 2\nstartsecs = 1\n");
    ASSERT_TRUE(waitState("crash", ProcessState::Fatal, 15));
    EXPECT_EQ(countLines(dir + "/spawns"), 3);
    EXPECT_EQ(engine->findProgram("crash")->spawnError(), "Exited too quickly (process log may have details)");
}

TEST_F(RealEngine, AutorestartVariants) {
    boot("[program:always]\ncommand = /bin/sh -c 'echo x >> " + dir +
         "/always; sleep 1.2; exit 0'\nautorestart = true\n"
         "[program:never]\ncommand = /bin/sh -c 'sleep 1.2; exit 7'\nautorestart = false\n"
         "[program:unexpected]\ncommand = /bin/sh -c 'echo x >> " + dir +
         "/unexpected; sleep 1.2; exit 0'\nautorestart = unexpected\n");
    ASSERT_TRUE(waitState("never", ProcessState::Exited, 10));
    EXPECT_EQ(engine->findProgram("never")->info().exitStatus, 7);
    ASSERT_TRUE(waitState("unexpected", ProcessState::Exited, 10));
    loop.runUntil([&] { return countLines(dir + "/always") >= 2; }, 10 * kSec);
    EXPECT_GE(countLines(dir + "/always"), 2);
    loop.runUntil([] { return false; }, kSec / 2);
    EXPECT_EQ(countLines(dir + "/unexpected"), 1);
    EXPECT_EQ(state("never"), ProcessState::Exited);
}

TEST_F(RealEngine, SigtermIgnoringProgramIsKilledAfterStopwaitsecs) {
    boot("[program:stubborn]\ncommand = /bin/sh -c 'trap \"\" TERM; touch " + dir +
         "/trapped; while :; do sleep 0.1; done'\n"
         "startsecs = 0\nstopwaitsecs = 2\n");
    ASSERT_TRUE(waitState("stubborn", ProcessState::Running));
    // Stop only once the shell ignores SIGTERM.
    ASSERT_TRUE(loop.runUntil([&] { return fs::exists(dir + "/trapped"); }, 5 * kSec));
    auto t0 = std::chrono::steady_clock::now();
    auto st = call<Status>([&](auto cb) { engine->stop("stubborn", true, cb); });
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(st && *st);
    EXPECT_EQ(state("stubborn"), ProcessState::Stopped);
    EXPECT_GE(took, 1.9);
    EXPECT_LT(took, 6.0);
    EXPECT_EQ(engine->findProgram("stubborn")->info().exitStatus, -1);
}

TEST_F(RealEngine, StopKillsTheWholeProcessTree) {
    boot("[program:tree]\ncommand = /bin/sh -c 'sleep 1000 & sleep 1000 & echo $$ > " + dir +
         "/pgid; wait'\nstartsecs = 0\n");
    ASSERT_TRUE(waitState("tree", ProcessState::Running));
    loop.runUntil([&] { return fs::exists(dir + "/pgid") && fs::file_size(dir + "/pgid") > 0; }, 5 * kSec);
    pid_t pgid = 0;
    std::ifstream(dir + "/pgid") >> pgid;
    ASSERT_GT(pgid, 0);
    auto inGroup = [&] {
        int n = 0;
        for (auto& e : fs::directory_iterator("/proc")) {
            pid_t pid = atoi(e.path().filename().c_str());
            if (pid > 0 && getpgid(pid) == pgid)
                ++n;
        }
        return n;
    };
    EXPECT_EQ(inGroup(), 3);
    auto st = call<Status>([&](auto cb) { engine->stop("tree", true, cb); });
    ASSERT_TRUE(st && *st);
    loop.runUntil([&] { return inGroup() == 0; }, 5 * kSec);
    EXPECT_EQ(inGroup(), 0);
}

TEST_F(RealEngine, StdinEchoThroughCat) {
    boot("[program:cat]\ncommand = /bin/cat\nstartsecs = 0\n");
    ASSERT_TRUE(waitState("cat", ProcessState::Running));
    auto st = call<Status>([&](auto cb) { engine->sendInput("cat", "hello\nThe \xc3\x98resund bridge\n", cb); });
    ASSERT_TRUE(st && *st);
    std::optional<Result<LogLines>> lines;
    loop.runUntil(
        [&] {
            lines = call<Result<LogLines>>([&](auto cb) { engine->readLog("cat", Stream::Stdout, 1, 10, cb); });
            return lines && *lines && (*lines)->lines.size() == 2;
        },
        5 * kSec);
    ASSERT_TRUE(lines && *lines);
    ASSERT_EQ((*lines)->lines.size(), 2u);
    EXPECT_EQ((*lines)->first, 1u);
    EXPECT_EQ((*lines)->lines[0], "hello");
    EXPECT_EQ((*lines)->lines[1], "The \xc3\x98resund bridge");
    auto bytes = call<Result<LogBytes>>([&](auto cb) { engine->readBytes("cat", Stream::Stdout, -6, 0, cb); });
    ASSERT_TRUE(bytes && *bytes);
    EXPECT_EQ((*bytes)->data, "ridge\n");
}

TEST_F(RealEngine, ReloadTouchesOnlyChangedPrograms) {
    boot("[program:keep]\ncommand = /bin/sleep 1000\nstartsecs = 0\n"
         "[program:change]\ncommand = /bin/sleep 1000\nstartsecs = 0\n"
         "[program:drop]\ncommand = /bin/sleep 1000\nstartsecs = 0\n");
    for (auto n : {"keep", "change", "drop"})
        ASSERT_TRUE(waitState(n, ProcessState::Running)) << n;
    pid_t keep = engine->findProgram("keep")->pid();
    pid_t change = engine->findProgram("change")->pid();
    pid_t drop = engine->findProgram("drop")->pid();
    writeConfig("[program:keep]\ncommand = /bin/sleep 1000\nstartsecs = 0\n"
                "[program:change]\ncommand = /bin/sleep 1001\nstartsecs = 0\n"
                "[program:new]\ncommand = /bin/sleep 1000\nstartsecs = 0\n");
    auto r = call<Result<ReloadResult>>([&](auto cb) { engine->reload(cb); });
    ASSERT_TRUE(r && *r);
    EXPECT_EQ((*r)->added, std::vector<std::string>{"new"});
    EXPECT_EQ((*r)->changed, std::vector<std::string>{"change"});
    EXPECT_EQ((*r)->removed, std::vector<std::string>{"drop"});
    ASSERT_TRUE(loop.runUntil(
        [&] {
            return engine->findProgram("drop") == nullptr && state("change") == ProcessState::Running &&
                   state("new") == ProcessState::Running;
        },
        10 * kSec));
    EXPECT_EQ(engine->findProgram("keep")->pid(), keep);
    EXPECT_NE(engine->findProgram("change")->pid(), change);
    EXPECT_FALSE(pidAlive(drop));
    EXPECT_FALSE(pidAlive(change));

    // A broken file is refused and the running configuration stays.
    writeConfig("[program:keep]\ncommand = /bin/sleep 1000\nautorestart = maybe\n");
    r = call<Result<ReloadResult>>([&](auto cb) { engine->reload(cb); });
    ASSERT_TRUE(r);
    ASSERT_FALSE(*r);
    EXPECT_EQ(r->error().code, ErrorCode::CantReread);
    EXPECT_NE(r->error().message.find("test.conf:"), std::string::npos) << r->error().message;
    EXPECT_NE(r->error().message.find("autorestart"), std::string::npos) << r->error().message;
    EXPECT_EQ(engine->findProgram("keep")->pid(), keep);
    EXPECT_EQ(state("new"), ProcessState::Running);
}

TEST_F(RealEngine, SpawnErrorsNameTheCause) {
    boot("[program:nofile]\ncommand = /nonexistent/prog\nautostart = false\n"
         "[program:noexec]\ncommand = " + dir + "/plain\nautostart = false\n"
         "[program:baddir]\ncommand = /bin/true\ndirectory = /nonexistent/dir\nstartretries = 0\n"
         "[program:baduser]\ncommand = /bin/true\nuser = no-such-user-here\nstartretries = 0\n");
    std::ofstream(dir + "/plain") << "not a program\n";
    auto st = call<Status>([&](auto cb) { engine->start("nofile", true, cb); });
    ASSERT_TRUE(st);
    EXPECT_EQ(st->error().code, ErrorCode::NoFile);
    EXPECT_NE(st->error().message.find("/nonexistent/prog"), std::string::npos);
    st = call<Status>([&](auto cb) { engine->start("noexec", true, cb); });
    EXPECT_EQ(st->error().code, ErrorCode::NotExecutable);
    ASSERT_TRUE(waitState("baddir", ProcessState::Fatal));
    EXPECT_NE(engine->findProgram("baddir")->spawnError().find("/nonexistent/dir"), std::string::npos)
        << engine->findProgram("baddir")->spawnError();
    ASSERT_TRUE(waitState("baduser", ProcessState::Fatal));
    EXPECT_NE(engine->findProgram("baduser")->spawnError().find("no-such-user-here"), std::string::npos)
        << engine->findProgram("baduser")->spawnError();
}

TEST_F(RealEngine, LineNumbersContinueAcrossProgramRestarts) {
    boot("[program:talk]\ncommand = /bin/sh -c 'echo one; echo two; sleep 1.5'\nautorestart = true\n");
    ASSERT_TRUE(loop.runUntil(
        [&] { return engine->findProgram("talk")->log().stdoutBuf().lastLine() >= 4; }, 10 * kSec));
    auto lines = call<Result<LogLines>>([&](auto cb) { engine->readLog("talk", Stream::Stdout, 1, 4, cb); });
    ASSERT_TRUE(lines && *lines);
    EXPECT_EQ((*lines)->lines, (std::vector<std::string>{"one", "two", "one", "two"}));
    EXPECT_EQ((*lines)->last, 4u);
}

TEST_F(RealEngine, ANewEngineAdoptsRunningProgramsAndKeepsTheDesiredState) {
    const std::string body = "[program:keep]\ncommand = /bin/sleep 1000\nstartsecs = 0\nautorestart = false\n"
                             "[program:halted]\ncommand = /bin/sleep 1000\nstartsecs = 0\n"
                             "[program:manual]\ncommand = /bin/sleep 1000\nstartsecs = 0\nautostart = false\n";
    boot(body);
    ASSERT_TRUE(waitState("keep", ProcessState::Running));
    ASSERT_TRUE(waitState("halted", ProcessState::Running));
    auto st = call<Status>([&](auto cb) { engine->stop("halted", true, cb); });
    ASSERT_TRUE(st && *st);
    st = call<Status>([&](auto cb) { engine->start("manual", true, cb); });
    ASSERT_TRUE(st && *st);
    const pid_t keep = engine->findProgram("keep")->pid();
    const pid_t manual = engine->findProgram("manual")->pid();
    const uint64_t started = engine->findProgram("keep")->info().startedAtUs;
    // The daemon goes away without stopping anything (a crash, kill -9).
    loop.runUntil([] { return false; }, kSec / 10);
    engine.reset();
    ASSERT_TRUE(pidAlive(keep));

    boot(body);
    EXPECT_EQ(state("keep"), ProcessState::Running);
    EXPECT_EQ(engine->findProgram("keep")->pid(), keep);
    EXPECT_EQ(engine->findProgram("keep")->info().startedAtUs, started);
    EXPECT_EQ(engine->findProgram("manual")->pid(), manual); // started by hand, adopted
    EXPECT_EQ(state("halted"), ProcessState::Stopped);        // stopped by hand: stays stopped
    // The adopted program is watched: its exit is seen. (Here the test
    // process is still its parent, so the status can be read; for a daemon
    // that did not spawn it, test_daemon.py checks that it is "unknown".)
    ::kill(keep, SIGKILL);
    ASSERT_TRUE(waitState("keep", ProcessState::Exited, 5));
}

TEST_F(RealEngine, ADesiredStateOutlivesAReloadThatRemovesTheProgram) {
    const std::string both = "[program:a]\ncommand = /bin/sleep 1000\nstartsecs = 0\n"
                             "[program:b]\ncommand = /bin/sleep 1000\nstartsecs = 0\n";
    boot(both);
    ASSERT_TRUE(waitState("a", ProcessState::Running));
    auto st = call<Status>([&](auto cb) { engine->stop("a", true, cb); });
    ASSERT_TRUE(st && *st);
    writeConfig("[program:b]\ncommand = /bin/sleep 1000\nstartsecs = 0\n");
    auto r = call<Result<ReloadResult>>([&](auto cb) { engine->reload(cb); });
    ASSERT_TRUE(r && *r);
    ASSERT_TRUE(loop.runUntil([&] { return engine->findProgram("a") == nullptr; }, 5 * kSec));
    writeConfig(both);
    r = call<Result<ReloadResult>>([&](auto cb) { engine->reload(cb); });
    ASSERT_TRUE(r && *r);
    EXPECT_EQ((*r)->added, std::vector<std::string>{"a"});
    ASSERT_NE(engine->findProgram("a"), nullptr);
    // Stopped by hand before it went away: it does not autostart on return.
    loop.runUntil([] { return false; }, kSec / 5);
    EXPECT_EQ(state("a"), ProcessState::Stopped);
    EXPECT_EQ(state("b"), ProcessState::Running);
}

TEST_F(RealEngine, ARecycledPidIsNotAdopted) {
    boot("[program:a]\ncommand = /bin/sleep 1000\nstartsecs = 0\n");
    ASSERT_TRUE(waitState("a", ProcessState::Running));
    const pid_t old = engine->findProgram("a")->pid();
    loop.runUntil([] { return false; }, kSec / 10); // let the state file be written
    engine.reset();
    // Make the recorded start time wrong, as if the pid had been reused.
    std::string path;
    for (auto& e : fs::directory_iterator(dir + "/state"))
        path = e.path();
    ASSERT_FALSE(path.empty());
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    auto pos = text.find("\t" + std::to_string(old) + "\t");
    ASSERT_NE(pos, std::string::npos);
    auto tab = text.find('\t', pos + 1);
    text.replace(tab + 1, text.find('\t', tab + 1) - tab - 1, "1");
    std::ofstream(path) << text;
    boot("[program:a]\ncommand = /bin/sleep 1000\nstartsecs = 0\n");
    ASSERT_TRUE(waitState("a", ProcessState::Running));
    EXPECT_NE(engine->findProgram("a")->pid(), old); // a new process, not the stranger
    ::kill(old, SIGKILL);
}

} // namespace
