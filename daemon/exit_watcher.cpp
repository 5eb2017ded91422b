// SPDX-License-Identifier: LGPL-2.1-or-later
#include "exit_watcher.h"

#include <cerrno>
#include <exception>
#include <stdexcept>

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace scopevisor {
namespace {

// waitid()'s siginfo back into the int that waitpid() would have given, the
// form the engine (and WIFEXITED/WEXITSTATUS) understands.
int toWaitStatus(const siginfo_t& info) {
    switch (info.si_code) {
    case CLD_EXITED:
        return (info.si_status & 0xff) << 8;
    case CLD_KILLED:
        return info.si_status & 0x7f;
    case CLD_DUMPED:
        return (info.si_status & 0x7f) | 0x80;
    default:
        return 0;
    }
}

} // namespace

void reap(pid_t pid) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
}

ExitWatcher::ExitWatcher(Loop& loop) : loop_(loop) {}

ExitWatcher::~ExitWatcher() {
    for (auto& [pid, w] : watches_) {
        w.source.reset();
        if (w.ownsFd)
            ::close(w.pidfd);
    }
}

void ExitWatcher::watch(pid_t pid, int pidfd, ExitFn exited) { add(pid, pidfd, false, std::move(exited)); }

void ExitWatcher::add(pid_t pid, int pidfd, bool ownsFd, ExitFn exited) {
    Watch w;
    w.pidfd = pidfd;
    w.ownsFd = ownsFd;
    w.exited = std::move(exited);
    w.source = loop_.addIo(pidfd, EPOLLIN, [this, pid](uint32_t) { onPidfd(pid); });
    watches_[pid] = std::move(w);
}

void ExitWatcher::forget(pid_t pid, int pidfd) {
    auto it = watches_.find(pid);
    if (it == watches_.end())
        return;
    it->second.source.reset();
    int dup = pidfd >= 0 ? ::fcntl(pidfd, F_DUPFD_CLOEXEC, 3) : -1;
    if (it->second.ownsFd)
        ::close(it->second.pidfd);
    watches_.erase(it);
    try {
        if (dup < 0)
            throw std::runtime_error("no pidfd");
        add(pid, dup, true, nullptr);
    } catch (const std::exception&) {
        // No way to wait on the loop: SIGKILL is quick, wait here.
        if (dup >= 0)
            ::close(dup);
        reap(pid);
    }
}

void ExitWatcher::onPidfd(pid_t pid) {
    auto it = watches_.find(pid);
    if (it == watches_.end())
        return;
    siginfo_t info{};
    int rc = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(it->second.pidfd), &info,
                      WEXITED | WNOHANG | WNOWAIT);
    if (rc < 0 && errno == EINTR)
        return; // level-triggered: we will be called again
    if (rc == 0 && info.si_pid == 0)
        return; // not exited after all
    // rc < 0 (ECHILD): not our child (adopted), or reaped behind our back
    // (SIGCHLD set to SIG_IGN): the status is lost, and we say so instead of
    // guessing.
    bool known = rc == 0;
    int status = known ? toWaitStatus(info) : 0;

    Watch w = std::move(it->second);
    watches_.erase(it);
    w.source.reset(); // before `exited`, which may close the pidfd (cleanup)
    if (w.ownsFd)
        ::close(w.pidfd);
    if (w.exited)
        w.exited(status, known); // may destroy the backend and this watcher: touch no member after it
    if (known)
        reap(pid); // cannot block: it has exited
}

} // namespace scopevisor
