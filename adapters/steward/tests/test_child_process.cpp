// SPDX-License-Identifier: LGPL-2.1-or-later
#include <chrono>
#include <csignal>
#include <fstream>

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child_process.h"

using namespace steward;
using namespace std::chrono_literals;

TEST(ChildProcess, CollectsOutputAndStatus) {
    RunOptions o;
    auto r = runCommand({"bash", "-c", "echo out; echo err >&2; exit 3"}, o);
    ASSERT_TRUE(r.started);
    EXPECT_EQ(r.out, "out\n");
    EXPECT_EQ(r.err, "err\n");
    EXPECT_EQ(describeWaitStatus(r.waitStatus), "exit status 3");
}

TEST(ChildProcess, NoShellAndMissingProgram) {
    RunOptions o;
    auto r = runCommand({"echo", "$HOME", ";", "x"}, o);
    EXPECT_EQ(r.out, "$HOME ; x\n");
    r = runCommand({"/nonexistent/program"}, o);
    EXPECT_EQ(describeWaitStatus(r.waitStatus), "exit status 127");
    EXPECT_FALSE(runCommand({}, o).started);
}

TEST(ChildProcess, TimeoutKillsTheWholeGroup) {
    std::string pidFile = "/tmp/steward-child-" + std::to_string(getpid());
    RunOptions o;
    o.timeout = 500ms;
    auto t0 = std::chrono::steady_clock::now();
    // The grandchild holds the pipe, as in the Go node's case of docs/protocols/steward.md §5.5.
    auto r = runCommand({"bash", "-c", "sleep 30 & echo $! > " + pidFile + "; wait"}, o);
    EXPECT_TRUE(r.timedOut);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
    std::ifstream in(pidFile);
    pid_t grandchild = 0;
    in >> grandchild;
    ASSERT_GT(grandchild, 0);
    // Killed with the group (it may linger as a zombie of init for a moment).
    for (int i = 0; i < 100 && kill(grandchild, 0) == 0; ++i) {
        std::ifstream st("/proc/" + std::to_string(grandchild) + "/stat");
        std::string s((std::istreambuf_iterator<char>(st)), {});
        if (s.find(") Z") != std::string::npos)
            break;
        usleep(20000);
    }
    std::ifstream st("/proc/" + std::to_string(grandchild) + "/stat");
    std::string s((std::istreambuf_iterator<char>(st)), {});
    EXPECT_TRUE(s.empty() || s.find(") Z") != std::string::npos) << s;
    unlink(pidFile.c_str());
}

TEST(ChildProcess, LinesOneByOne) {
    RunOptions o;
    std::vector<std::string> lines;
    o.onStdoutLine = [&](std::string_view l) { lines.emplace_back(l); };
    runCommand({"printf", "a\\nb\\nlast"}, o);
    EXPECT_EQ(lines, (std::vector<std::string>{"a\n", "b\n", "last\n"}));
}

TEST(ChildProcess, Cancel) {
    std::atomic<bool> cancel{true};
    RunOptions o;
    o.cancel = &cancel;
    auto r = runCommand({"sleep", "30"}, o);
    EXPECT_TRUE(r.cancelled);
}

namespace {

std::string exeOf(pid_t pid) {
    char buf[4096];
    ssize_t n = readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

// Stands in for the daemon's scopes: records what it was asked.
struct FakePlacement final : Placement {
    std::string unit = "scopevisor-steward-1-2.scope";
    std::string placeError, killError;
    pid_t placedPid = 0;
    std::string exeWhenPlaced;
    std::vector<std::string> killed;

    bool place(pid_t pid, const std::vector<std::string>&, std::string* u, std::string* error) override {
        placedPid = pid;
        exeWhenPlaced = exeOf(pid);
        if (!placeError.empty()) {
            *error = placeError;
            return false;
        }
        *u = unit;
        return true;
    }
    bool killScope(const std::string& u, std::string* error) override {
        killed.push_back(u);
        if (killError.empty())
            return true;
        *error = killError;
        return false;
    }
};

std::string tempPath(const char* what) { return "/tmp/steward-" + std::string(what) + "-" + std::to_string(getpid()); }

} // namespace

TEST(ChildProcessPlacement, HeldUntilPlaced) {
    FakePlacement fp;
    RunOptions o;
    o.placement = &fp;
    auto r = runCommand({"echo", "ran"}, o);
    ASSERT_TRUE(r.started);
    EXPECT_EQ(r.out, "ran\n");
    EXPECT_EQ(r.unit, fp.unit);
    // While being placed the child had not exec'd yet: it was still this
    // test program, not echo.
    EXPECT_GT(fp.placedPid, 0);
    EXPECT_EQ(fp.exeWhenPlaced, exeOf(getpid()));
    EXPECT_TRUE(fp.killed.empty());
}

TEST(ChildProcessPlacement, RefusedScopeNeverRuns) {
    const std::string marker = tempPath("marker");
    unlink(marker.c_str());
    FakePlacement fp;
    fp.placeError = "couldn't create scope x.scope: Access denied";
    RunOptions o;
    o.placement = &fp;
    auto r = runCommand({"touch", marker}, o);
    EXPECT_FALSE(r.started);
    EXPECT_EQ(r.startError, fp.placeError);
    // The held child was killed and reaped before it could run anything.
    EXPECT_NE(access(marker.c_str(), F_OK), 0);
    EXPECT_NE(kill(fp.placedPid, 0), 0);
}

TEST(ChildProcessPlacement, TimeoutKillsTheScope) {
    FakePlacement fp;
    fp.killError = "couldn't stop scope: gone wrong";
    RunOptions o;
    o.placement = &fp;
    o.timeout = 300ms;
    auto r = runCommand({"sleep", "30"}, o);
    EXPECT_TRUE(r.timedOut);
    EXPECT_EQ(fp.killed, std::vector<std::string>{fp.unit});
    EXPECT_EQ(r.killError, fp.killError);
    // The process group kill still happened: the command is gone.
    EXPECT_EQ(describeWaitStatus(r.waitStatus), "signal: killed");
}

TEST(ChildProcessPlacement, NoScopeFallsBackToTheGroup) {
    FakePlacement fp;
    fp.unit.clear(); // the direct backend's answer
    RunOptions o;
    o.placement = &fp;
    o.timeout = 300ms;
    auto r = runCommand({"sleep", "30"}, o);
    EXPECT_TRUE(r.timedOut);
    EXPECT_TRUE(r.unit.empty());
    EXPECT_TRUE(fp.killed.empty());
    EXPECT_EQ(describeWaitStatus(r.waitStatus), "signal: killed");
}
