// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Watching the main processes of programs exit, for both backends.
//
// A pidfd polls readable once its process has exited, before it is reaped,
// so the daemon needs no SIGCHLD handler and never reaps a child it does not
// own. At the exit the status is only peeked (waitid WNOWAIT): the zombie
// keeps its pid, and with it the process group id, reserved while the
// engine handles the exit (Backend::spawn); it is reaped right after.
//
// A process that is not our child (adopted from a previous daemon) cannot
// be reaped and its status cannot be read: its exit is reported with
// `known` false, never with an invented status.
#pragma once

#include <unordered_map>

#include <sys/types.h>

#include "backend.h"
#include "loop.h"

namespace scopevisor {

class ExitWatcher {
public:
    using ExitFn = Backend::ExitFn;

    explicit ExitWatcher(Loop& loop);
    // Stops watching; the processes keep running.
    ~ExitWatcher();
    ExitWatcher(const ExitWatcher&) = delete;
    ExitWatcher& operator=(const ExitWatcher&) = delete;

    // Call `exited` once when `pid` has exited, then reap it if it is our
    // child. `pidfd` stays the caller's (it closes it in cleanup()). Throws
    // when the loop cannot watch the fd.
    void watch(pid_t pid, int pidfd, ExitFn exited);

    // The engine gave up on `pid` before its exit was seen and it has just
    // been killed: reap it when it is gone, without calling `exited`. Works
    // on a dup of `pidfd`, so the caller may close its own now. Nothing
    // happens for a pid that is not watched.
    void forget(pid_t pid, int pidfd);

    bool watching(pid_t pid) const { return watches_.count(pid) != 0; }

private:
    struct Watch {
        int pidfd = -1;
        bool ownsFd = false; // a dup kept by forget(): closed when done
        SourcePtr source;
        ExitFn exited; // empty after forget(): reap only
    };
    void add(pid_t pid, int pidfd, bool ownsFd, ExitFn exited);
    void onPidfd(pid_t pid);

    Loop& loop_;
    std::unordered_map<pid_t, Watch> watches_;
};

// Wait for `pid` (our child, exited or about to) to be gone.
void reap(pid_t pid);

} // namespace scopevisor
