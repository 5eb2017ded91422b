// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The engine: groups of programs, the requests of the Control API, reload,
// shutdown. It knows nothing of D-Bus or of any wire protocol. Every public
// Control method may be called from any thread: it is posted to the loop and
// runs there; everything else runs on the loop thread only.
//
// engine.cpp has the Control facade and the registry of groups and programs;
// engine_batch.cpp, engine_reload.cpp, engine_shutdown.cpp and
// engine_state.cpp the other facets (docs/architecture.md §1).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "backend.h"
#include "config.h"
#include "journal_read.h"
#include "log_buffer.h"
#include "log_file.h"
#include "loop.h"
#include "main_log.h"
#include "program.h"
#include "scopevisor/control.h"
#include "state_file.h"
#include "state_writer.h"

namespace scopevisor {

struct EngineOptions {
    std::string configPath;
    config::LoadContext loadContext;
    std::string version;
    // SUPERVISOR_SERVER_URL for children (set when an XML-RPC listener exists).
    std::string serverUrl;
    // Reads the configuration for reload (default: config::load). The daemon
    // adds the programs that adapters import from legacy files here.
    std::function<config::Config(const std::string& path, const config::LoadContext&)> load;
    // Where program lines are read back from (journal_read.h); none: the buffers only.
    JournalSource* journal = nullptr;
};

class Engine final : public Control, private ProgramHost {
public:
    Engine(Loop& loop, Backend& backend, config::Config cfg, EngineOptions opts);
    ~Engine() override;

    // Activate every configured group and start the autostart programs.
    void begin();
    // Called once when a shutdown has stopped every program.
    void setOnShutdown(std::function<void()> fn) { onShutdown_ = std::move(fn); }

    // Signal handlers (loop thread).
    void requestShutdown();
    // Exit without touching the programs: they live on in their scopes and
    // the next daemon adopts them (systemd backend, `systemctl stop`).
    void requestDetach();
    void requestReload(); // SIGHUP: reload touching only what changed
    void reopenLogs();    // SIGUSR2

    DaemonState daemonState() const noexcept { return state_; }
    const config::Config& currentConfig() const noexcept { return *configPtr_; }
    // Loop-thread access, for tests and the daemon's own front ends.
    Program* findProgram(const std::string& namespec) const;
    std::vector<Program*> programsInOrder() const; // group priority, then program priority

    // ---- Control API ----
    void daemonInfo(Callback<DaemonInfo> done) override;
    void listPrograms(Callback<std::vector<ProgramInfo>> done) override;
    void getProgram(std::string namespec, Callback<Result<ProgramInfo>> done) override;
    void listConfig(Callback<std::vector<ConfigInfo>> done) override;
    void start(std::string namespec, bool wait, Callback<Status> done) override;
    void stop(std::string namespec, bool wait, Callback<Status> done) override;
    void restart(std::string namespec, bool wait, Callback<Status> done) override;
    void signal(std::string namespec, int sig, Callback<Status> done) override;
    void startGroup(std::string group, bool wait, Callback<Result<MultiResult>> done) override;
    void stopGroup(std::string group, bool wait, Callback<Result<MultiResult>> done) override;
    void signalGroup(std::string group, int sig, Callback<Result<MultiResult>> done) override;
    void startAll(bool wait, Callback<MultiResult> done) override;
    void stopAll(bool wait, Callback<MultiResult> done) override;
    void signalAll(int sig, Callback<MultiResult> done) override;
    void sendInput(std::string namespec, std::string data, Callback<Status> done) override;
    void readLog(std::string namespec, Stream s, uint64_t firstLine, uint32_t maxLines,
                 Callback<Result<LogLines>> done) override;
    void readBytes(std::string namespec, Stream s, int64_t offset, int64_t length,
                   Callback<Result<LogBytes>> done) override;
    void tailBytes(std::string namespec, Stream s, int64_t offset, int64_t length,
                   Callback<Result<LogBytes>> done) override;
    void clearLog(std::string namespec, Callback<Status> done) override;
    void clearAllLogs(Callback<MultiResult> done) override;
    void readMainLog(int64_t offset, int64_t length, Callback<Result<LogBytes>> done) override;
    void clearMainLog(Callback<Status> done) override;
    void rereadConfig(Callback<Result<ConfigDiff>> done) override;
    void reload(Callback<Result<ReloadResult>> done) override;
    void addGroup(std::string group, Callback<Status> done) override;
    void removeGroup(std::string group, Callback<Status> done) override;
    void shutdown(Callback<Status> done) override;
    void restartDaemon(Callback<Status> done) override;
    void addListener(Listener* l) override;
    void removeListener(Listener* l) override;

private:
    struct Group {
        std::shared_ptr<const config::Config> source;
        const config::GroupConfig* gc = nullptr; // inside *source
        const config::GroupConfig& cfg() const { return *gc; }
        std::vector<std::unique_ptr<Program>> programs; // priority order
    };

    // ProgramHost
    Loop& loop() override { return loop_; }
    Backend& backend() override { return backend_; }
    bool restartsAllowed() const override { return state_ == DaemonState::Running; }
    void stateChanged(Program& p, ProcessState old) override;
    void spawned(Program& p) override;
    void output(Program& p, const OutputEvent& ev) override;
    bool wantsLines() const override { return !listeners_.empty(); }
    std::vector<std::string> childEnvironment(const config::ProcessConfig& cfg) override;

    // Requests on the loop thread.
    Result<Program*> resolve(const std::string& namespec) const;
    // On the loop: the SHUTDOWN_STATE gate (if `gated`), then the program
    // named `namespec`, then fn(program, done). Errors go to `done`.
    template <typename T, typename F>
    void withProgram(std::string namespec, bool gated, Callback<T> done, F fn) {
        loop_.post([this, namespec = std::move(namespec), gated, done = std::move(done), fn = std::move(fn)]() mutable {
            if (gated)
                if (auto g = gate(); !g)
                    return done(T(g.error()));
            auto r = resolve(namespec);
            if (!r)
                return done(T(r.error()));
            fn(*r.value(), done);
        });
    }
    Group* findGroup(const std::string& name) const;
    // On the loop: the SHUTDOWN_STATE gate, then the members of `group` in
    // priority order to fn. Errors go to `done`.
    void withGroup(std::string group, Callback<Result<MultiResult>> done,
                   std::function<void(std::vector<Program*>, Callback<MultiResult>)> fn);
    static ProgramResult resultFor(const Program& p, Error e = {});
    // Signal every signallable program; one result each (supervisord's filter).
    static MultiResult signalEach(const std::vector<Program*>& programs, int sig);
    void doStart(Program& p, bool wait, Callback<Status> done);
    void doStop(Program& p, bool wait, Callback<Status> done);
    void doMulti(std::vector<Program*> targets, bool isStart, bool wait, Callback<MultiResult> done);
    // `pauseUs` between two batches (0: the next loop turn).
    void forEachBatched(std::vector<std::string> names, std::function<void(size_t, Program*)> fn,
                        std::function<void()> then, uint64_t pauseUs = 0);
    std::vector<Program*> allPrograms() const;
    Status gate() const; // the SHUTDOWN_STATE gate

    void activateGroup(const config::GroupConfig& g);
    void activateAndAutostart(const config::GroupConfig& g); // added: by a reload or addGroup
    void deactivateGroup(const std::string& name);
    void sortGroups();
    void stopGroupThen(const std::string& name, std::function<void()> then);
    Result<config::Config> readConfig();
    ConfigDiff diff(const config::Config& next) const;
    ReloadResult applyConfig(config::Config next);
    void stopEverything(std::function<void()> then);
    void stopNextGroup(std::vector<std::string> order, std::function<void()> then);
    void setDaemonState(DaemonState s);
    void setDesired(Program& p, Desired d);
    void scheduleSave();
    // Posted to the state writer's thread; `final`: written before it
    // returns (the daemon is about to exit).
    void saveState(bool final = false);
    void adoptPrograms();
    void refillLogs();
    void cleanupAutoLogs();
    std::string autoLogPath(const config::ProcessConfig& p, const char* channel);

    template <typename F>
    void each(F&& f) {
        for (auto* l : listeners_)
            f(l);
    }

    Loop& loop_;
    Backend& backend_;
    std::shared_ptr<const config::Config> configPtr_; // the last configuration read
    const config::Config& cfg() const { return *configPtr_; }
    EngineOptions opts_;
    std::vector<std::unique_ptr<Group>> groups_; // active groups, by priority
    std::unordered_map<std::string, Program*> byNamespec_;
    std::vector<Listener*> listeners_;
    std::atomic<bool> hasListeners_{false};
    DaemonState state_ = DaemonState::Running;
    std::function<void()> onShutdown_;
    bool begun_ = false;
    std::thread::id loopThread_ = std::this_thread::get_id(); // the engine is made on its loop's thread
    SourcePtr waitingLog_;
    std::vector<std::pair<std::string, std::string>> daemonEnv_;
    std::string stateFile_; // "" without a configuration file (tests)
    StateMap savedState_;   // records of programs that are not configured now
    bool outputSinceSave_ = false;
    std::unique_ptr<StateWriter> stateWriter_; // with a state file
    SourcePtr saveTimer_;    // a save is due soon
    SourcePtr refreshTimer_; // line counters move: save every few seconds

    // The daemon's own log; last, so that it is the first to go and no
    // line is logged into a half-destroyed engine.
    MainLog mainLog_;
};

} // namespace scopevisor
