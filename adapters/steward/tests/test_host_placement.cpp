// SPDX-License-Identifier: LGPL-2.1-or-later
//
// HostPlacement over the adapter API: the daemon's answers come on another
// thread (the engine's), and each one becomes the placement's result.
#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>

#include "host_placement.h"

using namespace steward;

namespace {

// Only what a placement uses; the rest of the host is not needed here.
class HostBase : public scopevisor::AdapterHost {
public:
    scopevisor::Control& control() override { std::abort(); }
    void log(scopevisor::LogLevel, std::string_view) override {}
    scopevisor::Role roleFor(std::string_view) override { return scopevisor::Role::None; }
    void authorizeLocal(const scopevisor::UnixPeer&, scopevisor::Verb, const std::string&,
                        std::function<void(bool, std::string)> done) override {
        done(false, "no");
    }
    int takeListenFd(std::string_view) override { return -1; }
    std::string stateDirectory() override { return "/nonexistent"; }
};

// Answers from a thread of its own, as the engine does.
class ScopeHost final : public HostBase {
public:
    std::string error;
    pid_t pid = 0;
    std::string description, killed;
    std::vector<std::thread> threads;
    ~ScopeHost() override {
        for (auto& t : threads)
            t.join();
    }
    void startCommandScope(pid_t p, std::string_view d, std::function<void(std::string, std::string)> done) override {
        pid = p;
        description = d;
        threads.emplace_back([this, p, done = std::move(done)] {
            if (error.empty())
                done("scopevisor-steward-" + std::to_string(p) + "-1.scope", "");
            else
                done("", error);
        });
    }
    void killCommandScope(const std::string& unit, std::function<void(std::string)> done) override {
        killed = unit;
        threads.emplace_back([done = std::move(done)] { done(""); });
    }
};

} // namespace

TEST(HostPlacement, DirectBackendMeansNoScope) {
    HostBase host; // the adapter API's default answers
    HostPlacement p(host);
    std::string unit = "x", error;
    EXPECT_TRUE(p.place(42, {"ls"}, &unit, &error));
    EXPECT_EQ(unit, "");
    EXPECT_FALSE(p.killScope("scopevisor-steward-42-1.scope", &error));
    EXPECT_NE(error.find("no scope"), std::string::npos) << error;
}

TEST(HostPlacement, ScopeFromTheEngineThread) {
    ScopeHost host;
    HostPlacement p(host);
    std::string unit, error;
    ASSERT_TRUE(p.place(42, {"bash", "-c", "ls"}, &unit, &error)) << error;
    EXPECT_EQ(unit, "scopevisor-steward-42-1.scope");
    EXPECT_EQ(host.pid, 42);
    EXPECT_EQ(host.description, "scopevisor steward command bash -c ls");
    EXPECT_TRUE(p.killScope(unit, &error)) << error;
    EXPECT_EQ(host.killed, unit);
}

TEST(HostPlacement, RefusedScopeIsAnError) {
    ScopeHost host;
    host.error = "couldn't create scope scopevisor-steward-42-1.scope: Access denied";
    HostPlacement p(host);
    std::string unit, error;
    EXPECT_FALSE(p.place(42, {"ls"}, &unit, &error));
    EXPECT_EQ(error, host.error);
}

TEST(HostPlacement, LongCommandsAreCutInTheDescription) {
    std::vector<std::string> argv(100, "argument");
    std::string d = HostPlacement::description(argv);
    EXPECT_LE(d.size(), 210u);
    EXPECT_TRUE(d.ends_with(" ...")) << d;
}
