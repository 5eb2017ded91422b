// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The environment a program starts with.
//
// supervisord gives its children its own environment plus its settings.
// scopevisord does the same, except for what systemd (or another service
// manager) handed to the daemon about the daemon itself: the notification
// socket, the watchdog, passed sockets, the journal stream of its stderr,
// its credentials and its unit's invocation. A program that saw those would
// believe they were meant for it: sd_notify("READY=1") or "WATCHDOG=1" from
// a program would speak for the daemon, and LISTEN_FDS would make a
// socket-activated program take fds 3... that are not sockets at all.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config.h"

namespace scopevisor {

// True for the variables that describe the daemon's own process to it and
// are never passed on from the daemon's environment (listed in
// scopevisord(8), ENVIRONMENT OF PROGRAMS).
bool isDaemonOnlyVariable(std::string_view name);

// The variables that describe a user (systemd's User= sets the same): a
// program with user= gets its user's values unless environment= sets them.
constexpr const char* kUserVariables[] = {"HOME", "USER", "LOGNAME", "SHELL"};

// The child's environment, docs/protocols/xmlrpc.md §6.7: the daemon's environment
// (less isDaemonOnlyVariable, and less kUserVariables when the program has a
// user=: forkChild fills those from the user database), SUPERVISOR_ENABLED=1,
// SUPERVISOR_SERVER_URL (the program's serverurl unless it is AUTO, else
// `serverUrl`; left out when that is empty), SUPERVISOR_PROCESS_NAME,
// SUPERVISOR_GROUP_NAME, then [supervisord] environment, then the program's
// environment. A later value replaces an earlier one in place, so the order
// is stable: first appearance of each key.
std::vector<std::string> buildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& daemonEnv,
    const config::DaemonConfig& daemon, const config::ProcessConfig& program,
    const std::string& serverUrl);

// The user's variables (`values`, in the order of kUserVariables) added to
// `env` ("KEY=value" entries) where `env` has no such key yet.
void addUserVariables(std::vector<std::string>& env, const std::string (&values)[4]);

// The calling process's environment as pairs (for buildEnvironment).
std::vector<std::pair<std::string, std::string>> currentEnvironment();

} // namespace scopevisor
