// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Reload (engine_reload.cpp): reread shows the difference and changes
// nothing that runs; reload touches only added, changed and removed groups.
#include <gtest/gtest.h>

#include <optional>

#include "engine.h"
#include "engine_configs.h"
#include "fake_backend.h"
#include "fake_loop.h"
#include "logging.h"

using namespace scopevisor;
using scopevisor::test::FakeBackend;
using scopevisor::test::FakeLoop;
using scopevisor::test::oneProgramGroup;

namespace {

config::Config configOf(std::vector<config::GroupConfig> groups) {
    config::Config c;
    c.groups = std::move(groups);
    return c;
}

class Reload : public ::testing::Test {
protected:
    void SetUp() override {
        log::setLevel(log::Level::Error);
        EngineOptions o;
        o.version = "test";
        o.configPath = "unused.conf";
        o.load = [this](const std::string&, const config::LoadContext&) {
            if (!next)
                throw std::runtime_error("unreadable");
            return *next;
        };
        engine = std::make_unique<Engine>(loop, backend, configOf({oneProgramGroup("keep"), oneProgramGroup("change"), oneProgramGroup("drop")}), o);
        engine->begin();
        loop.runPending();
    }
    template <typename T, typename F>
    std::optional<T> call(F&& f) {
        std::optional<T> out;
        f([&](T v) { out.emplace(std::move(v)); });
        loop.runPending();
        backend.deliverSignals();
        loop.runPending();
        return out;
    }
    ProcessState state(const std::string& n) { return engine->findProgram(n)->state(); }

    FakeLoop loop;
    FakeBackend backend;
    std::optional<config::Config> next;
    std::unique_ptr<Engine> engine;
};

} // namespace

TEST_F(Reload, RereadShowsTheDifferenceAndTouchesNothing) {
    next = configOf({oneProgramGroup("keep"), oneProgramGroup("change", "/bin/sleep 2000"), oneProgramGroup("new")});
    auto d = call<Result<ConfigDiff>>([&](auto cb) { engine->rereadConfig(cb); });
    ASSERT_TRUE(d && *d);
    EXPECT_EQ(d->value().added, std::vector<std::string>{"new"});
    EXPECT_EQ(d->value().changed, std::vector<std::string>{"change"});
    EXPECT_EQ(d->value().removed, std::vector<std::string>{"drop"});
    EXPECT_EQ(state("drop"), ProcessState::Running);
    EXPECT_EQ(engine->findProgram("new"), nullptr);
    // The configuration read is the one addGroup takes from.
    auto s = call<Status>([&](auto cb) { engine->addGroup("new", cb); });
    EXPECT_TRUE(*s);
    EXPECT_NE(engine->findProgram("new"), nullptr);
}

TEST_F(Reload, ReloadTouchesOnlyWhatChanged) {
    const pid_t kept = engine->findProgram("keep")->pid();
    next = configOf({oneProgramGroup("keep"), oneProgramGroup("change", "/bin/sleep 2000"), oneProgramGroup("new")});
    auto r = call<Result<ReloadResult>>([&](auto cb) { engine->reload(cb); });
    ASSERT_TRUE(r && *r);
    loop.runPending();
    EXPECT_EQ(engine->findProgram("keep")->pid(), kept);
    EXPECT_EQ(engine->findProgram("drop"), nullptr);
    ASSERT_NE(engine->findProgram("new"), nullptr);
    ASSERT_NE(engine->findProgram("change"), nullptr);
    EXPECT_EQ(engine->findProgram("change")->config().command, "/bin/sleep 2000");
}

TEST_F(Reload, AnUnreadableConfigurationKeepsTheRunningOne) {
    next.reset();
    auto r = call<Result<ReloadResult>>([&](auto cb) { engine->reload(cb); });
    ASSERT_TRUE(r);
    EXPECT_FALSE(*r);
    EXPECT_EQ(r->error().code, ErrorCode::CantReread);
    EXPECT_EQ(state("drop"), ProcessState::Running);
}
