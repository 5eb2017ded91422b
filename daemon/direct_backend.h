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
// Exits are watched through the main process's pidfd on the loop
// (exit_watcher.h), so the daemon needs no SIGCHLD handler and never reaps a
// child it does not own.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "backend.h"
#include "exit_watcher.h"
#include "loop.h"
#include "spawn.h"

namespace scopevisor {

class DirectBackend : public Backend {
public:
    explicit DirectBackend(Loop& loop);
    ~DirectBackend() override;
    DirectBackend(const DirectBackend&) = delete;
    DirectBackend& operator=(const DirectBackend&) = delete;

    const char* name() const override { return "direct"; }

    // Hands the spec to the spawner thread and returns at once; `done` runs
    // on the loop when the child has exec'd (EOF on its close-on-exec error
    // pipe) or failed. The spawner thread makes the children one after the
    // other (forkChild waits for each exec) and only that: it touches no
    // program state, and what it made comes back through the loop. So the
    // loop never waits for a child to be scheduled and to exec, which on a
    // busy machine takes milliseconds. A failure before the program runs
    // (bad user, directory, executable, no fork) is an Error with code
    // SpawnFailed naming the cause; that child has been reaped and its pipes
    // closed.
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
    // What the spawner thread works on. `label` gives forkChild the
    // program's name for its messages (spec.cfg points to it): the
    // program's own configuration may be gone by the time the job runs.
    struct Job {
        uint64_t id = 0;
        SpawnSpec spec;
        config::ProcessConfig label;
    };
    struct Request { // on the loop, until the job is done
        SpawnDone done;
        ExitFn exited;
    };
    void spawnerMain();
    void onForked(uint64_t id, Result<Forked> r);
    std::unordered_map<uint64_t, Request> requests_;
    uint64_t lastJob_ = 0;
    std::mutex jobsMutex_;
    std::condition_variable jobsCv_;
    std::deque<std::unique_ptr<Job>> jobs_; // guarded by jobsMutex_
    bool stopping_ = false;                 // guarded by jobsMutex_
    std::thread spawner_;                   // started by the first spawn()
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

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
    ExitWatcher exits_{loop_};
};

} // namespace scopevisor
