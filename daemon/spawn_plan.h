// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The child's side of a spawn, shared by forkChild (spawn.cpp) and the
// spawner process (spawn_zygote.cpp). A ChildPlan is plain data: pointers
// and numbers only, so that the spawner can rebuild one from a message
// without allocating, and a child can follow it with async-signal-safe
// calls only.
#pragma once

#include <cstddef>

#include <sys/types.h>

namespace scopevisor::spawnplan {

struct ChildPlan {
    const char* path = nullptr;
    char* const* argv = nullptr;
    char* const* envp = nullptr;
    const char* argv0 = nullptr;
    const char* directory = nullptr; // nullptr: stay
    int umask = -1;
    bool hold = false;
    bool keepPipesAlive = false;
    // Child ends; err is -1 with redirect_stderr (fd 2 = fd 1 then).
    int in = -1, out = -1, err = -1;
    int errorFd = -1;   // write end of the error pipe
    int releaseFd = -1; // hold mode: the child's end of the release socket
    // The user to switch to, looked up by the daemon (NSS is not safe in
    // a child): nothing changes unless changeUser.
    bool changeUser = false;
    uid_t uid = 0;
    gid_t gid = 0;
    const gid_t* groups = nullptr; // supplementary groups, primary included
    size_t ngroups = 0;
    const char* uidText = ""; // for the child's messages
    int maxFd = 1024; // for the close() loop on kernels without close_range
    // >= 0: the soft RLIMIT_NOFILE to exec with (the daemon's own was raised
    // after it started, and select() in a program breaks above 1024 fds).
    int nofileSoft = -1;
    // spawnShared: the child starts on the daemon's own fd table and must
    // make a table of its own, of fds below this number, before it touches
    // any fd (see ChildSlots in spawn.cpp).
    int sharedFilesBelow = -1;
};

// The child from its first instruction to execve(); never returns. Only
// async-signal-safe calls.
[[noreturn]] void runChild(const ChildPlan& plan);

// Close fds first..last: close_range(2), or one by one up to maxFd where
// the kernel lacks it. Async-signal-safe.
void closeRange(unsigned first, unsigned last, int maxFd);

// runChild for clone(2): `plan` is a ChildPlan*.
int childMain(void* plan);

// supervisord's exit code for a child that could not exec.
constexpr int kNotSpawnedExit = 127;

} // namespace scopevisor::spawnplan
