// SPDX-License-Identifier: LGPL-2.1-or-later
#include "direct_backend.h"

#include <cerrno>
#include <exception>
#include <stdexcept>
#include <string>

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

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

void reap(pid_t pid) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
}

void closeFd(int fd) {
    if (fd >= 0)
        ::close(fd);
}

} // namespace

DirectBackend::DirectBackend(Loop& loop) : loop_(loop) {}

DirectBackend::~DirectBackend() {
    // Programs keep running; only our bookkeeping goes.
    for (auto& [pid, w] : watches_) {
        w.source.reset();
        if (w.ownsFd)
            closeFd(w.pidfd);
    }
}

void DirectBackend::spawn(const SpawnSpec& spec, SpawnDone done, ExitFn exited) {
    auto forked = forkChild(spec, /*hold=*/false);
    if (!forked) {
        done(forked.error());
        return;
    }
    Forked& f = forked.value();
    // EOF on the error pipe comes with a successful exec (O_CLOEXEC) or with
    // the child's exit after it wrote why it failed.
    std::string err = readSpawnError(f.errorFd, /*block=*/true);
    closeFd(f.errorFd);
    if (!err.empty()) {
        reap(f.child.pid); // it has exited or is about to: _exit(127)
        closeFd(f.child.pidfd);
        closeFd(f.child.stdinFd);
        closeFd(f.child.stdoutFd);
        closeFd(f.child.stderrFd);
        done(Error{ErrorCode::SpawnFailed, std::move(err)});
        return;
    }
    try {
        watch(f.child.pid, f.child.pidfd, false, std::move(exited));
    } catch (const std::exception& ex) {
        // Unwatched, the program could never be stopped or restarted: take
        // it down rather than leave it running behind the engine's back.
        ::kill(-f.child.pid, SIGKILL);
        reap(f.child.pid);
        closeFd(f.child.pidfd);
        closeFd(f.child.stdinFd);
        closeFd(f.child.stdoutFd);
        closeFd(f.child.stderrFd);
        done(Error{ErrorCode::SpawnFailed, std::string("couldn't watch the process: ") + ex.what()});
        return;
    }
    done(f.child);
}

Status DirectBackend::adopt(const Child& c, ExitFn exited) {
    if (c.pidfd < 0)
        return Error{ErrorCode::Failed, "no pidfd for pid " + std::to_string(c.pid)};
    try {
        // Not our child: waitid() on its pidfd fails with ECHILD at its exit,
        // which onPidfd() reports as an unknown status.
        watch(c.pid, c.pidfd, false, std::move(exited));
    } catch (const std::exception& ex) {
        return Error{ErrorCode::Failed, std::string("couldn't watch the process: ") + ex.what()};
    }
    return okStatus();
}

void DirectBackend::watch(pid_t pid, int pidfd, bool ownsFd, ExitFn exited) {
    Watch w;
    w.pidfd = pidfd;
    w.ownsFd = ownsFd;
    w.exited = std::move(exited);
    // A pidfd polls readable once the process has exited (before it is reaped).
    w.source = loop_.addIo(pidfd, EPOLLIN, [this, pid](uint32_t) { onPidfd(pid); });
    watches_[pid] = std::move(w);
}

void DirectBackend::onPidfd(pid_t pid) {
    auto it = watches_.find(pid);
    if (it == watches_.end())
        return;
    // Peek (WNOWAIT) so that the zombie keeps its pid, and with it the
    // process group id, reserved while the engine handles the exit.
    siginfo_t info{};
    int rc = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(it->second.pidfd), &info,
                      WEXITED | WNOHANG | WNOWAIT);
    if (rc < 0 && errno == EINTR)
        return; // level-triggered: we will be called again
    if (rc == 0 && info.si_pid == 0)
        return; // not exited after all
    // rc < 0 (ECHILD: reaped behind our back, e.g. SIGCHLD set to SIG_IGN):
    // the status is lost, and we say so instead of guessing.
    bool known = rc == 0;
    int status = known ? toWaitStatus(info) : 0;

    Watch w = std::move(it->second);
    watches_.erase(it);
    w.source.reset(); // before `exited`, which may close the pidfd (cleanup)
    if (w.ownsFd)
        closeFd(w.pidfd);
    if (w.exited)
        w.exited(status, known); // may destroy this backend: touch no member after it
    if (known)
        reap(pid); // cannot block: it has exited
}

int DirectBackend::kill(const Child& c, int sig, bool tree) {
    // Never kill(0) or kill(-0): that would signal the daemon's own group.
    if (c.pid <= 0)
        return ESRCH;
    int rc;
    if (tree)
        rc = ::kill(-c.pid, sig);
    else if (c.pidfd >= 0)
        rc = pidfdSendSignal(c.pidfd, sig);
    else
        rc = ::kill(c.pid, sig);
    return rc < 0 ? errno : 0;
}

void DirectBackend::cleanup(const Child& c) {
    if (c.pid > 0) {
        // The program is its process group, as a systemd scope with
        // KillMode=control-group: when the main process is gone, everything
        // else it left behind goes too. ESRCH just means nothing was left.
        ::kill(-c.pid, SIGKILL);

        auto it = watches_.find(c.pid);
        if (it != watches_.end()) {
            // The exit was not seen yet (the engine gave up on the program):
            // it has just been killed; reap it when it is gone, but the
            // engine asked not to hear about it any more.
            it->second.source.reset();
            int dup = c.pidfd >= 0 ? ::fcntl(c.pidfd, F_DUPFD_CLOEXEC, 3) : -1;
            if (it->second.ownsFd)
                closeFd(it->second.pidfd);
            watches_.erase(it);
            try {
                if (dup < 0)
                    throw std::runtime_error("no pidfd");
                watch(c.pid, dup, true, nullptr);
            } catch (const std::exception&) {
                // No way to wait on the loop: SIGKILL is quick, wait here.
                closeFd(dup);
                reap(c.pid);
            }
        }
    }
    closeFd(c.pidfd);
}

} // namespace scopevisor
