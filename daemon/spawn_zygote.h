// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The spawner: a small process, forked once when the systemd backend comes
// up, that makes the held children of the programs (forkChild with hold).
//
// Why: a held child waits for its scope before it execs, so it cannot share
// the daemon's memory the way posix_spawn does (spawnShared in spawn.cpp);
// it needs a copy. A fork() of the daemon with a thousand programs copies
// thousands of pipe fds and megabytes of page tables, the child closes the
// fds again, and the daemon then takes a copy-on-write fault on every page
// it touches while any held child shares it: about 2 ms of CPU per program,
// most of the cost of a mass start on two CPUs. The spawner is forked while
// the daemon is still small and holds nothing but its socket, so its forks
// cost little, however big the daemon grows.
//
// The daemon sends each child's ChildPlan (spawn_plan.h) as one message on a
// SOCK_SEQPACKET socket, with the child's fds attached (SCM_RIGHTS). The
// spawner makes the child with clone(CLONE_PARENT | CLONE_PIDFD): the child
// is the daemon's own, as if it had forked it (it reaps it and reads its
// exit status), and the spawner sends back its pid and a pidfd. The spawner
// allocates nothing after fork() and runs only system calls, so it may be
// forked from a daemon with threads. It dies with the daemon (parent-death
// signal, and EOF on its socket).
//
// When the spawner is gone, or a plan does not fit in a message, forkChild
// forks from the daemon as before: slower, never wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

#include "spawn_plan.h"
#include "spawn_wire.h"

namespace scopevisor {

class SpawnZygote {
public:
    // Fork the spawner now. nullptr, with *why, if it cannot be made.
    static std::unique_ptr<SpawnZygote> start(std::string* why);
    ~SpawnZygote(); // closes the socket; the spawner exits and is reaped

    SpawnZygote(const SpawnZygote&) = delete;
    SpawnZygote& operator=(const SpawnZygote&) = delete;

    struct Made {
        pid_t pid = -1;   // > 0: the child exists
        int pidfd = -1;   // the caller's, with pid > 0
        int error = 0;    // pid <= 0: errno of clone() in the spawner, or
        bool retry = false; // true: the spawner could not take it; fork instead
    };
    // Make the child of `plan` (its fds are sent, not taken: the caller
    // still owns and closes them).
    Made spawn(const spawnplan::ChildPlan& plan);

    pid_t pid() const { return pid_; }
    bool alive() const { return sock_ >= 0; }

private:
    SpawnZygote(pid_t pid, int sock) : pid_(pid), sock_(sock) {}
    void lost(const char* why); // the spawner is gone or broken: stop using it

    pid_t pid_ = -1;
    int sock_ = -1;
};

} // namespace scopevisor
