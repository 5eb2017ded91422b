// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The `direct` backend: plain fork/exec for machines without systemd.
//
// Each program runs in a session and process group of its own (pgid == pid
// of the main process). The process group plays the part that the scope
// plays for the systemd backend: it is the program. A tree kill signals the
// group, and cleanup() SIGKILLs whatever is left in it once the main process
// has exited, like systemd's KillMode=control-group, so that the leftovers of
// `sh -c 'a & b & wait'` do not outlive the program. The limit of this
// backend: a process that leaves the group on purpose (setsid(), a
// double-forking daemon) escapes it; only a scope catches those.
//
// Exits are watched through the main process's pidfd on the loop, so the
// daemon needs no SIGCHLD handler and never reaps a child it does not own.
#pragma once

#include <unordered_map>

#include "backend.h"
#include "loop.h"

namespace scopevisor {

class DirectBackend : public Backend {
public:
    explicit DirectBackend(Loop& loop);
    ~DirectBackend() override;
    DirectBackend(const DirectBackend&) = delete;
    DirectBackend& operator=(const DirectBackend&) = delete;

    const char* name() const override { return "direct"; }

    // Spawns and returns once the child has exec'd or failed (forkChild
    // without hold waits that long, no more); `done` runs on the loop when
    // the error pipe says which (EOF on its close-on-exec end). A failure
    // before the program runs (bad user, directory, executable) is an Error
    // with code SpawnFailed naming the cause; that child has been reaped and
    // its pipes closed. A parent side failure (fork) is reported before
    // spawn() returns.
    //
    // `exited` is called while the main process is still a zombie and it is
    // reaped right after `exited` returns: a cleanup() called from `exited`
    // thus signals a process group whose id cannot have been reused.
    void spawn(const SpawnSpec& spec, SpawnDone done, ExitFn exited) override;

    // `tree`: the whole process group; else the main process through its
    // pidfd (which cannot hit a recycled pid).
    int kill(const Child& c, int sig, bool tree) override;

    // SIGKILL to the program's process group (nothing left is no error) and
    // close c.pidfd, which is invalid afterwards. Called before the exit was
    // seen, the main process is killed too and reaped in the background
    // without calling `exited`.
    void cleanup(const Child& c) override;
    Status adopt(const std::string& namespec, const Child& c, ExitFn exited) override;

private:
    struct Watch {
        int pidfd = -1;
        bool ownsFd = false; // a dup kept after cleanup(): close it when done
        SourcePtr source;
        ExitFn exited; // empty after cleanup(): reap only
    };
    void watch(pid_t pid, int pidfd, bool ownsFd, ExitFn exited);
    void onPidfd(pid_t pid);
    // A child between fork and exec.
    struct Pending {
        Child child;
        int errorFd = -1;
        std::string message;
        SourcePtr source;
        SpawnDone done;
        ExitFn exited;
    };
    void onErrorPipe(pid_t pid);
    void finishSpawn(Pending p);
    std::unordered_map<pid_t, Pending> pending_;

    Loop& loop_;
    std::unordered_map<pid_t, Watch> watches_;
};

} // namespace scopevisor
