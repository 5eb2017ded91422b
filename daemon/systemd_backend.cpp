// SPDX-License-Identifier: LGPL-2.1-or-later
#include "systemd_backend.h"

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <variant>

#include <fcntl.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-login.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "direct_backend.h"
#include "logging.h"
#include "sd_event_loop.h"
#include "unit_name.h"

namespace scopevisor {
namespace {

constexpr uint64_t kUsecPerSec = 1000000;

void closeFd(int& fd) {
    if (fd >= 0)
        ::close(fd);
    fd = -1;
}

} // namespace

std::vector<UnitProperty> scopeProperties(const std::string& namespec, const config::ProcessConfig* cfg,
                                          const std::string& slice, const std::string& daemonUnit) {
    const config::ProcessConfig defaults;
    const config::ProcessConfig& c = cfg ? *cfg : defaults;
    std::vector<UnitProperty> props;
    props.push_back({"Description", "scopevisor program " + namespec});
    props.push_back({"Slice", slice});
    // Failed scopes (killed by a signal) are garbage-collected too, so the
    // name is free again for the next start.
    props.push_back({"CollectMode", std::string("inactive-or-failed")});
    // `systemctl stop <scope>` behaves like stopping the program: its
    // stopsignal to every process, SIGKILL after stopwaitsecs.
    props.push_back({"KillMode", std::string("control-group")});
    props.push_back({"KillSignal", int32_t(c.stopsignal)});
    props.push_back({"TimeoutStopUSec", uint64_t(c.stopwaitsecs > 0 ? c.stopwaitsecs : 0) * kUsecPerSec});
    props.push_back({"SendSIGKILL", true});
    if (!daemonUnit.empty())
        props.push_back({"Before", std::vector<std::string>{daemonUnit}});
    // Converted when the config was loaded: nothing left to parse or refuse.
    for (const auto& [key, r] : c.resources)
        props.push_back(std::visit([&](auto v) { return UnitProperty{r.name, v}; }, r.value));
    return props;
}

SystemdBackend::SystemdBackend(Loop& loop, std::unique_ptr<SystemdManager> manager, std::string slice,
                               std::string daemonUnit)
    : loop_(loop), mgr_(std::move(manager)), slice_(std::move(slice)), daemonUnit_(std::move(daemonUnit)) {}

SystemdBackend::~SystemdBackend() {
    // No callback may reach us any more (the manager's posted ones check
    // alive_; its bus goes with it).
    alive_.reset();
    for (auto& [id, st] : starts_) {
        // Held children never ran the program: closing the release pipe
        // makes them exit; make sure of it.
        if (st.forked.child.pidfd >= 0)
            pidfdSendSignal(st.forked.child.pidfd, SIGKILL);
        abandon(st);
    }
    starts_.clear();
    mgr_.reset();
}

void SystemdBackend::acquire(const std::string& unit, std::function<void()> fn) {
    auto [it, fresh] = names_.try_emplace(unit);
    if (fresh)
        fn();
    else
        it->second.waiting.push_back(std::move(fn));
}

void SystemdBackend::release(const std::string& unit) {
    auto it = names_.find(unit);
    if (it == names_.end())
        return;
    if (it->second.waiting.empty()) {
        names_.erase(it);
        return;
    }
    auto next = std::move(it->second.waiting.front());
    it->second.waiting.pop_front();
    next(); // the name stays taken, by the next spawn now
}

void SystemdBackend::spawn(const SpawnSpec& spec, SpawnDone done, ExitFn exited) {
    std::vector<UnitProperty> props = scopeProperties(spec.namespec, spec.cfg, slice_, daemonUnit_);
    SpawnSpec s = spec;
    s.keepPipesAlive = true; // the program outlives the daemon (docs/architecture.md §5)
    auto forked = forkChild(s, /*hold=*/true, spawner_.get());
    if (!forked) {
        done(forked.error());
        return;
    }
    const uint64_t id = nextId_++;
    Start& st = starts_[id];
    st.forked = forked.value();
    st.unit = scopeNameFor(spec.namespec);
    st.done = std::move(done);
    st.exited = std::move(exited);
    const pid_t pid = st.forked.child.pid;
    acquire(st.unit, [this, id, props = std::move(props), pid]() mutable { begin(id, std::move(props), pid); });
}

void SystemdBackend::begin(uint64_t id, std::vector<UnitProperty> props, pid_t pid) {
    auto it = starts_.find(id);
    if (it == starts_.end())
        return;
    ScopeRequest req{it->second.unit, pid, std::move(props)};
    std::weak_ptr<int> alive = alive_;
    mgr_->startScope(req, [this, alive, id](const std::string& error) {
        if (alive.lock())
            onScope(id, error);
    });
}

void SystemdBackend::abandon(Start& st) {
    // The held child exits without running the program when its release
    // pipe closes; it was SIGKILLed by the caller anyway.
    closeFd(st.forked.releaseFd);
    st.errWatch.reset();
    closeFd(st.forked.errorFd);
    closeFd(st.forked.child.pidfd);
    closeFd(st.forked.child.stdinFd);
    closeFd(st.forked.child.stdoutFd);
    closeFd(st.forked.child.stderrFd);
}

void SystemdBackend::onScope(uint64_t id, const std::string& error) {
    auto it = starts_.find(id);
    if (it == starts_.end())
        return;
    Start& st = it->second;
    if (!error.empty()) {
        // The program never ran. The scope (if systemd made one before the
        // job failed) holds only the held child and goes with it
        // (CollectMode=inactive-or-failed); a refused name may belong to
        // someone else, so it is not stopped here.
        pidfdSendSignal(st.forked.child.pidfd, SIGKILL);
        const pid_t pid = st.forked.child.pid;
        const std::string unit = st.unit;
        SpawnDone done = std::move(st.done);
        abandon(st);
        starts_.erase(it);
        reap(pid); // SIGKILLed: gone at once
        release(unit);
        done(Error{ErrorCode::SpawnFailed, "couldn't create scope " + unit + ": " + error});
        return;
    }
    // In the scope now: let it exec, and learn whether the exec worked.
    releaseChild(st.forked.releaseFd);
    st.forked.releaseFd = -1;
    std::weak_ptr<int> alive = alive_;
    try {
        st.errWatch = loop_.addIo(st.forked.errorFd, EPOLLIN, [this, alive, id](uint32_t) {
            if (alive.lock())
                onExecResult(id);
        });
    } catch (const std::exception&) {
        // Cannot wait on the loop: exec takes a few milliseconds at most.
        onExecResult(id);
    }
}

void SystemdBackend::onExecResult(uint64_t id) {
    auto it = starts_.find(id);
    if (it == starts_.end())
        return;
    Start& st = it->second;
    st.errWatch.reset();
    std::string err = readSpawnError(st.forked.errorFd, /*block=*/false);
    closeFd(st.forked.errorFd);
    Start s = std::move(st);
    starts_.erase(it);
    if (!err.empty()) {
        reap(s.forked.child.pid); // it has exited or is about to: _exit(127)
        abandon(s);
        stopScope(s.unit);
        s.done(Error{ErrorCode::SpawnFailed, std::move(err)});
        return;
    }
    Child c = s.forked.child;
    c.unit = s.unit;
    try {
        exits_.watch(c.pid, c.pidfd, std::move(s.exited));
    } catch (const std::exception& ex) {
        pidfdSendSignal(c.pidfd, SIGKILL);
        reap(c.pid);
        abandon(s);
        stopScope(s.unit);
        s.done(Error{ErrorCode::SpawnFailed, std::string("couldn't watch the process: ") + ex.what()});
        return;
    }
    s.done(c);
}

void SystemdBackend::stopScope(const std::string& unit) {
    // SIGKILL first: the scope's own stop would send the program's
    // stopsignal and wait stopwaitsecs, but the program is over and its
    // leftovers go at once (as with the direct backend's process group).
    mgr_->killUnit(unit, SIGKILL);
    std::weak_ptr<int> alive = alive_;
    mgr_->stopUnit(unit, [this, alive, unit](const std::string& error) {
        if (!alive.lock())
            return;
        if (!error.empty())
            log::warn("stopping " + unit + ": " + error);
        release(unit);
    });
}

int SystemdBackend::kill(const Child& c, int sig, bool tree) {
    if (c.pid <= 0)
        return ESRCH;
    if (tree && !c.unit.empty()) {
        mgr_->killUnit(c.unit, sig);
        return 0;
    }
    int rc = c.pidfd >= 0 ? pidfdSendSignal(c.pidfd, sig) : ::kill(c.pid, sig);
    return rc < 0 ? errno : 0;
}

Status SystemdBackend::adopt(const std::string&, const Child& c, ExitFn exited) {
    if (c.pidfd < 0)
        return Error{ErrorCode::Failed, "no pidfd for pid " + std::to_string(c.pid)};
    try {
        // Not our child: its exit status cannot be read (known = false).
        exits_.watch(c.pid, c.pidfd, std::move(exited));
        // Its scope holds the name until cleanup() has stopped it, as for
        // a program we spawned ourselves.
        if (!c.unit.empty())
            names_.try_emplace(c.unit);
    } catch (const std::exception& ex) {
        return Error{ErrorCode::Failed, std::string("couldn't watch the process: ") + ex.what()};
    }
    return okStatus();
}

void SystemdBackend::cleanup(const Child& c) {
    if (c.pid > 0) {
        if (exits_.watching(c.pid)) {
            // The exit was not seen yet (the engine gave up on the program):
            // kill it, reap it when it is gone, without telling the engine.
            if (c.pidfd >= 0)
                pidfdSendSignal(c.pidfd, SIGKILL);
            exits_.forget(c.pid, c.pidfd);
        }
    }
    if (!c.unit.empty())
        stopScope(c.unit);
    if (c.pidfd >= 0)
        ::close(c.pidfd);
}

std::unique_ptr<Backend> chooseBackend(SdEventLoop& loop, const std::string& choice, bool user,
                                       std::string* error) {
    if (choice == "direct") {
        log::info("backend: direct (requested)");
        return std::make_unique<DirectBackend>(loop);
    }
    const bool asked = choice == "systemd";
    if (!asked) {
        // auto: only the managers this daemon may create scopes in.
        std::string why;
        if (!user && geteuid() != 0)
            why = "not root, and --user was not given";
        else if (!user && sd_booted() <= 0)
            why = "systemd is not the init system here";
        if (!why.empty()) {
            log::info("backend: direct (auto: " + why + ")");
            return std::make_unique<DirectBackend>(loop);
        }
    }
    std::string why;
    std::unique_ptr<SystemdManager> mgr = connectSystemdManager(loop, user, &why);
    if (!mgr) {
        if (asked) {
            *error = "backend systemd: " + why;
            return nullptr;
        }
        log::info("backend: direct (auto: " + why + ")");
        return std::make_unique<DirectBackend>(loop);
    }
    log::info(std::string("backend: systemd (") + (asked ? "requested" : "auto") + "; " + mgr->describe() +
              "; programs run in scopes under " + kProgramSlice + ")");
    if (!user && geteuid() != 0)
        log::warn("backend systemd without --user and not root: the system manager may refuse the scopes");
    // Our own service, if we run in one: the scopes are ordered before it.
    std::string ownUnit;
    char* u = nullptr;
    if ((user ? sd_pid_get_user_unit(0, &u) : sd_pid_get_unit(0, &u)) >= 0 && u) {
        std::string_view sv(u);
        if (sv.ends_with(".service"))
            ownUnit = u;
        free(u);
    }
    auto backend = std::make_unique<SystemdBackend>(loop, std::move(mgr), kProgramSlice, ownUnit);
    // Forked now, while the daemon is small and has no threads; the
    // programs' children are made there (spawn_zygote.h says why).
    std::string spawnerWhy;
    if (auto spawner = SpawnZygote::start(&spawnerWhy))
        backend->useSpawner(std::move(spawner));
    else
        log::warn("no spawner process (" + spawnerWhy + "): programs are forked by the daemon itself");
    return backend;
}

} // namespace scopevisor
