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
    // The grandchild holds the pipe, as in the Go node's case of spec §5.
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
