// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A command's placement through the adapter API: a transient scope of its
// own under scopevisor.slice on the systemd backend, nothing on the direct
// backend (the process group is the tree there).
#pragma once

#include "child_process.h"
#include "scopevisor/adapter.h"

namespace steward {

class HostPlacement final : public Placement {
public:
    explicit HostPlacement(scopevisor::AdapterHost& host) : host_(host) {}
    // Blocks the calling (job) thread until the daemon has answered.
    bool place(pid_t pid, const std::vector<std::string>& argv, std::string* unit, std::string* error) override;
    bool killScope(const std::string& unit, std::string* error) override;

    // "scopevisor steward command <argv>", cut to a readable length.
    static std::string description(const std::vector<std::string>& argv);

private:
    scopevisor::AdapterHost& host_;
};

} // namespace steward
