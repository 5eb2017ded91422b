// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Runs one command for REQCliCommand and friends as a direct child in a
// process group of its own, so a timeout kills the whole tree (Steward only
// killed the direct child and let grandchildren run on).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace steward {

struct RunResult {
    bool started = false;
    std::string startError; // when !started
    bool timedOut = false;
    bool cancelled = false;
    int waitStatus = 0;     // as waitpid gives it
    std::string out, err;   // collected when no line callback is given
    bool outTruncated = false;
};

struct RunOptions {
    std::chrono::milliseconds timeout{10000};
    const std::atomic<bool>* cancel = nullptr;
    // When set, stdout goes here line by line (with its '\n') instead of `out`.
    std::function<void(std::string_view line)> onStdoutLine;
    std::function<void(std::string_view line)> onStderrLine;
    size_t maxOutput = 16 * 1024 * 1024;
};

// argv[0] is looked up in PATH; no shell is involved, as exec.Command.
RunResult runCommand(const std::vector<std::string>& argv, const RunOptions& o);

// "exit status 3", "signal: killed": Go's texts for a failed command.
std::string describeWaitStatus(int status);

} // namespace steward
