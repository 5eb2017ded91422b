// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Process spawning, shared by the backends.
//
// forkChild() does supervisord's child set-up (docs/protocols/xmlrpc.md §3.3) with Linux tools:
// pipes for stdin/stdout/stderr whose daemon ends are non-blocking, a child in
// a session and process group of its own, default signal dispositions, no
// inherited fds, the program's user, directory and umask, then execve(). The
// daemon runs threads, so the child may only make async-signal-safe calls:
// everything that needs memory or NSS (argv/envp arrays, the user's passwd
// and group data, message texts) is prepared in the parent before fork().
// A child that is not held shares the daemon's memory and fd table until it
// execs, as with posix_spawn (spawnShared in spawn.cpp): the cost of a spawn
// then does not grow with the daemon's memory and thousands of pipes, and
// the calling thread waits until the child has exec'd or failed. Such
// spawns use one child stack and a few reserved fds: one thread at a time
// (the direct backend's spawner thread).
//
// Failures in the child after fork() are reported on an error pipe that the
// successful execve() closes (O_CLOEXEC), so "EOF without a byte" means the
// program runs. For supervisord compatibility the child also writes
// supervisord's own lines ("supervisor: couldn't exec ...", "supervisor:
// child process was not spawned") to its stderr, which is the program's log.
//
// A "held" child (hold = true) stops after its fd set-up and waits for one
// byte on a release pipe before it switches user and execs. The systemd
// backend uses that to move the child into its scope first, so no
// instruction of the program runs outside the scope.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "backend.h"
#include "config.h"
#include "spawn_env.h"
#include "scopevisor/control.h"

namespace scopevisor {

class SpawnZygote;

struct Forked {
    Child child;        // pid, pidfd and the daemon ends of the pipes
    int releaseFd = -1; // hold mode: write end of the release pipe, else -1
    int errorFd = -1;   // read end of the error pipe (non-blocking, O_CLOEXEC)
};

// Fork the child described by `spec`. Every fd in the result belongs to the
// caller. A parent-side failure (unknown user, no privilege to switch user,
// out of fds or processes) is an Error with code SpawnFailed and nothing is
// left behind; failures inside the child come through errorFd.
// With `zygote`, a child that does not share the daemon's memory (held) is
// made by that spawner process (spawn_zygote.h) rather than by fork().
// The child's environment is spec.env, plus, with spec.user, the user's
// HOME, USER, LOGNAME and SHELL where spec.env has none (spawn_env.h); its
// soft RLIMIT_NOFILE is the one the daemon started with (spawn.cpp).
Result<Forked> forkChild(const SpawnSpec& spec, bool hold, SpawnZygote* zygote = nullptr);

// Let a held child go on to exec, and close releaseFd. Closing releaseFd
// without calling this (or the daemon dying) makes the child _exit(127)
// without running the program.
void releaseChild(int releaseFd);

// The child's failure message from the error pipe, or "" when the exec
// succeeded. With `block`, waits until the child has either exec'd or
// exited. Without it, call only once errorFd is readable (EPOLLIN/EPOLLHUP):
// the child writes its message with one write() and exits, so a readable
// pipe holds either the whole message or EOF. Does not close errorFd.
std::string readSpawnError(int errorFd, bool block);

// Resolve argv[0] the way supervisord does (process.py get_execv_args): a
// name containing '/' is used as written, anything else is looked up in the
// directories of `pathEnv` (supervisord's default /bin:/usr/bin:/usr/local/bin
// when empty), the first existing file wins. Errors carry supervisord's texts
// because supervisorctl shows them verbatim:
//   NoFile        "can't find command 'x'"
//   NotExecutable "command at '/x' is a directory",
//                 "command at '/x' is not executable",
//                 "no permission to run command '/x'", "command is empty".
// Relative names are checked relative to `directory` when one is given,
// because the child chdirs there before it execs; the returned path stays
// as written (relative) for the same reason.
Result<std::string> resolveExecutable(const std::string& argv0, const std::string& pathEnv,
                                      const std::string& directory = {});

// pidfd helpers (raw syscalls; errno on failure).
int pidfdOpen(pid_t pid);
int pidfdSendSignal(int pidfd, int sig);

} // namespace scopevisor
