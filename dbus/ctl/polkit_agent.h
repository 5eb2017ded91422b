// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A textual polkit authentication agent for the time of one scopevisorctl
// command, as systemctl has: when a call needs an administrator's password
// and polkit may ask (the call carries ALLOW_INTERACTIVE_AUTHORIZATION),
// polkitd asks the agent registered for the caller's process, and
// pkttyagent asks on the terminal.
#pragma once

#include <memory>

#include <sys/types.h>

namespace sdbus {
class IConnection;
}

namespace scopevisorctl {

class PolkitAgent {
public:
    // Starts pkttyagent --notify-fd N [--fallback] for this process and
    // waits until it has registered with polkitd (it closes N then), so
    // that the call that follows finds it. Nothing for root, whom the
    // daemon never asks polkit about, or when pkttyagent is missing or
    // fails: the call then fails with InteractiveAuthorizationRequired.
    static std::unique_ptr<PolkitAgent> start();
    ~PolkitAgent(); // SIGTERM, then waits for it
    PolkitAgent(const PolkitAgent&) = delete;
    PolkitAgent& operator=(const PolkitAgent&) = delete;

private:
    explicit PolkitAgent(pid_t pid) : pid_(pid) {}
    pid_t pid_;
};

// Let polkit ask the user on every method call made on `conn` from now on
// (sets ALLOW_INTERACTIVE_AUTHORIZATION on them, as busctl and systemctl
// do). False if the flag could not be set.
bool allowInteractiveAuthorization(sdbus::IConnection& conn);

} // namespace scopevisorctl
