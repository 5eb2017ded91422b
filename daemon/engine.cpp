// SPDX-License-Identifier: LGPL-2.1-or-later
#include "engine.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <glob.h>
#include <malloc.h>
#include <future>
#include <random>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

#include "config_info.h"
#include "log_read.h"
#include "logging.h"
#include "spawn.h"
#include "state_file.h"

namespace scopevisor {
namespace {

ProgramResult resultFor(const Program& p, Error e = {}) {
    return ProgramResult{p.namespec(), p.config().name, p.config().group, std::move(e)};
}

// supervisord: a start waiter completes on RUNNING (ok), on a spawn error
// (BACKOFF/FATAL with spawnerr) or on anything else that is not STARTING.
std::optional<Status> startOutcome(const Program& p) {
    switch (p.state()) {
    case ProcessState::Starting:
        return std::nullopt;
    case ProcessState::Running:
        return okStatus();
    case ProcessState::Backoff:
    case ProcessState::Fatal:
        if (!p.spawnError().empty())
            return Status(Error{ErrorCode::SpawnFailed, p.namespec() + ": " + p.spawnError()});
        [[fallthrough]];
    default:
        return Status(Error{ErrorCode::AbnormalTermination, p.namespec() + ": abnormal termination"});
    }
}

std::string randomSuffix() {
    static std::mt19937 rng{std::random_device{}()};
    static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789_";
    std::string s;
    for (int i = 0; i < 8; ++i)
        s += chars[rng() % (sizeof chars - 1)];
    return s;
}

} // namespace

Engine::Engine(Loop& loop, Backend& backend, config::Config cfg, EngineOptions opts)
    : loop_(loop), backend_(backend), configPtr_(std::make_shared<const config::Config>(std::move(cfg))),
      opts_(std::move(opts)),
      mainLog_(this->cfg().daemon.logfile, this->cfg().daemon.logfileMaxbytes, this->cfg().daemon.logfileBackups,
               [this](std::string_view line) {
                   // Log lines come from any thread; listeners hear them on the loop.
                   if (hasListeners_.load(std::memory_order_relaxed))
                       loop_.post([this, line = std::string(line)] { each([&](Listener* x) { x->mainLog(line); }); });
               }) {}

Engine::~Engine() {
    // Nothing logged from here on may be posted to the loop for a
    // destroyed engine's listeners.
    mainLog_.uninstall();
    groups_.clear();
}

void Engine::begin() {
    if (!cfg().daemon.nocleanup)
        cleanupAutoLogs();
    for (const auto& g : cfg().groups)
        activateGroup(g);
    begun_ = true;
    if (!opts_.configPath.empty() && stateFile_.empty())
        stateFile_ = stateFilePath(stateDirectory(cfg().daemon.stateDir), opts_.configPath);
    adoptPrograms();
    refillLogs();
    // At start-up every autostart program is spawned at once, priority only
    // ordering them (docs/protocols/xmlrpc.md §3.5), a batch per loop turn.
    std::vector<std::string> names;
    for (auto* p : programsInOrder())
        names.push_back(p->namespec());
    forEachBatched(
        std::move(names),
        [](size_t, Program* p) {
            if (p)
                p->autostart();
        },
        [] {
            // Reading the configuration left holes all over the heap; the
            // daemon runs for months: give the free pages back once.
            malloc_trim(0);
        });
}

// ---- state across daemon restarts ----------------------------------------

void Engine::adoptPrograms() {
    if (stateFile_.empty())
        return;
    StateMap state = readStateFile(stateFile_);
    // Records of programs that are not configured now are kept: their
    // desired state counts again if a later reload brings them back.
    for (auto& [name, record] : state)
        if (!findProgram(name))
            savedState_.emplace(name, record);
    for (auto* p : programsInOrder()) {
        auto it = state.find(p->namespec());
        if (it != state.end())
            p->adopt(it->second); // sets the desired state even if nothing runs
    }
    // Line numbers and byte offsets move on while programs talk: keep the
    // file fresh enough that a crash loses little.
    auto tick = std::make_shared<std::function<void()>>();
    *tick = [this, tick] {
        if (outputSinceSave_ && state_ == DaemonState::Running)
            saveState();
        refreshTimer_ = loop_.addTimer(loop_.now() + 5000000, *tick);
    };
    refreshTimer_ = loop_.addTimer(loop_.now() + 5000000, *tick);
    saveState();
}

void Engine::refillLogs() {
    if (!opts_.journal)
        return;
    // Adopted or not, every program's buffer starts with its newest lines
    // and its numbering goes on; before the loop runs, so no new line comes
    // in between (journal_read.h says why this is synchronous).
    // Thousands of full buffers could take minutes, and systemd waits for
    // READY=1 only so long: after kRefillBudgetUs the remaining programs
    // only continue their numbering (their older lines are still read from
    // the journal on request).
    constexpr uint64_t kRefillBudgetUs = 10 * 1000000;
    const uint64_t t0 = loop_.now();
    size_t lines = 0, numberedOnly = 0;
    for (auto* p : programsInOrder()) {
        const bool inBudget = loop_.now() - t0 < kRefillBudgetUs;
        lines += refillLog(p->log(), *opts_.journal, p->namespec(), inBudget ? SIZE_MAX : 1);
        numberedOnly += !inBudget;
    }
    if (lines)
        log::info("log buffers refilled from the journal: " + std::to_string(lines) + " lines in " +
                  std::to_string((loop_.now() - t0) / 1000) + " ms" +
                  (numberedOnly ? "; " + std::to_string(numberedOnly) +
                                      " programs only continue their numbering (time budget spent)"
                                : ""));
}

void Engine::setDesired(Program& p, Desired d) {
    if (p.desired() == d)
        return;
    p.setDesired(d);
    scheduleSave();
}

void Engine::scheduleSave() {
    // Coalesce: a thousand programs starting or stopping write the file once.
    // During a shutdown nothing is written until everything has stopped.
    if (stateFile_.empty() || saveTimer_ || state_ == DaemonState::Shutdown)
        return;
    saveTimer_ = loop_.addTimer(loop_.now() + 100000, [this] { saveState(); });
}

void Engine::saveState(bool final) {
    saveTimer_.reset();
    if (stateFile_.empty())
        return;
    outputSinceSave_ = false;
    // The records of configured programs are made afresh each time; only
    // those of programs not configured now are kept in memory.
    StateMap state = savedState_;
    for (auto* p : programsInOrder())
        state.emplace(p->namespec(), p->record());
    // The file itself is written by another thread (state_writer.h says why).
    if (!stateWriter_)
        stateWriter_ = std::make_unique<StateWriter>(stateFile_);
    std::string text = formatStateFile(state);
    std::string err;
    if (!final)
        stateWriter_->post(std::move(text));
    else if (!stateWriter_->writeNow(std::move(text), &err))
        log::warn("cannot save the state: " + err);
    // No malloc_trim(0) here: it walks every free chunk of the heap, a
    // millisecond of the loop after a thousand programs stopped, and this
    // runs every 100 ms while they change. The records are freed at once and
    // their memory serves the next save.
}

// ---- groups -------------------------------------------------------------

namespace {

// Where AUTO log files go: childlogdir when it is set, else "logs" in the
// state directory, made (mode 0750) when a file is about to be put there.
// Never a world-writable directory by default: there anyone could plant a
// symlink or a FIFO at the next name, or read the programs' output.
std::string childLogDir(const config::DaemonConfig& d, bool make) {
    if (!d.childlogdir.empty())
        return d.childlogdir;
    const std::string stateDir = stateDirectory(d.stateDir);
    const std::string dir = stateDir + "/logs";
    if (make) {
        std::error_code ec;
        std::filesystem::create_directories(stateDir, ec);
        if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST)
            log::warn("cannot make the directory of AUTO log files " + dir + ": " + std::strerror(errno));
    }
    return dir;
}

} // namespace

std::string Engine::autoLogPath(const config::ProcessConfig& p, const char* channel) {
    const std::string dir = childLogDir(cfg().daemon, true);
    return dir + "/" + p.name + "-" + channel + "---" + cfg().daemon.identifier + "-" + randomSuffix() + ".log";
}

void Engine::cleanupAutoLogs() {
    const std::string dir = childLogDir(cfg().daemon, false);
    std::string pattern = dir + "/*---" + cfg().daemon.identifier + "-*.log*";
    glob_t g{};
    if (glob(pattern.c_str(), 0, nullptr, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; ++i)
            unlink(g.gl_pathv[i]);
    globfree(&g);
}

void Engine::activateGroup(const config::GroupConfig& gc) {
    auto g = std::make_unique<Group>();
    // The group's configuration stays inside the Config it came from, which
    // the group keeps alive: one copy of every program's settings, however
    // many reloads later. Kept as written: reload compares it with the next.
    g->source = configPtr_;
    g->gc = &gc;
    // Programs in priority order; each refers to its config in g->cfg,
    // which stays put for the group's life.
    std::vector<const config::ProcessConfig*> procs;
    for (const auto& pc : g->cfg().processes)
        procs.push_back(&pc);
    std::stable_sort(procs.begin(), procs.end(), [](auto* a, auto* b) { return a->priority < b->priority; });
    for (const auto* pcp : procs) {
        const config::ProcessConfig& pc = *pcp;
        auto p = std::make_unique<Program>(static_cast<ProgramHost&>(*this), pc, cfg().daemon.logBufferLines, cfg().daemon.logBufferBytes,
                                           gc.priority);
        std::string out = pc.stdoutLog.isAuto ? autoLogPath(pc, "stdout") : pc.stdoutLog.path;
        std::string err = pc.redirectStderr ? "" : (pc.stderrLog.isAuto ? autoLogPath(pc, "stderr") : pc.stderrLog.path);
        p->setLogPaths(out, err);
        p->openLogFiles();
        if (auto it = savedState_.find(p->namespec()); it != savedState_.end()) {
            p->setDesired(it->second.desired);
            savedState_.erase(it);
        }
        // Added or changed by a reload: its numbering goes on (at start-up
        // refillLogs() does this once the state file has been read).
        if (begun_ && opts_.journal)
            refillLog(p->log(), *opts_.journal, p->namespec());
        byNamespec_[p->namespec()] = p.get();
        g->programs.push_back(std::move(p));
    }
    Group* raw = g.get();
    groups_.push_back(std::move(g));
    sortGroups();
    for (auto& p : raw->programs) {
        auto info = p->info();
        each([&](Listener* l) { l->programAdded(info); });
    }
}

void Engine::deactivateGroup(const std::string& name) {
    auto it = std::find_if(groups_.begin(), groups_.end(), [&](auto& g) { return g->cfg().name == name; });
    if (it == groups_.end())
        return;
    std::unique_ptr<Group> g = std::move(*it);
    groups_.erase(it);
    for (auto& p : g->programs) {
        byNamespec_.erase(p->namespec());
        if (!stateFile_.empty()) // its desired state counts again if it comes back
            savedState_[p->namespec()] = p->record();
        p->publishPending();
        auto info = p->info();
        each([&](Listener* l) { l->programRemoved(info); });
    }
}

void Engine::sortGroups() {
    // By priority; ties keep load (name) order, as supervisord.
    std::stable_sort(groups_.begin(), groups_.end(), [](auto& a, auto& b) {
        if (a->cfg().priority != b->cfg().priority)
            return a->cfg().priority < b->cfg().priority;
        return a->cfg().name < b->cfg().name;
    });
}

Engine::Group* Engine::findGroup(const std::string& name) const {
    for (auto& g : groups_)
        if (g->cfg().name == name)
            return g.get();
    return nullptr;
}

Program* Engine::findProgram(const std::string& namespec) const {
    auto r = resolve(namespec);
    return r ? r.value() : nullptr;
}

Result<Program*> Engine::resolve(const std::string& namespec) const {
    // supervisord: split on the first ':'; no colon means group == name.
    auto colon = namespec.find(':');
    std::string group = colon == std::string::npos ? namespec : namespec.substr(0, colon);
    std::string name = colon == std::string::npos ? namespec : namespec.substr(colon + 1);
    if (Group* g = findGroup(group))
        for (auto& p : g->programs)
            if (p->config().name == name)
                return p.get();
    return Error{ErrorCode::NoSuchProgram, "no such program: " + namespec};
}

std::vector<Program*> Engine::programsInOrder() const {
    std::vector<Program*> v;
    for (auto& g : groups_)
        for (auto& p : g->programs)
            v.push_back(p.get());
    return v;
}

std::vector<Program*> Engine::allPrograms() const { return programsInOrder(); }

Status Engine::gate() const {
    if (state_ != DaemonState::Running)
        return Error{ErrorCode::ShuttingDown, "the daemon is shutting down"};
    return okStatus();
}

// ---- ProgramHost --------------------------------------------------------

void Engine::stateChanged(Program& p, ProcessState old) {
    scheduleSave();
    if (listeners_.empty())
        return;
    auto info = p.info();
    each([&](Listener* l) { l->programStateChanged(info, old); });
}

void Engine::spawned(Program& p) {
    if (listeners_.empty())
        return;
    auto info = p.info();
    each([&](Listener* l) { l->programSpawned(info); });
}

void Engine::output(Program&, const OutputEvent& ev) {
    outputSinceSave_ = true;
    each([&](Listener* l) { l->output(ev); });
}

std::vector<std::string> Engine::childEnvironment(const config::ProcessConfig& cfg) {
    // The daemon's own part is the same for every child: made once.
    if (daemonEnv_.empty())
        daemonEnv_.assign(opts_.loadContext.env.begin(), opts_.loadContext.env.end());
    return buildEnvironment(daemonEnv_, this->cfg().daemon, cfg, opts_.serverUrl);
}

// ---- requests -----------------------------------------------------------

void Engine::doStart(Program& p, bool wait, Callback<Status> done) {
    const ProcessState before = p.state();
    Status st = p.start();
    if (st || st.error().code == ErrorCode::AlreadyStarted)
        setDesired(p, Desired::Started);
    if (!st) {
        done(std::move(st));
        return;
    }
    if (before == ProcessState::Stopping) {
        // supervisord: a no-op; whoever waits for RUNNING is told it failed.
        if (wait)
            done(Error{ErrorCode::AbnormalTermination, p.namespec() + " is stopping"});
        else
            done(okStatus());
        return;
    }
    auto outcome = startOutcome(p);
    if (outcome && !*outcome) {
        done(std::move(*outcome)); // failed at once
        return;
    }
    if (!wait || outcome) {
        done(okStatus());
        return;
    }
    p.addWaiter([done](Program& q) {
        auto o = startOutcome(q);
        if (!o)
            return false;
        done(std::move(*o));
        return true;
    });
}

void Engine::doStop(Program& p, bool wait, Callback<Status> done) {
    Status st = p.stop();
    if (st || st.error().code == ErrorCode::NotRunning)
        setDesired(p, Desired::Stopped);
    if (!st || !wait || isStoppedState(p.state())) {
        done(std::move(st));
        return;
    }
    p.addWaiter([done](Program& q) {
        if (!isStoppedState(q.state()))
            return false;
        done(okStatus());
        return true;
    });
}

// Between two batches of stops (doMulti).
constexpr uint64_t kStopPauseUs = 3000;

void Engine::forEachBatched(std::vector<std::string> names, std::function<void(size_t, Program*)> fn,
                            std::function<void()> then, uint64_t pauseUs) {
    // Starting a thousand programs takes the loop a second or more: do it a
    // batch per loop turn, so that other callers are answered in between.
    // A batch ends after about a millisecond of work, however long each
    // program takes (spawns cost from tens of µs to a few hundred, more on
    // a busy machine), and after at most kMaxBatch programs.
    // Names, not pointers: a reload may remove programs between two turns.
    constexpr size_t kMaxBatch = 32;
    constexpr uint64_t kBudgetUs = 1000;
    auto step = std::make_shared<std::function<void(size_t)>>();
    auto pause = std::make_shared<SourcePtr>(); // the timer of a pause, once it has fired
    *step = [this, names = std::move(names), fn = std::move(fn), then = std::move(then), step, pause,
             pauseUs](size_t from) {
        pause->reset();
        const uint64_t t0 = loop_.now();
        size_t to = from;
        while (to < names.size() && to - from < kMaxBatch) {
            fn(to, findProgram(names[to]));
            ++to;
            if (loop_.now() - t0 >= kBudgetUs)
                break;
        }
        if (to < names.size()) {
            if (pauseUs) // posted from the timer, so that its source is not freed in its own callback
                *pause = loop_.addTimer(loop_.now() + pauseUs,
                                        [this, step, to] { loop_.post([step, to] { (*step)(to); }); });
            else
                loop_.post([step, to] { (*step)(to); });
            return;
        }
        auto finish = std::move(then);
        *step = nullptr; // the function held itself; let it go
        if (finish)
            finish();
    };
    (*step)(0);
}

void Engine::doMulti(std::vector<Program*> targets, bool isStart, bool wait, Callback<MultiResult> done) {
    // Collect one result per target; reply when every deferred one is in.
    struct Pending {
        MultiResult results;
        size_t outstanding = 0;
        Callback<MultiResult> done;
    };
    auto pending = std::make_shared<Pending>();
    pending->done = std::move(done);
    pending->results.reserve(targets.size());
    std::vector<std::string> names;
    for (auto* p : targets) {
        pending->results.push_back(resultFor(*p));
        names.push_back(p->namespec());
    }
    pending->outstanding = targets.size() + 1;
    auto finishOne = [pending](size_t i, Status st) {
        if (!st && i < pending->results.size())
            pending->results[i].error = st.error();
        if (--pending->outstanding == 0)
            pending->done(std::move(pending->results));
    };
    forEachBatched(
        std::move(names),
        [this, finishOne, isStart, wait](size_t i, Program* p) {
            auto cb = [finishOne, i](Status st) { finishOne(i, std::move(st)); };
            if (!p)
                cb(Error{ErrorCode::NoSuchProgram, "removed while the operation ran"});
            else if (isStart)
                doStart(*p, wait, cb);
            else
                doStop(*p, wait, cb);
        },
        [finishOne] { finishOne(SIZE_MAX, okStatus()); }, // the +1 above: reply only after the last batch
        // A thousand programs told to stop within a few milliseconds all exit
        // at once: the kernel tears down their memory, the engine reaps them
        // and dbus-daemon routes their signals, all in the same 50 ms on two
        // CPUs, and every caller of the daemon (and of dbus-daemon) waited
        // 30 to 60 ms. A pause between batches of stops spreads that out;
        // a StopAll of 1000 takes about as long as before (tests/bench/README.md).
        isStart ? 0 : kStopPauseUs);
}

void Engine::daemonInfo(Callback<DaemonInfo> done) {
    loop_.post([this, done] {
        DaemonInfo d;
        d.version = opts_.version;
        d.backend = backend_.name();
        d.identification = cfg().daemon.identifier;
        d.state = state_;
        d.pid = getpid();
        d.programCount = byNamespec_.size();
        done(std::move(d));
    });
}

void Engine::listPrograms(Callback<std::vector<ProgramInfo>> done) {
    loop_.post([this, done] {
        std::vector<ProgramInfo> v;
        v.reserve(byNamespec_.size());
        for (auto* p : allPrograms())
            v.push_back(p->info());
        std::sort(v.begin(), v.end(), [](auto& a, auto& b) {
            return a.group != b.group ? a.group < b.group : a.name < b.name;
        });
        done(std::move(v));
    });
}

void Engine::getProgram(std::string namespec, Callback<Result<ProgramInfo>> done) {
    withProgram(std::move(namespec), false, std::move(done),
                [](Program& p, const Callback<Result<ProgramInfo>>& d) { d(p.info()); });
}

void Engine::listConfig(Callback<std::vector<ConfigInfo>> done) {
    loop_.post([this, done] {
        ConfigInfoSource src;
        src.groupActive = [this](const std::string& group) { return findGroup(group) != nullptr; };
        src.logPaths = [this](const std::string& namespec) -> std::optional<ConfigInfoSource::LogPaths> {
            const Program* p = findProgram(namespec);
            if (!p)
                return std::nullopt;
            return ConfigInfoSource::LogPaths{p->stdoutLogPath(), p->stderrLogPath()};
        };
        done(configInfo(cfg(), src));
    });
}

void Engine::start(std::string namespec, bool wait, Callback<Status> done) {
    withProgram(std::move(namespec), true, std::move(done),
                [this, wait](Program& p, const Callback<Status>& d) { doStart(p, wait, d); });
}

void Engine::stop(std::string namespec, bool wait, Callback<Status> done) {
    withProgram(std::move(namespec), true, std::move(done),
                [this, wait](Program& p, const Callback<Status>& d) { doStop(p, wait, d); });
}

void Engine::restart(std::string namespec, bool wait, Callback<Status> done) {
    loop_.post([this, namespec, wait, done] {
        if (auto g = gate(); !g)
            return done(g);
        auto r = resolve(namespec);
        if (!r)
            return done(r.error());
        Program* p = r.value();
        auto startIt = [this, namespec, wait, done] {
            // The program may have been removed while it stopped.
            Program* q = findProgram(namespec);
            if (!q)
                return done(Error{ErrorCode::NoSuchProgram, "no such program: " + namespec});
            doStart(*q, wait, done);
        };
        setDesired(*p, Desired::Started);
        if (isRunningState(p->state()) || p->state() == ProcessState::Stopping) {
            if (p->state() != ProcessState::Stopping) {
                if (auto st = p->stop(); !st)
                    return done(st);
            }
            if (isStoppedState(p->state()))
                return startIt();
            p->addWaiter([startIt](Program& q) {
                if (!isStoppedState(q.state()))
                    return false;
                startIt();
                return true;
            });
            return;
        }
        startIt();
    });
}

void Engine::signal(std::string namespec, int sig, Callback<Status> done) {
    withProgram(std::move(namespec), true, std::move(done), [sig](Program& p, const Callback<Status>& d) {
        if (sig <= 0 || sig >= NSIG)
            return d(Error{ErrorCode::BadSignal, "bad signal: " + std::to_string(sig)});
        d(p.sendSignal(sig));
    });
}

namespace {
std::vector<Program*> filter(const std::vector<Program*>& v, bool (*pred)(ProcessState)) {
    std::vector<Program*> out;
    for (auto* p : v)
        if (pred(p->state()))
            out.push_back(p);
    return out;
}
bool notRunning(ProcessState s) { return !isRunningState(s); }
} // namespace

void Engine::withGroup(std::string group, Callback<Result<MultiResult>> done,
                       std::function<void(std::vector<Program*>, Callback<MultiResult>)> fn) {
    loop_.post([this, group = std::move(group), done = std::move(done), fn = std::move(fn)] {
        if (auto g = gate(); !g)
            return done(g.error());
        Group* g = findGroup(group);
        if (!g)
            return done(Error{ErrorCode::NoSuchGroup, "no such group: " + group});
        std::vector<Program*> members;
        for (auto& p : g->programs)
            members.push_back(p.get());
        fn(std::move(members), [done](MultiResult r) { done(std::move(r)); });
    });
}

MultiResult Engine::signalEach(const std::vector<Program*>& programs, int sig) {
    MultiResult out;
    for (auto* p : programs) {
        if (!isSignallableState(p->state()))
            continue;
        Status st = (sig <= 0 || sig >= NSIG)
                        ? Status(Error{ErrorCode::BadSignal, "bad signal: " + std::to_string(sig)})
                        : p->sendSignal(sig);
        out.push_back(resultFor(*p, st ? Error{} : st.error()));
    }
    return out;
}

void Engine::startGroup(std::string group, bool wait, Callback<Result<MultiResult>> done) {
    withGroup(std::move(group), std::move(done), [this, wait](std::vector<Program*> members, Callback<MultiResult> d) {
        doMulti(filter(members, notRunning), true, wait, std::move(d));
    });
}

void Engine::stopGroup(std::string group, bool wait, Callback<Result<MultiResult>> done) {
    withGroup(std::move(group), std::move(done), [this, wait](std::vector<Program*> members, Callback<MultiResult> d) {
        // Stop in reverse priority order.
        std::reverse(members.begin(), members.end());
        doMulti(filter(members, isRunningState), false, wait, std::move(d));
    });
}

void Engine::signalGroup(std::string group, int sig, Callback<Result<MultiResult>> done) {
    withGroup(std::move(group), std::move(done), [sig](std::vector<Program*> members, Callback<MultiResult> d) {
        d(signalEach(members, sig));
    });
}

void Engine::startAll(bool wait, Callback<MultiResult> done) {
    loop_.post([this, wait, done] {
        if (auto g = gate(); !g)
            return done(MultiResult{});
        doMulti(filter(allPrograms(), notRunning), true, wait, done);
    });
}

void Engine::stopAll(bool wait, Callback<MultiResult> done) {
    loop_.post([this, wait, done] {
        if (auto g = gate(); !g)
            return done(MultiResult{});
        auto v = allPrograms();
        std::reverse(v.begin(), v.end());
        doMulti(filter(v, isRunningState), false, wait, done);
    });
}

void Engine::signalAll(int sig, Callback<MultiResult> done) {
    loop_.post([this, sig, done] {
        if (auto g = gate(); !g)
            return done(MultiResult{});
        done(signalEach(allPrograms(), sig));
    });
}

void Engine::sendInput(std::string namespec, std::string data, Callback<Status> done) {
    withProgram(std::move(namespec), true, std::move(done),
                [data = std::move(data)](Program& p, const Callback<Status>& d) mutable {
                    d(p.writeInput(std::move(data)));
                });
}

void Engine::readLog(std::string namespec, Stream s, uint64_t firstLine, uint32_t maxLines,
                     Callback<Result<LogLines>> done) {
    loop_.post([this, namespec, s, firstLine, maxLines, done] {
        auto r = resolve(namespec);
        if (!r)
            return done(r.error());
        done(readLines(r.value()->log(), opts_.journal, namespec, s, firstLine, maxLines));
    });
}

void Engine::readBytes(std::string namespec, Stream s, int64_t offset, int64_t length,
                       Callback<Result<LogBytes>> done) {
    loop_.post([this, namespec, s, offset, length, done] {
        auto r = resolve(namespec);
        if (!r)
            return done(r.error());
        if (s == Stream::All)
            return done(Error{ErrorCode::BadArguments, "byte reads take stdout or stderr"});
        const ProgramLog& log = r.value()->log();
        BufferByteSource src(s == Stream::Stderr ? log.stderrBuf() : log.stdoutBuf());
        done(readLogBytes(src, offset, length));
    });
}

void Engine::tailBytes(std::string namespec, Stream s, int64_t offset, int64_t length,
                       Callback<Result<LogBytes>> done) {
    loop_.post([this, namespec, s, offset, length, done] {
        auto r = resolve(namespec);
        if (!r)
            return done(r.error());
        if (s == Stream::All)
            return done(Error{ErrorCode::BadArguments, "byte reads take stdout or stderr"});
        const ProgramLog& log = r.value()->log();
        BufferByteSource src(s == Stream::Stderr ? log.stderrBuf() : log.stdoutBuf());
        done(tailLogBytes(src, offset, length));
    });
}

void Engine::clearLog(std::string namespec, Callback<Status> done) {
    withProgram(std::move(namespec), true, std::move(done), [](Program& p, const Callback<Status>& d) {
        p.clearLogs();
        d(okStatus());
    });
}

void Engine::clearAllLogs(Callback<MultiResult> done) {
    loop_.post([this, done] {
        MultiResult out;
        if (auto g = gate(); !g)
            return done(out);
        for (auto* p : allPrograms()) {
            p->clearLogs();
            out.push_back(resultFor(*p));
        }
        done(std::move(out));
    });
}

void Engine::readMainLog(int64_t offset, int64_t length, Callback<Result<LogBytes>> done) {
    loop_.post([this, offset, length, done] { done(mainLog_.read(offset, length)); });
}

void Engine::clearMainLog(Callback<Status> done) {
    loop_.post([this, done] {
        mainLog_.clear();
        done(okStatus());
    });
}

// ---- configuration ------------------------------------------------------

Result<config::Config> Engine::readConfig() {
    try {
        auto c = opts_.load ? opts_.load(opts_.configPath, opts_.loadContext)
                            : config::load(opts_.configPath, opts_.loadContext);
        for (auto& w : c.warnings)
            log::warn(w.text());
        return c;
    } catch (const config::ConfigError& e) {
        return Error{ErrorCode::CantReread, e.what()};
    } catch (const std::exception& e) {
        return Error{ErrorCode::CantReread, e.what()};
    }
}

ConfigDiff Engine::diff(const config::Config& next) const {
    ConfigDiff d;
    for (auto& g : next.groups) {
        const Group* active = findGroup(g.name);
        if (!active)
            d.added.push_back(g.name);
        else if (!active->cfg().sameAs(g))
            d.changed.push_back(g.name);
    }
    for (auto& g : groups_)
        if (!next.findGroup(g->cfg().name))
            d.removed.push_back(g->cfg().name);
    return d;
}

void Engine::rereadConfig(Callback<Result<ConfigDiff>> done) {
    loop_.post([this, done] {
        if (auto g = gate(); !g)
            return done(g.error());
        auto c = readConfig();
        if (!c)
            return done(c.error());
        auto d = diff(c.value());
        configPtr_ = std::make_shared<const config::Config>(std::move(c.value()));
        done(std::move(d));
    });
}

void Engine::stopGroupThen(const std::string& name, std::function<void()> then) {
    Group* g = findGroup(name);
    if (!g)
        return then();
    std::vector<Program*> members;
    for (auto& p : g->programs) {
        p->giveUp();
        if (isRunningState(p->state()) || p->state() == ProcessState::Stopping)
            members.push_back(p.get());
    }
    std::reverse(members.begin(), members.end());
    auto remaining = std::make_shared<size_t>(members.size() + 1);
    // `then` may remove the group, so it never runs inside the state-change
    // callback of one of its programs: it is posted to the loop.
    auto one = [this, remaining, then] {
        if (--*remaining == 0)
            loop_.post(then);
    };
    for (auto* p : members) {
        if (p->state() != ProcessState::Stopping)
            p->stop();
        if (isStoppedState(p->state())) {
            one();
            continue;
        }
        p->addWaiter([one](Program& q) {
            if (!isStoppedState(q.state()))
                return false;
            one();
            return true;
        });
    }
    one();
}

ReloadResult Engine::applyConfig(config::Config next) {
    ReloadResult d = diff(next);
    configPtr_ = std::make_shared<const config::Config>(std::move(next));
    log::setLevel([&] {
        log::Level l = log::Level::Info;
        log::parseLevel(cfg().daemon.loglevel, l);
        return l;
    }());
    for (auto& name : d.removed)
        stopGroupThen(name, [this, name] {
            deactivateGroup(name);
            log::info("removed process group " + name);
        });
    for (auto& name : d.changed)
        stopGroupThen(name, [this, name] {
            deactivateGroup(name);
            if (const auto* gc = cfg().findGroup(name)) {
                activateGroup(*gc);
                if (Group* g = findGroup(name))
                    for (auto& p : g->programs)
                        p->autostart();
                log::info("updated process group " + name);
            }
        });
    for (auto& name : d.added)
        if (const auto* gc = cfg().findGroup(name)) {
            activateGroup(*gc);
            if (Group* g = findGroup(name))
                for (auto& p : g->programs)
                    p->autostart();
            log::info("added process group " + name);
        }
    return d;
}

void Engine::reload(Callback<Result<ReloadResult>> done) {
    loop_.post([this, done] {
        if (auto g = gate(); !g)
            return done(g.error());
        auto c = readConfig();
        if (!c) {
            log::error("reload failed, keeping the running configuration: " + c.error().message);
            return done(c.error());
        }
        done(applyConfig(std::move(c.value())));
    });
}

void Engine::requestReload() {
    reload([](Result<ReloadResult> r) {
        if (r)
            log::info("reloaded: " + std::to_string(r->added.size()) + " added, " +
                      std::to_string(r->changed.size()) + " changed, " + std::to_string(r->removed.size()) +
                      " removed");
    });
}

void Engine::addGroup(std::string group, Callback<Status> done) {
    loop_.post([this, group, done] {
        if (auto g = gate(); !g)
            return done(g);
        if (findGroup(group))
            return done(Error{ErrorCode::AlreadyAdded, group});
        const auto* gc = cfg().findGroup(group);
        if (!gc)
            return done(Error{ErrorCode::NoSuchGroup, group});
        activateGroup(*gc);
        if (Group* g = findGroup(group))
            for (auto& p : g->programs)
                p->autostart();
        done(okStatus());
    });
}

void Engine::removeGroup(std::string group, Callback<Status> done) {
    loop_.post([this, group, done] {
        if (auto g = gate(); !g)
            return done(g);
        Group* g = findGroup(group);
        if (!g)
            return done(Error{ErrorCode::NoSuchGroup, group});
        for (auto& p : g->programs)
            if (!isStoppedState(p->state()))
                return done(Error{ErrorCode::StillRunning, group});
        deactivateGroup(group);
        done(okStatus());
    });
}

// ---- shutdown -----------------------------------------------------------

void Engine::setDaemonState(DaemonState s) {
    if (s == state_)
        return;
    state_ = s;
    each([&](Listener* l) { l->daemonStateChanged(s); });
}

void Engine::stopNextGroup(std::vector<std::string> order, std::function<void()> then) {
    if (order.empty()) {
        waitingLog_.reset();
        return then();
    }
    std::string name = order.front();
    order.erase(order.begin());
    stopGroupThen(name, [this, order = std::move(order), then]() mutable { stopNextGroup(std::move(order), then); });
}

void Engine::stopEverything(std::function<void()> then) {
    // Groups one at a time, highest priority number first (docs/protocols/xmlrpc.md §3.6).
    std::vector<std::string> order;
    for (auto it = groups_.rbegin(); it != groups_.rend(); ++it)
        order.push_back((*it)->cfg().name);
    // Say every 3 s what we are waiting for.
    auto tick = std::make_shared<std::function<void()>>();
    *tick = [this, tick] {
        std::string names;
        for (auto* p : allPrograms())
            if (!isStoppedState(p->state()))
                names += (names.empty() ? "" : ", ") + p->namespec();
        if (!names.empty())
            log::info("waiting for " + names + " to die");
        waitingLog_ = loop_.addTimer(loop_.now() + 3000000, *tick);
    };
    waitingLog_ = loop_.addTimer(loop_.now() + 3000000, *tick);
    stopNextGroup(std::move(order), std::move(then));
}

void Engine::requestShutdown() {
    if (state_ == DaemonState::Shutdown)
        return;
    log::info("shutting down: stopping all programs");
    setDaemonState(DaemonState::Shutdown);
    stopEverything([this] {
        saveState(/*final=*/true);
        log::info("all programs stopped");
        if (onShutdown_)
            onShutdown_();
    });
}

void Engine::requestDetach() {
    if (state_ == DaemonState::Shutdown)
        return;
    log::info("exiting; the programs keep running and the next daemon adopts them");
    setDaemonState(DaemonState::Shutdown);
    saveState(/*final=*/true);
    if (onShutdown_)
        onShutdown_();
}

void Engine::shutdown(Callback<Status> done) {
    loop_.post([this, done] {
        if (auto g = gate(); !g)
            return done(g);
        done(okStatus()); // the reply goes out before anything stops
        requestShutdown();
    });
}

void Engine::restartDaemon(Callback<Status> done) {
    loop_.post([this, done] {
        if (auto g = gate(); !g)
            return done(g);
        done(okStatus());
        log::info("restarting: stopping all programs");
        setDaemonState(DaemonState::Restarting);
        stopEverything([this] {
            auto c = readConfig();
            std::vector<std::string> names;
            for (auto& g : groups_)
                names.push_back(g->cfg().name);
            for (auto& n : names)
                deactivateGroup(n);
            if (c)
                configPtr_ = std::make_shared<const config::Config>(std::move(c.value()));
            else
                log::error("restart: " + c.error().message + "; keeping the previous configuration");
            setDaemonState(DaemonState::Running);
            begin();
        });
    });
}

void Engine::reopenLogs() {
    mainLog_.reopen();
    for (auto* p : allPrograms())
        p->reopenLogFiles();
    log::info("log files reopened");
}

void Engine::addListener(Listener* l) {
    auto add = [this, l] {
        listeners_.push_back(l);
        hasListeners_ = true;
    };
    // On the loop's own thread at once: the daemon adds the journal sink
    // before begin(), and a posted add ran only after the output an adopted
    // program had written while no daemon ran was read, so those lines
    // reached the buffer but never the journal.
    if (std::this_thread::get_id() == loopThread_)
        return add();
    loop_.post(add);
}

void Engine::removeListener(Listener* l) {
    auto rm = [this, l] {
        listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), l), listeners_.end());
        hasListeners_ = !listeners_.empty();
    };
    if (std::this_thread::get_id() == loopThread_)
        return rm();
    // Elsewhere: wait until the loop has dropped it, so that the caller may
    // destroy the listener as soon as this returns.
    std::promise<void> removed;
    loop_.post([&] {
        rm();
        removed.set_value();
    });
    removed.get_future().wait();
}

} // namespace scopevisor
