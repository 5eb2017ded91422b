// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The exit watcher both backends use, with real processes on a real sd-event
// loop: the status of our own child as waitpid() gives it, reaped after the
// callback and not before; an adopted process (not our child) exits with an
// unknown status, never an invented one; a forgotten process is reaped
// without a callback.
#include <gtest/gtest.h>

#include <optional>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exit_watcher.h"
#include "sd_event_loop.h"
#include "spawn.h"

using namespace scopevisor;

namespace {

constexpr uint64_t kTimeout = 10'000'000;

struct Exit {
    int status = 0;
    bool known = false;
};

// A child that waits for a byte on a pipe, then exits with `code` (or
// raises `sig`).
struct Held {
    pid_t pid = -1;
    int pidfd = -1;
    int go = -1;
    Held(int code, int sig = 0) {
        int p[2];
        if (::pipe(p) != 0)
            return;
        pid = ::fork();
        if (pid == 0) {
            ::close(p[1]);
            char c;
            (void)!::read(p[0], &c, 1);
            if (sig)
                ::raise(sig);
            ::_exit(code);
        }
        ::close(p[0]);
        go = p[1];
        pidfd = pidfdOpen(pid);
    }
    void release() {
        (void)!::write(go, "x", 1);
        ::close(go);
        go = -1;
    }
    ~Held() {
        if (go >= 0)
            ::close(go);
        if (pidfd >= 0)
            ::close(pidfd);
    }
};

bool isZombie(pid_t pid) {
    siginfo_t info{};
    return ::waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

bool reaped(pid_t pid) {
    siginfo_t info{};
    return ::waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
}

TEST(ExitWatcher, OwnChildExitCodeThenReaped) {
    SdEventLoop loop;
    ExitWatcher w(loop);
    Held h(7);
    ASSERT_GE(h.pidfd, 0);
    std::optional<Exit> seen;
    bool zombieInCallback = false;
    w.watch(h.pid, h.pidfd, [&](int status, bool known) {
        seen = Exit{status, known};
        zombieInCallback = isZombie(h.pid);
    });
    EXPECT_TRUE(w.watching(h.pid));
    h.release();
    ASSERT_TRUE(loop.runUntil([&] { return seen.has_value(); }, kTimeout));
    EXPECT_TRUE(seen->known);
    EXPECT_TRUE(WIFEXITED(seen->status));
    EXPECT_EQ(WEXITSTATUS(seen->status), 7);
    EXPECT_TRUE(zombieInCallback) << "the pid must stay reserved while the engine handles the exit";
    EXPECT_TRUE(reaped(h.pid));
    EXPECT_FALSE(w.watching(h.pid));
}

TEST(ExitWatcher, OwnChildKilledBySignal) {
    SdEventLoop loop;
    ExitWatcher w(loop);
    Held h(0, SIGTERM);
    std::optional<Exit> seen;
    w.watch(h.pid, h.pidfd, [&](int status, bool known) { seen = Exit{status, known}; });
    h.release();
    ASSERT_TRUE(loop.runUntil([&] { return seen.has_value(); }, kTimeout));
    EXPECT_TRUE(seen->known);
    ASSERT_TRUE(WIFSIGNALED(seen->status));
    EXPECT_EQ(WTERMSIG(seen->status), SIGTERM);
}

TEST(ExitWatcher, NotOurChildExitsWithUnknownStatus) {
    // A grandchild, orphaned by its parent: as a process a previous daemon
    // started, it can be watched through a pidfd but not waited for.
    int subreaper = 0;
    if (::prctl(PR_GET_CHILD_SUBREAPER, &subreaper) == 0 && subreaper)
        GTEST_SKIP() << "this process is a subreaper: orphans would become its children";
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    int gp[2];
    ASSERT_EQ(::pipe(gp), 0);
    pid_t mid = ::fork();
    ASSERT_GE(mid, 0);
    if (mid == 0) {
        pid_t g = ::fork();
        if (g == 0) {
            ::close(gp[0]);
            ::close(p[1]);
            char c;
            (void)!::read(p[0], &c, 1);
            ::_exit(3);
        }
        (void)!::write(gp[1], &g, sizeof g);
        ::_exit(0);
    }
    ::close(p[0]);
    ::close(gp[1]);
    pid_t g = -1;
    ASSERT_EQ(::read(gp[0], &g, sizeof g), ssize_t(sizeof g));
    ::close(gp[0]);
    ASSERT_EQ(::waitpid(mid, nullptr, 0), mid);
    int pidfd = pidfdOpen(g);
    ASSERT_GE(pidfd, 0);

    SdEventLoop loop;
    ExitWatcher w(loop);
    std::optional<Exit> seen;
    w.watch(g, pidfd, [&](int status, bool known) { seen = Exit{status, known}; });
    ::close(p[1]); // EOF: the grandchild exits with 3, which we cannot read
    ASSERT_TRUE(loop.runUntil([&] { return seen.has_value(); }, kTimeout));
    EXPECT_FALSE(seen->known);
    EXPECT_EQ(seen->status, 0);
    ::close(pidfd);
}

TEST(ExitWatcher, ForgottenChildIsReapedWithoutCallback) {
    SdEventLoop loop;
    ExitWatcher w(loop);
    Held h(0);
    bool called = false;
    w.watch(h.pid, h.pidfd, [&](int, bool) { called = true; });
    ::kill(h.pid, SIGKILL);
    w.forget(h.pid, h.pidfd);
    ::close(h.pidfd); // the caller's fd: the watcher works on its own dup
    h.pidfd = -1;
    EXPECT_TRUE(w.watching(h.pid)); // until it is reaped
    ASSERT_TRUE(loop.runUntil([&] { return !w.watching(h.pid); }, kTimeout));
    EXPECT_TRUE(reaped(h.pid));
    EXPECT_FALSE(called);
}

TEST(ExitWatcher, ForgettingAnUnwatchedPidDoesNothing) {
    SdEventLoop loop;
    ExitWatcher w(loop);
    Held h(0);
    w.forget(h.pid, h.pidfd);
    EXPECT_FALSE(w.watching(h.pid));
    h.release();
    EXPECT_EQ(::waitpid(h.pid, nullptr, 0), h.pid); // still ours to reap
}

} // namespace
