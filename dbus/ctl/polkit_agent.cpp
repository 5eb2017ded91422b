// SPDX-License-Identifier: LGPL-2.1-or-later
#include "polkit_agent.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <string>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sdbus-c++/sdbus-c++.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-login.h>

#include "raw_message.h"

namespace scopevisorctl {
namespace {

// An absolute path, as systemd's: the agent gets the user's password.
constexpr const char* kAgent = "/usr/bin/pkttyagent";

} // namespace

std::unique_ptr<PolkitAgent> PolkitAgent::start() {
    if (geteuid() == 0 || access(kAgent, X_OK) != 0)
        return nullptr;
    // --fallback (as systemctl) leaves the questions to the agent of the
    // desktop session when there is one. polkitd (122) looks for a
    // fallback agent only through the caller's login session, though, so
    // outside of one (su, setpriv, a service, a container entered with
    // nsenter) the agent must be the caller's own, without --fallback.
    char* session = nullptr;
    const bool fallback = sd_pid_get_session(0, &session) >= 0;
    free(session);
    int notify[2];
    if (pipe2(notify, O_CLOEXEC) < 0)
        return nullptr;
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
        close(notify[0]);
        close(notify[1]);
        return nullptr;
    }
    if (pid == 0) {
        // The agent goes when we go, whatever way we go.
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        // Only the notify fd is passed on (everything else is O_CLOEXEC).
        int fd = fcntl(notify[1], F_DUPFD, 3);
        if (fd < 0)
            _exit(1);
        const std::string n = std::to_string(fd);
        if (fallback)
            execl(kAgent, kAgent, "--notify-fd", n.c_str(), "--fallback", static_cast<char*>(nullptr));
        else
            execl(kAgent, kAgent, "--notify-fd", n.c_str(), static_cast<char*>(nullptr));
        _exit(1);
    }
    close(notify[1]);
    // The agent closes its end once registered, or dies: either way, EOF.
    struct pollfd p {notify[0], POLLIN, 0};
    while (poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
    close(notify[0]);
    return std::unique_ptr<PolkitAgent>(new PolkitAgent(pid));
}

PolkitAgent::~PolkitAgent() {
    kill(pid_, SIGTERM);
    kill(pid_, SIGCONT); // in case it was stopped (a background job on the terminal)
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
}

bool allowInteractiveAuthorization(sdbus::IConnection& conn) {
    // sdbus-c++ 1.2.0 shows no sd_bus; every message it makes knows it.
    try {
        auto proxy = sdbus::createProxy(conn, "org.freedesktop.DBus", "/org/freedesktop/DBus");
        auto call = proxy->createMethodCall("org.freedesktop.DBus.Peer", "Ping");
        sd_bus_message* m = scopevisor::dbus::RawMessage::of(call);
        sd_bus* bus = m ? sd_bus_message_get_bus(m) : nullptr;
        return bus && sd_bus_set_allow_interactive_authorization(bus, 1) >= 0;
    } catch (const sdbus::Error&) {
        return false;
    }
}

} // namespace scopevisorctl
