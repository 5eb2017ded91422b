// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The `systemd` backend: every program runs in a transient scope of its own
// under scopevisor.slice (docs/architecture.md §3).
//
// spawn() forks the child held on a pipe (forkChild with hold), asks the
// manager for the scope with the child's pid in it (StartTransientUnit,
// PIDs=), waits for the start job to finish (JobRemoved), and only then lets
// the child go on to switch user and exec. No instruction of the program
// runs outside its scope, and everything it forks stays in the scope's
// cgroup. A failed job is a spawn error carrying systemd's reason; the held
// child is killed before it ran anything.
//
// Many spawns are in flight at once: the calls are asynchronous and the loop
// goes on while PID 1 works. Only one scope of a given name can exist, so a
// program that is restarted at once waits until its previous scope is gone.
//
// A tree kill is KillUnit(who=all). cleanup() SIGKILLs whatever is left in
// the scope and stops it, so nothing the program forked escapes. Exits of
// the main process are watched through its pidfd (exit_watcher.h), as in the
// direct backend.
//
// Programs must survive the daemon (they live in their own scopes), so the
// backend asks forkChild for pipes that outlive it (keepPipesAlive).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend.h"
#include "exit_watcher.h"
#include "loop.h"
#include "spawn.h"
#include "spawn_zygote.h"
#include "systemd_manager.h"

namespace scopevisor {

inline constexpr const char* kProgramSlice = "scopevisor.slice";

// The properties of a program's scope, without PIDs: Description, Slice,
// CollectMode, the kill settings that mirror stopsignal/stopwaitsecs (so a
// `systemctl stop` of the scope stops the program as scopevisor would), and
// the resource controls of the program's config (converted by the config
// loader, config_resources.h, so building them cannot fail).
//
// `daemonUnit` (the daemon's own service, if it runs in one) is ordered
// after the scopes (Before=): when both stop at once, at shutdown, the
// daemon stops first and stops its programs itself (priorities,
// stopsignal), instead of seeing them killed under it and restarting them.
std::vector<UnitProperty> scopeProperties(const std::string& namespec, const config::ProcessConfig* cfg,
                                          const std::string& slice = kProgramSlice,
                                          const std::string& daemonUnit = {});

class SdEventLoop;

// The backend for `choice` ("auto", "systemd" or "direct"), logging which
// one and why. auto: the system manager as root, the user's manager with
// `user`, direct when none is reachable (or when not root without `user`).
// nullptr with `error` set when "systemd" was asked for and no manager
// answers.
std::unique_ptr<Backend> chooseBackend(SdEventLoop& loop, const std::string& choice, bool user,
                                       std::string* error);

class SystemdBackend : public Backend {
public:
    SystemdBackend(Loop& loop, std::unique_ptr<SystemdManager> manager, std::string slice = kProgramSlice,
                   std::string daemonUnit = {});
    ~SystemdBackend() override;
    SystemdBackend(const SystemdBackend&) = delete;
    SystemdBackend& operator=(const SystemdBackend&) = delete;

    const char* name() const override { return "systemd"; }
    const SystemdManager& manager() const { return *mgr_; }
    SystemdManager& manager() { return *mgr_; }

    // `done` runs when the program has exec'd in its scope (or failed), on
    // the loop, usually after spawn() returned; only a failure to fork is
    // reported from inside spawn().
    void spawn(const SpawnSpec& spec, SpawnDone done, ExitFn exited) override;
    // `tree`: KillUnit(who=all), asynchronous, returns 0; else the main
    // process through its pidfd.
    int kill(const Child& c, int sig, bool tree) override;
    // SIGKILL to everything left in the scope, then StopUnit. Called before
    // the exit was seen, the main process is killed too and reaped in the
    // background without calling `exited`.
    void cleanup(const Child& c) override;

    // Make held children in this spawner process (spawn_zygote.h) rather
    // than by fork() of the daemon.
    void useSpawner(std::unique_ptr<SpawnZygote> spawner) { spawner_ = std::move(spawner); }

    // Spawns waiting for their scope (tests).
    size_t pendingSpawns() const { return starts_.size(); }

private:
    struct Start {
        Forked forked;
        std::string unit;
        SpawnDone done;
        ExitFn exited;
        SourcePtr errWatch;
    };
    struct NameSlot {
        std::deque<std::function<void()>> waiting; // spawns queued behind the current scope
    };

    void acquire(const std::string& unit, std::function<void()> fn);
    void release(const std::string& unit);
    void begin(uint64_t id, std::vector<UnitProperty> props, pid_t pid);
    void onScope(uint64_t id, const std::string& error);
    void onExecResult(uint64_t id);
    void abandon(Start& st);
    void stopScope(const std::string& unit);

public:
    // A program a previous daemon left in its scope: watch its pidfd.
    Status adopt(const std::string& namespec, const Child& c, ExitFn exited) override;

private:
    Loop& loop_;
    std::unique_ptr<SystemdManager> mgr_;
    std::string slice_;
    std::string daemonUnit_;
    uint64_t nextId_ = 1;
    std::unordered_map<uint64_t, Start> starts_;
    std::unordered_map<std::string, NameSlot> names_; // a present entry: the name is taken
    ExitWatcher exits_{loop_};
    std::unique_ptr<SpawnZygote> spawner_;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

} // namespace scopevisor
