// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Backends start and signal a program's processes. The engine decides *when*
// (the state machine); a backend decides *how*: `direct` forks into a new
// session and process group, `systemd` (systemd_backend.cpp) places the child
// in a transient scope before it may run. Both report the exit of the main
// process through the loop.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "config.h"
#include "scopevisor/control.h"

namespace scopevisor {

struct SpawnSpec {
    std::string namespec;
    std::string path;              // resolved executable
    std::vector<std::string> argv; // argv[0] as written in the command
    std::vector<std::string> env;  // "KEY=value", complete
    std::string directory;         // "" = stay
    std::string user;              // "" = the daemon's user
    int umask = -1;                // -1 = inherit
    bool redirectStderr = false;
    // Give the child a read-write end of its own pipes (docs/architecture.md §5), so the
    // pipes outlive the daemon. Set by backends whose programs survive it.
    bool keepPipesAlive = false;
    const config::ProcessConfig* cfg = nullptr; // for backend-specific settings
};

struct Child {
    pid_t pid = 0;
    int pidfd = -1;
    int stdinFd = -1;  // write end, owned by the engine after spawn
    int stdoutFd = -1; // read end
    int stderrFd = -1; // read end; -1 with redirect_stderr
    std::string unit;  // systemd scope name, "" for direct
    // /proc/<pid>/stat's start time, read where the spawn was made (see
    // forkChild): read later on the engine's thread it could block while
    // the program execs. 0 if unknown.
    uint64_t startTicks = 0;
};

class Backend {
public:
    using SpawnDone = std::function<void(Result<Child>)>;
    // waitStatus as from waitpid(); `known` is false when it could not be read
    // (an adopted process that is not our child).
    using ExitFn = std::function<void(int waitStatus, bool known)>;

    virtual ~Backend() = default;
    virtual const char* name() const = 0;

    // Start the process. `done` runs exactly once on the loop thread (possibly
    // before spawn() returns). After a successful spawn, `exited` runs once
    // when the main process has exited; it is reaped right after `exited`
    // returns, so its pid (and process group id) cannot be reused while
    // `exited` calls cleanup().
    virtual void spawn(const SpawnSpec& spec, SpawnDone done, ExitFn exited) = 0;
    // Signal the main process, or with `tree` every process of the program
    // (process group / scope). Returns 0 or an errno value.
    virtual int kill(const Child& c, int sig, bool tree) = 0;
    // The main process has exited: kill whatever of the program is left and
    // free backend resources (the scope). Never blocks.
    virtual void cleanup(const Child& c) = 0;
    // Take over a process that a previous daemon started (docs/architecture.md §5):
    // watch `c.pidfd` and call `exited` once when it has gone. The process is
    // not our child, so its exit status cannot be read: `known` is false.
    virtual Status adopt(const std::string& namespec, const Child& c, ExitFn exited) {
        (void)namespec;
        (void)c;
        (void)exited;
        return Error{ErrorCode::Failed, std::string(name()) + " backend cannot adopt processes"};
    }
};

} // namespace scopevisor
