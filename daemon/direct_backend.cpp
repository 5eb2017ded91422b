// SPDX-License-Identifier: LGPL-2.1-or-later
#include "direct_backend.h"

#include <cerrno>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

namespace scopevisor {
namespace {

void closeFd(int fd) {
    if (fd >= 0)
        ::close(fd);
}

} // namespace

DirectBackend::DirectBackend(Loop& loop) : loop_(loop) {}

DirectBackend::~DirectBackend() {
    {
        std::lock_guard lock(jobsMutex_);
        stopping_ = true;
    }
    jobsCv_.notify_all();
    if (spawner_.joinable())
        spawner_.join(); // at most one spawn in progress
    // Programs keep running; only our bookkeeping goes.
    for (auto& [pid, p] : pending_) {
        p.source.reset();
        closeFd(p.errorFd);
    }
}

void DirectBackend::spawn(const SpawnSpec& spec, SpawnDone done, ExitFn exited) {
    auto job = std::make_unique<Job>();
    job->id = ++lastJob_;
    job->spec = spec;
    if (spec.cfg) {
        job->label.name = spec.cfg->name;
        job->spec.cfg = &job->label;
    }
    const uint64_t id = job->id;
    requests_.emplace(id, Request{std::move(done), std::move(exited)});
    if (!spawner_.joinable()) {
        try {
            spawner_ = std::thread([this] { spawnerMain(); });
        } catch (const std::system_error&) {
            // No thread to be had: make the child here, as it waits.
            onForked(id, forkChild(job->spec, /*hold=*/false));
            return;
        }
    }
    {
        std::lock_guard lock(jobsMutex_);
        jobs_.push_back(std::move(job));
    }
    jobsCv_.notify_one();
}

void DirectBackend::spawnerMain() {
    for (;;) {
        std::unique_ptr<Job> job;
        {
            std::unique_lock lock(jobsMutex_);
            jobsCv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
            if (stopping_)
                return;
            job = std::move(jobs_.front());
            jobs_.pop_front();
        }
        auto forked = std::make_shared<Result<Forked>>(forkChild(job->spec, /*hold=*/false));
        // The loop destroys the backend, on its own thread, after joining
        // this one: a result that arrives later finds `alive` expired.
        std::weak_ptr<bool> alive = alive_;
        loop_.post([this, alive, id = job->id, forked] {
            if (alive.lock())
                return onForked(id, std::move(*forked));
            if (*forked) {
                const Forked& f = forked->value();
                for (int fd : {f.child.pidfd, f.child.stdinFd, f.child.stdoutFd, f.child.stderrFd, f.errorFd})
                    closeFd(fd);
            }
        });
    }
}

void DirectBackend::onForked(uint64_t id, Result<Forked> forked) {
    auto it = requests_.find(id);
    if (it == requests_.end())
        return;
    SpawnDone done = std::move(it->second.done);
    ExitFn exited = std::move(it->second.exited);
    requests_.erase(it);
    if (!forked) {
        done(forked.error());
        return;
    }
    Forked& f = forked.value();
    const pid_t pid = f.child.pid;
    Pending p;
    p.child = f.child;
    p.errorFd = f.errorFd;
    p.done = std::move(done);
    p.exited = std::move(exited);
    try {
        // EOF on the error pipe comes with a successful exec (O_CLOEXEC) or
        // with the child's exit after it wrote why it failed.
        p.source = loop_.addIo(f.errorFd, EPOLLIN, [this, pid](uint32_t) { onErrorPipe(pid); });
    } catch (const std::exception&) {
        // Cannot watch it: wait for the exec here instead.
        p.message = readSpawnError(f.errorFd, /*block=*/true);
        finishSpawn(std::move(p));
        return;
    }
    pending_.emplace(pid, std::move(p));
}

void DirectBackend::onErrorPipe(pid_t pid) {
    auto it = pending_.find(pid);
    if (it == pending_.end())
        return;
    Pending& p = it->second;
    char buf[1024];
    for (;;) {
        ssize_t n = ::read(p.errorFd, buf, sizeof buf);
        if (n > 0) {
            p.message.append(buf, size_t(n));
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return; // more to come: the child has not exec'd or exited yet
        break;      // EOF (or an error, treated alike)
    }
    Pending done = std::move(it->second);
    pending_.erase(it);
    done.source.reset();
    finishSpawn(std::move(done));
}

void DirectBackend::finishSpawn(Pending p) {
    closeFd(p.errorFd);
    Child c = p.child;
    auto fail = [&](std::string why) {
        reap(c.pid); // it has exited or is about to: _exit(127)
        closeFd(c.pidfd);
        closeFd(c.stdinFd);
        closeFd(c.stdoutFd);
        closeFd(c.stderrFd);
        p.done(Error{ErrorCode::SpawnFailed, std::move(why)});
    };
    if (!p.message.empty())
        return fail(std::move(p.message));
    try {
        exits_.watch(c.pid, c.pidfd, std::move(p.exited));
    } catch (const std::exception& ex) {
        // Unwatched, the program could never be stopped or restarted: take
        // it down rather than leave it running behind the engine's back.
        ::kill(-c.pid, SIGKILL);
        return fail(std::string("couldn't watch the process: ") + ex.what());
    }
    p.done(c);
}

Status DirectBackend::adopt(const std::string&, const Child& c, ExitFn exited) {
    if (c.pidfd < 0)
        return Error{ErrorCode::Failed, "no pidfd for pid " + std::to_string(c.pid)};
    try {
        // Not our child: its exit status cannot be read (known = false).
        exits_.watch(c.pid, c.pidfd, std::move(exited));
    } catch (const std::exception& ex) {
        return Error{ErrorCode::Failed, std::string("couldn't watch the process: ") + ex.what()};
    }
    return okStatus();
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

        // The exit was not seen yet (the engine gave up on the program): it
        // has just been killed; reap it when it is gone, but the engine asked
        // not to hear about it any more.
        exits_.forget(c.pid, c.pidfd);
    }
    closeFd(c.pidfd);
}

} // namespace scopevisor
