// SPDX-License-Identifier: LGPL-2.1-or-later
#include "engine.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <malloc.h>
#include <future>
#include <thread>

#include <unistd.h>

#include "config_info.h"
#include "log_read.h"
#include "logging.h"
#include "spawn.h"
#include "state_file.h"

namespace scopevisor {
ProgramResult Engine::resultFor(const Program& p, Error e) {
    return ProgramResult{p.namespec(), p.config().name, p.config().group, std::move(e)};
}

namespace {

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

// ---- groups -------------------------------------------------------------

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
