// SPDX-License-Identifier: LGPL-2.1-or-later
#include "spawn_env.h"

#include <cstring>
#include <unordered_map>

#include <strings.h>

extern char** environ;

namespace scopevisor {

bool isDaemonOnlyVariable(std::string_view name) {
    // sd_notify(3), sd_watchdog_enabled(3), sd_listen_fds(3), and what
    // systemd.exec(5) sets about the service's own run.
    static constexpr std::string_view kExact[] = {
        "NOTIFY_SOCKET",         "WATCHDOG_PID",          "WATCHDOG_USEC",    "LISTEN_FDS",
        "LISTEN_PID",            "LISTEN_FDNAMES",        "INVOCATION_ID",    "JOURNAL_STREAM",
        "MAINPID",               "MANAGERPID",            "SYSTEMD_EXEC_PID", "CREDENTIALS_DIRECTORY",
        "MEMORY_PRESSURE_WATCH", "MEMORY_PRESSURE_WRITE", "FDSTORE",
    };
    // The unit that triggered the daemon's (TRIGGER_UNIT, ...) or that an
    // OnFailure=/OnSuccess= unit watches (MONITOR_SERVICE_RESULT, ...).
    static constexpr std::string_view kPrefixes[] = {"TRIGGER_", "MONITOR_"};
    for (std::string_view e : kExact)
        if (name == e)
            return true;
    for (std::string_view p : kPrefixes)
        if (name.substr(0, p.size()) == p)
            return true;
    return false;
}

namespace {

bool isUserVariable(std::string_view name) {
    for (std::string_view u : kUserVariables)
        if (name == u)
            return true;
    return false;
}

} // namespace

std::vector<std::string> buildEnvironment(const std::vector<std::pair<std::string, std::string>>& daemonEnv,
                                          const config::DaemonConfig& daemon,
                                          const config::ProcessConfig& program, const std::string& serverUrl) {
    std::vector<std::pair<std::string, std::string>> env;
    std::unordered_map<std::string, size_t> index;
    auto set = [&](const std::string& k, const std::string& v) {
        auto [it, fresh] = index.emplace(k, env.size());
        if (fresh)
            env.emplace_back(k, v);
        else
            env[it->second].second = v;
    };

    // The daemon's HOME (root's, usually) is wrong for a program that runs
    // as another user: forkChild puts the user's own values there.
    const bool ownUser = !program.user.empty();
    for (const auto& [k, v] : daemonEnv)
        if (!isDaemonOnlyVariable(k) && !(ownUser && isUserVariable(k)))
            set(k, v);
    set("SUPERVISOR_ENABLED", "1");
    std::string url = program.serverurl;
    // supervisord compares case-insensitively.
    bool isAuto = ::strcasecmp(url.c_str(), "AUTO") == 0;
    if (isAuto)
        url = serverUrl;
    if (!url.empty())
        set("SUPERVISOR_SERVER_URL", url);
    set("SUPERVISOR_PROCESS_NAME", program.name);
    set("SUPERVISOR_GROUP_NAME", program.group);
    for (const auto& [k, v] : daemon.environment)
        set(k, v);
    for (const auto& [k, v] : program.environment)
        set(k, v);

    std::vector<std::string> out;
    out.reserve(env.size());
    for (auto& [k, v] : env)
        out.push_back(k + "=" + v);
    return out;
}

void addUserVariables(std::vector<std::string>& env, const std::string (&values)[4]) {
    for (size_t i = 0; i < std::size(kUserVariables); ++i) {
        const std::string prefix = std::string(kUserVariables[i]) + "=";
        bool present = false;
        for (const std::string& e : env)
            if (e.compare(0, prefix.size(), prefix) == 0) {
                present = true;
                break;
            }
        if (!present)
            env.push_back(prefix + values[i]);
    }
}

std::vector<std::pair<std::string, std::string>> currentEnvironment() {
    std::vector<std::pair<std::string, std::string>> env;
    for (char** e = environ; e && *e; ++e) {
        const char* eq = std::strchr(*e, '=');
        if (!eq)
            continue;
        env.emplace_back(std::string(*e, static_cast<size_t>(eq - *e)), std::string(eq + 1));
    }
    return env;
}

} // namespace scopevisor
