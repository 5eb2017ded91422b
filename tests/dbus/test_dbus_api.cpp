// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The D-Bus API of a real scopevisord on a private session bus, driven with
// the proxies generated from the interface XML.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <algorithm>
#include <sys/wait.h>

#include "bus_harness.h"

using namespace scopevisor::test;
using Clock = std::chrono::steady_clock;

namespace {

const char* kConfig = R"(
[program:sleeper]
command = sleep 1000
startsecs = 0

[program:slow]
command = sleep 1000
startsecs = 2
autostart = false

[program:cat]
command = cat
startsecs = 0

[program:dies]
command = sh -c 'exit 7'
startsecs = 1
startretries = 0
autostart = false

[program:ticker]
command = sh -c 'i=1; while [ $i -le 5 ]; do echo out $i; echo err $i >&2; i=$((i+1)); done; exec sleep 1000'
startsecs = 0

[group:web]
programs = front,back

[program:front]
command = sleep 1000
startsecs = 0

[program:back]
command = sleep 1000
startsecs = 0
autostart = false
)";

std::string errorName(const std::function<void()>& f) {
    try {
        f();
    } catch (const sdbus::Error& e) {
        return e.getName();
    }
    return "";
}

template <typename Pred>
bool waitFor(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
        if (pred())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred();
}

class DbusApi : public ::testing::Test {
protected:
    static void SetUpTestSuite() { bus_ = new PrivateBus(); }
    static void TearDownTestSuite() {
        delete bus_;
        bus_ = nullptr;
    }
    void SetUp() override {
        daemon_ = std::make_unique<Daemon>(*bus_, kConfig);
        conn_ = bus_->connect();
        conn_->setMethodCallTimeout(std::chrono::seconds(30));
        mgr_ = std::make_unique<ManagerClient>(*conn_);
    }
    void TearDown() override {
        mgr_.reset();
        conn_.reset();
        daemon_.reset();
    }
    std::string state(const std::string& namespec) {
        ProgramClient p(*conn_, mgr_->GetProgram(namespec));
        return p.State();
    }

    static PrivateBus* bus_;
    std::unique_ptr<Daemon> daemon_;
    std::unique_ptr<sdbus::IConnection> conn_;
    std::unique_ptr<ManagerClient> mgr_;
};
PrivateBus* DbusApi::bus_ = nullptr;

TEST_F(DbusApi, ListProgramsGivesEveryProgramWithItsPath) {
    ASSERT_TRUE(waitFor([&] { return state("sleeper") == "RUNNING"; }));
    auto list = mgr_->ListPrograms();
    std::map<std::string, decltype(list)::value_type> by;
    for (auto& row : list)
        by[row.get<0>()] = row;
    ASSERT_EQ(by.size(), 7u);
    EXPECT_EQ(by["web:front"].get<1>(), "web");
    EXPECT_EQ(by["web:front"].get<5>(), sdbus::ObjectPath("/org/scopevisor1/program/web_3afront"));
    EXPECT_EQ(by["sleeper"].get<2>(), "RUNNING");
    EXPECT_GT(by["sleeper"].get<4>(), 0u);
    EXPECT_NE(by["sleeper"].get<3>().find("pid "), std::string::npos);
    EXPECT_EQ(by["slow"].get<2>(), "STOPPED");
    EXPECT_EQ(by["slow"].get<4>(), 0u);
}

TEST_F(DbusApi, ManagerProperties) {
    EXPECT_EQ(mgr_->Get("org.scopevisor1.Manager", "Backend").get<std::string>(), "direct");
    EXPECT_EQ(mgr_->Get("org.scopevisor1.Manager", "State").get<std::string>(), "RUNNING");
    EXPECT_EQ(mgr_->Get("org.scopevisor1.Manager", "ProgramCount").get<uint32_t>(), 7u);
    EXPECT_FALSE(mgr_->Get("org.scopevisor1.Manager", "Version").get<std::string>().empty());
}

TEST_F(DbusApi, ProgramPropertiesFollowTheProgram) {
    ASSERT_TRUE(waitFor([&] { return state("sleeper") == "RUNNING"; }));
    ProgramClient p(*conn_, mgr_->GetProgram("sleeper"));
    EXPECT_EQ(p.Name(), "sleeper");
    EXPECT_EQ(p.Group(), "sleeper");
    EXPECT_EQ(p.StateCode(), 20);
    EXPECT_GT(p.PID(), 0u);
    EXPECT_GT(p.StartedAt(), 1600000000000000u);
    EXPECT_EQ(p.Unit(), ""); // direct backend: no scope
    mgr_->StopProgram("sleeper");
    EXPECT_EQ(p.State(), "STOPPED");
    EXPECT_EQ(p.StateCode(), 0);
    EXPECT_GE(p.StoppedAt(), p.StartedAt());
    // The object of a program with a group in its name.
    ProgramClient f(*conn_, "/org/scopevisor1/program/web_3afront");
    EXPECT_EQ(f.Name(), "web:front");
    EXPECT_EQ(f.Group(), "web");
}

TEST_F(DbusApi, StartReturnsOnceRunningAfterStartsecs) {
    auto t0 = Clock::now();
    mgr_->StartProgram("slow");
    auto took = Clock::now() - t0;
    EXPECT_GE(took, std::chrono::milliseconds(1900));
    EXPECT_EQ(state("slow"), "RUNNING");
    mgr_->StopProgram("slow");
    EXPECT_EQ(state("slow"), "STOPPED");
}

TEST_F(DbusApi, ALongStartDoesNotHoldUpOtherCallers) {
    std::thread starter([&] {
        auto c = bus_->connect();
        c->setMethodCallTimeout(std::chrono::seconds(30));
        ManagerClient m(*c);
        m.StartProgram("slow");
    });
    ASSERT_TRUE(waitFor([&] { return state("slow") == "STARTING"; }));
    auto t0 = Clock::now();
    auto list = mgr_->ListPrograms();
    EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(200));
    EXPECT_EQ(list.size(), 7u);
    starter.join();
    EXPECT_EQ(state("slow"), "RUNNING");
}

TEST_F(DbusApi, FailuresAreNamedErrors) {
    ASSERT_TRUE(waitFor([&] { return state("sleeper") == "RUNNING"; }));
    EXPECT_EQ(errorName([&] { mgr_->StartProgram("nope"); }), "org.scopevisor1.Error.NoSuchProgram");
    EXPECT_EQ(errorName([&] { mgr_->GetProgram("nope"); }), "org.scopevisor1.Error.NoSuchProgram");
    EXPECT_EQ(errorName([&] { mgr_->StartProgram("sleeper"); }), "org.scopevisor1.Error.AlreadyStarted");
    EXPECT_EQ(errorName([&] { mgr_->StopProgram("slow"); }), "org.scopevisor1.Error.NotRunning");
    EXPECT_EQ(errorName([&] { mgr_->SignalProgram("sleeper", 999); }), "org.scopevisor1.Error.BadSignal");
    EXPECT_EQ(errorName([&] { mgr_->ReadLog("sleeper", "stdin", 0, 10); }), "org.scopevisor1.Error.BadArguments");
    EXPECT_EQ(errorName([&] { mgr_->StartGroup("nogroup"); }), "org.scopevisor1.Error.NoSuchGroup");
    // A program that exits at once fails its start with a named error.
    std::string failed = errorName([&] { mgr_->StartProgram("dies"); });
    EXPECT_EQ(failed.rfind("org.scopevisor1.Error.", 0), 0u) << failed;
    EXPECT_EQ(state("dies"), "FATAL");
}

TEST_F(DbusApi, GroupAndAllOperations) {
    mgr_->StartGroup("web");
    EXPECT_EQ(state("web:front"), "RUNNING");
    EXPECT_EQ(state("web:back"), "RUNNING");
    mgr_->StopGroup("web");
    EXPECT_EQ(state("web:front"), "STOPPED");
    EXPECT_EQ(state("web:back"), "STOPPED");
    mgr_->StopAll();
    for (auto& row : mgr_->ListPrograms())
        EXPECT_NE(row.get<2>(), "RUNNING") << row.get<0>();
    mgr_->StartProgram("sleeper");
    EXPECT_EQ(state("sleeper"), "RUNNING");
}

TEST_F(DbusApi, SendInputAndReadLog) {
    ASSERT_TRUE(waitFor([&] { return state("cat") == "RUNNING"; }));
    std::string text = "hello\nworld\n";
    mgr_->SendInput("cat", std::vector<uint8_t>(text.begin(), text.end()));
    std::vector<std::string> lines;
    ASSERT_TRUE(waitFor([&] {
        lines = std::get<2>(mgr_->ReadLog("cat", "stdout", 0, 10));
        return lines.size() == 2;
    }));
    EXPECT_EQ(lines, (std::vector<std::string>{"hello", "world"}));
    // The Program object's methods do the same.
    ProgramClient p(*conn_, mgr_->GetProgram("cat"));
    std::string more = "again\n";
    p.SendInput(std::vector<uint8_t>(more.begin(), more.end()));
    ASSERT_TRUE(waitFor([&] { return std::get<1>(p.ReadLog("stdout", 0, 1)) == 3; }));
    auto [first, last, got] = p.ReadLog("stdout", 3, 5);
    EXPECT_EQ(first, 3u);
    EXPECT_EQ(last, 3u);
    EXPECT_EQ(got, (std::vector<std::string>{"again"}));
}

TEST_F(DbusApi, ReadLogNumbersLinesPerStream) {
    ASSERT_TRUE(waitFor([&] { return std::get<1>(mgr_->ReadLog("ticker", "stderr", 0, 0)) == 5; }));
    auto [f1, l1, out] = mgr_->ReadLog("ticker", "stdout", 2, 2);
    EXPECT_EQ(f1, 2u);
    EXPECT_EQ(l1, 3u);
    EXPECT_EQ(out, (std::vector<std::string>{"out 2", "out 3"}));
    auto [f2, l2, err] = mgr_->ReadLog("ticker", "stderr", 0, 1);
    EXPECT_EQ(err, (std::vector<std::string>{"err 5"}));
    EXPECT_EQ(l2, 5u);
    auto all = std::get<2>(mgr_->ReadLog("ticker", "all", 0, 0));
    EXPECT_EQ(all.size(), 10u);
}

TEST_F(DbusApi, SignalProgram) {
    ASSERT_TRUE(waitFor([&] { return state("sleeper") == "RUNNING"; }));
    ProgramClient p(*conn_, mgr_->GetProgram("sleeper"));
    const uint32_t before = p.PID();
    ASSERT_GT(before, 0u);
    mgr_->SignalProgram("sleeper", SIGKILL);
    // The killed process is gone (the daemon reaps it), and autorestart=unexpected
    // starts a new one: only a delivered signal changes the pid.
    EXPECT_TRUE(waitFor([&] { return ::kill(pid_t(before), 0) != 0; }));
    EXPECT_TRUE(waitFor([&] { return p.PID() != before && p.PID() > 0 && p.State() == "RUNNING"; }))
        << "pid " << p.PID() << " (before " << before << "), state " << p.State();
}

// Subscribes to the signals of the API on a connection of its own.
class Watcher final : public sdbus::ProxyInterfaces<org::scopevisor1::Manager_proxy> {
public:
    Watcher(sdbus::IConnection& c) : ProxyInterfaces(c, "org.scopevisor1", "/org/scopevisor1") { registerProxy(); }
    ~Watcher() { unregisterProxy(); }
    std::mutex m;
    std::vector<std::string> events;
    bool has(const std::string& e) {
        std::lock_guard l(m);
        return std::find(events.begin(), events.end(), e) != events.end();
    }

private:
    void onProgramNew(const std::string& n, const sdbus::ObjectPath& p) override { add("new " + n + " " + p); }
    void onProgramRemoved(const std::string& n, const sdbus::ObjectPath& p) override { add("removed " + n + " " + p); }
    void onProgramStateChanged(const std::string& n, const std::string& s, const std::string& o) override {
        add("state " + n + " " + o + "->" + s);
    }
    void add(std::string e) {
        std::lock_guard l(m);
        events.push_back(std::move(e));
    }
};

class PropsWatcher final : public sdbus::ProxyInterfaces<sdbus::Properties_proxy> {
public:
    PropsWatcher(sdbus::IConnection& c, const std::string& path) : ProxyInterfaces(c, "org.scopevisor1", path) {
        registerProxy();
    }
    ~PropsWatcher() { unregisterProxy(); }
    std::mutex m;
    std::vector<std::string> states;
    std::vector<std::vector<std::string>> names;

private:
    void onPropertiesChanged(const std::string& iface, const std::map<std::string, sdbus::Variant>& changed,
                             const std::vector<std::string>&) override {
        if (iface != "org.scopevisor1.Program")
            return;
        std::lock_guard l(m);
        std::vector<std::string> n;
        for (auto& [k, v] : changed)
            n.push_back(k);
        names.push_back(n);
        if (auto it = changed.find("State"); it != changed.end())
            states.push_back(it->second.get<std::string>());
    }
};

TEST_F(DbusApi, EveryStateChangeIsSignalled) {
    auto sigConn = bus_->connect();
    Watcher w(*sigConn);
    PropsWatcher props(*sigConn, "/org/scopevisor1/program/slow");
    sigConn->enterEventLoopAsync();
    mgr_->StartProgram("slow");
    mgr_->StopProgram("slow");
    ASSERT_TRUE(waitFor([&] {
        std::lock_guard l(props.m);
        return props.states.size() >= 4;
    }));
    {
        std::lock_guard l(props.m);
        EXPECT_EQ(props.states, (std::vector<std::string>{"STARTING", "RUNNING", "STOPPING", "STOPPED"}));
        // STARTING brings the start time along, and the PID is announced
        // as soon as there is a process, before RUNNING.
        auto has = [](const std::vector<std::string>& v, const char* n) {
            return std::find(v.begin(), v.end(), n) != v.end();
        };
        EXPECT_TRUE(has(props.names.front(), "StartedAt"));
        bool pidBeforeRunning = false;
        int statesSeen = 0;
        for (auto& n : props.names) {
            if (has(n, "State") && ++statesSeen == 2)
                break; // RUNNING
            pidBeforeRunning = pidBeforeRunning || has(n, "PID");
        }
        EXPECT_TRUE(pidBeforeRunning);
    }
    EXPECT_TRUE(waitFor([&] { return w.has("state slow STOPPING->STOPPED"); }));
    EXPECT_TRUE(w.has("state slow STOPPED->STARTING"));
    sigConn->leaveEventLoop();
}

TEST_F(DbusApi, ReloadAddsAndRemovesProgramObjects) {
    auto sigConn = bus_->connect();
    Watcher w(*sigConn);
    sigConn->enterEventLoopAsync();
    daemon_->rewriteConfig(R"(
[program:sleeper]
command = sleep 1000
startsecs = 0

[program:fresh]
command = sleep 1000
startsecs = 0
)");
    auto [added, changed, removed] = mgr_->Reload();
    EXPECT_EQ(added, (std::vector<std::string>{"fresh"}));
    EXPECT_TRUE(changed.empty());
    EXPECT_EQ(removed.size(), 5u);
    EXPECT_TRUE(waitFor([&] { return w.has("new fresh /org/scopevisor1/program/fresh"); }));
    EXPECT_TRUE(waitFor([&] { return w.has("removed web:front /org/scopevisor1/program/web_3afront"); }));
    EXPECT_EQ(mgr_->Get("org.scopevisor1.Manager", "ProgramCount").get<uint32_t>(), 2u);
    EXPECT_EQ(errorName([&] { ProgramClient(*conn_, "/org/scopevisor1/program/cat").State(); }),
              "org.freedesktop.DBus.Error.UnknownObject");
    EXPECT_TRUE(waitFor([&] { return state("fresh") == "RUNNING"; }));
    sigConn->leaveEventLoop();
}

TEST_F(DbusApi, ObjectManagerListsEveryProgram) {
    auto om = sdbus::createProxy(*conn_, "org.scopevisor1", "/org/scopevisor1");
    std::map<sdbus::ObjectPath, std::map<std::string, std::map<std::string, sdbus::Variant>>> objects;
    om->callMethod("GetManagedObjects").onInterface("org.freedesktop.DBus.ObjectManager").storeResultsTo(objects);
    EXPECT_EQ(objects.size(), 7u);
    auto& cat = objects.at(sdbus::ObjectPath("/org/scopevisor1/program/cat"));
    EXPECT_EQ(cat.at("org.scopevisor1.Program").at("Name").get<std::string>(), "cat");
}

TEST_F(DbusApi, ShutdownStopsEverythingAndExits) {
    ASSERT_TRUE(waitFor([&] { return state("sleeper") == "RUNNING"; }));
    ProgramClient p(*conn_, mgr_->GetProgram("sleeper"));
    pid_t child = pid_t(p.PID());
    mgr_->Shutdown();
    int st = 0;
    ASSERT_TRUE(waitFor([&] { return daemon_->exited(&st); }));
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << daemon_->log();
    EXPECT_NE(kill(child, 0), 0);
}

} // namespace
