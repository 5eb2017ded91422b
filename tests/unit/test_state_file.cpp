// SPDX-License-Identifier: LGPL-2.1-or-later
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

#include "state_file.h"

using namespace scopevisor;
namespace fs = std::filesystem;

namespace {

class StateFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/scopevisor-state-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
};

std::string slurp(const fs::path& p) {
    std::ifstream f(p);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

} // namespace

TEST_F(StateFileTest, WriteLeavesOnlyTheFileWithMode0600) {
    const fs::path file = dir_ / "x.state";
    StateMap m;
    m["web"].desired = Desired::Stopped;
    std::string err;
    ASSERT_TRUE(writeStateFile(file, m, &err)) << err;
    ASSERT_TRUE(writeStateFile(file, m, &err)) << err;
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir_)) {
        ++n;
        EXPECT_EQ(e.path(), file); // no temporary file left behind
    }
    EXPECT_EQ(n, 1u);
    EXPECT_EQ(fs::status(file).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_EQ(readStateFile(file).at("web").desired, Desired::Stopped);
}

TEST_F(StateFileTest, APlantedSymlinkAtTheOldTemporaryNameIsNotFollowed) {
    // The old code wrote "<file>.tmp" through whatever was there.
    const fs::path file = dir_ / "x.state";
    const fs::path target = dir_ / "precious";
    { std::ofstream(target) << "keep\n"; }
    fs::create_symlink(target, file.string() + ".tmp");
    std::string err;
    ASSERT_TRUE(writeStateFile(file, StateMap{}, &err)) << err;
    EXPECT_EQ(slurp(target), "keep\n");
    EXPECT_FALSE(fs::is_symlink(file));
}

TEST_F(StateFileTest, AFailedWriteLeavesTheOldFile) {
    const fs::path file = dir_ / "x.state";
    std::string err;
    StateMap m;
    m["a"].pid = 7;
    ASSERT_TRUE(writeStateFile(file, m, &err)) << err;
    // A directory at the name: rename fails, nothing else changes.
    const fs::path blocked = dir_ / "blocked";
    fs::create_directories(blocked / "inside");
    EXPECT_FALSE(writeStateFile(blocked, m, &err));
    EXPECT_NE(err.find(blocked.string()), std::string::npos) << err;
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_))
        ++n;
    EXPECT_EQ(n, 2u); // x.state and blocked: no temporary left
    EXPECT_EQ(readStateFile(file).at("a").pid, 7);
}

TEST(StateFileParse, ReadsWhatItWrites) {
    StateMap m;
    ProgramRecord& r = m["g:p_0"];
    r.desired = Desired::Started;
    r.pid = 1234;
    r.pidStartTicks = 5678;
    r.unit = "p_0.scope";
    r.nextSeq = 9;
    const StateMap back = parseStateFile(formatStateFile(m));
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back.at("g:p_0").pidStartTicks, 5678u);
    EXPECT_EQ(back.at("g:p_0").unit, "p_0.scope");
    EXPECT_TRUE(parseStateFile("not a state file\n").empty());
    EXPECT_TRUE(parseStateFile("").empty());
}

TEST(StatLine, StartTimeAfterTheLastParenthesis) {
    const std::string tail = " S 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 424242 1 2 3\n";
    EXPECT_EQ(parseStatStartTicks("77 (sh)" + tail), 424242u);
    EXPECT_EQ(parseStatStartTicks("77 (a) b (c) 9 9)" + tail), 424242u);
    EXPECT_EQ(parseStatStartTicks("77 (x\ny)" + tail), 424242u);
    // A zombie, a short line, a number that does not fit: 0.
    EXPECT_EQ(parseStatStartTicks("77 (sh) Z 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 424242\n"), 0u);
    EXPECT_EQ(parseStatStartTicks("77 (sh) S 1 2 3\n"), 0u);
    EXPECT_EQ(parseStatStartTicks("77 (sh) S 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99999999999999999999999\n"), 0u);
    EXPECT_EQ(parseStatStartTicks("no parenthesis"), 0u);
    EXPECT_EQ(parseStatStartTicks(""), 0u);
}

TEST(StatLine, OwnProcessHasAStartTime) {
    EXPECT_GT(processStartTicks(::getpid()), 0u);
    EXPECT_EQ(processStartTicks(0), 0u);
}
