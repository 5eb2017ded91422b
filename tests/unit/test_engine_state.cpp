// SPDX-License-Identifier: LGPL-2.1-or-later
//
// State across daemon restarts (engine_state.cpp): the desired state a user
// set is saved and the next engine of the same configuration keeps it.
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>

#include <unistd.h>

#include "engine.h"
#include "engine_configs.h"
#include "fake_backend.h"
#include "fake_loop.h"
#include "logging.h"
#include "state_file.h"

using namespace scopevisor;
using scopevisor::test::FakeBackend;
using scopevisor::test::FakeLoop;
using scopevisor::test::oneProgramGroup;

namespace {

class EngineState : public ::testing::Test {
protected:
    void SetUp() override {
        log::setLevel(log::Level::Error);
        char tmpl[] = "/tmp/test_engine_state.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir = tmpl;
    }
    void TearDown() override { std::filesystem::remove_all(dir); }

    std::unique_ptr<Engine> start(FakeLoop& loop, FakeBackend& backend) {
        config::Config cfg;
        cfg.daemon.stateDir = dir;
        cfg.daemon.nocleanup = true;
        cfg.groups = {oneProgramGroup("a"), oneProgramGroup("b")};
        EngineOptions o;
        o.version = "test";
        o.configPath = dir + "/scopevisord.conf";
        auto e = std::make_unique<Engine>(loop, backend, std::move(cfg), o);
        e->begin();
        loop.runPending();
        return e;
    }

    std::string dir;
};

} // namespace

TEST_F(EngineState, TheDesiredStateOutlivesTheDaemon) {
    {
        FakeLoop loop;
        FakeBackend backend;
        auto e = start(loop, backend);
        std::optional<Status> st;
        e->stop("a", true, [&](Status s) { st = s; });
        loop.runPending();
        backend.deliverSignals();
        loop.runPending();
        ASSERT_TRUE(st && *st);
        e->requestDetach(); // the final save is written before it returns
        const StateMap saved = readStateFile(stateFilePath(stateDirectory(dir), dir + "/scopevisord.conf"));
        ASSERT_EQ(saved.count("a"), 1u);
        EXPECT_EQ(saved.at("a").desired, Desired::Stopped);
    }
    FakeLoop loop;
    FakeBackend backend;
    auto e = start(loop, backend);
    EXPECT_EQ(e->findProgram("a")->state(), ProcessState::Stopped); // not autostarted
    EXPECT_EQ(e->findProgram("b")->state(), ProcessState::Running);
}
