// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Runs one command for REQCliCommand and friends as a direct child in a
// process group of its own and, when a Placement is given, in a transient
// scope of its own, so a timeout kills the whole tree (Steward only killed
// the direct child and let grandchildren run on). A process group is left
// by any grandchild that calls setsid(); a scope is not.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

namespace steward {

struct RunResult {
    bool started = false;
    std::string startError; // when !started
    bool timedOut = false;
    bool cancelled = false;
    int waitStatus = 0;     // as waitpid gives it
    std::string out, err;   // collected when no line callback is given
    bool outTruncated = false;
    std::string unit;       // the command's scope, "" if none
    std::string killError;  // when killing the scope on timeout failed
};

// Where a command's processes go before it may run (the daemon's transient
// scopes, see host_placement.h).
class Placement {
public:
    virtual ~Placement() = default;
    // The child `pid` is held before exec. True with *unit set to its new
    // scope, or to "" when there are no scopes here (the process group is
    // then the tree); false with *error when no scope could be made (the
    // child is then killed without having run).
    virtual bool place(pid_t pid, const std::vector<std::string>& argv, std::string* unit, std::string* error) = 0;
    // Kill every process of `unit` and return once the scope is gone; false
    // with *error when that failed.
    virtual bool killScope(const std::string& unit, std::string* error) = 0;
};

struct RunOptions {
    std::chrono::milliseconds timeout{10000};
    const std::atomic<bool>* cancel = nullptr;
    // When set, stdout goes here line by line (with its '\n') instead of `out`.
    std::function<void(std::string_view line)> onStdoutLine;
    std::function<void(std::string_view line)> onStderrLine;
    size_t maxOutput = 16 * 1024 * 1024;
    // Null: a process group only.
    Placement* placement = nullptr;
};

// argv[0] is looked up in PATH; no shell is involved, as exec.Command.
RunResult runCommand(const std::vector<std::string>& argv, const RunOptions& o);

// "exit status 3", "signal: killed": Go's texts for a failed command.
std::string describeWaitStatus(int status);

} // namespace steward
