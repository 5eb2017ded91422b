// SPDX-License-Identifier: LGPL-2.1-or-later
#include "program.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "logging.h"
#include "spawn.h"

namespace scopevisor {
namespace {

constexpr uint64_t kSecond = 1000000;

std::string errnoText(int e) { return std::strerror(e); }

// PATH for finding the command: the program's environment, else the
// daemon's, else supervisord's fallback.
std::string searchPath(const config::ProcessConfig& cfg) {
    for (auto it = cfg.environment.rbegin(); it != cfg.environment.rend(); ++it)
        if (it->first == "PATH")
            return it->second;
    const char* p = getenv("PATH");
    return p && *p ? p : "/bin:/usr/bin:/usr/local/bin";
}

// A child nobody wants any more (its program is gone or was respawned while
// the backend worked): kill all of it and close our ends of its pipes.
void discardChild(Backend& backend, Child& c) {
    backend.cleanup(c);
    for (int fd : {c.stdinFd, c.stdoutFd, c.stderrFd})
        if (fd >= 0)
            close(fd);
}

} // namespace

std::string formatUptime(int64_t s) {
    if (s < 0)
        s = 0;
    int64_t days = s / 86400;
    s %= 86400;
    char buf[64];
    snprintf(buf, sizeof buf, "%d:%02d:%02d", int(s / 3600), int(s % 3600 / 60), int(s % 60));
    if (days == 0)
        return buf;
    return std::to_string(days) + (days == 1 ? " day, " : " days, ") + buf;
}

std::string describe(ProcessState s, pid_t pid, uint64_t startedAtUs, uint64_t stoppedAtUs, uint64_t nowUs,
                     const std::string& spawnErr, const std::string& name) {
    switch (s) {
    case ProcessState::Running: {
        int64_t up = int64_t(nowUs / kSecond) - int64_t(startedAtUs / kSecond);
        return "pid " + std::to_string(pid) + ", uptime " + formatUptime(up);
    }
    case ProcessState::Stopped:
    case ProcessState::Exited: {
        if (startedAtUs == 0)
            return "Not started";
        time_t t = time_t(stoppedAtUs / kSecond);
        struct tm tm {};
        localtime_r(&t, &tm);
        char buf[64];
        strftime(buf, sizeof buf, "%b %d %I:%M %p", &tm);
        return buf;
    }
    case ProcessState::Backoff:
    case ProcessState::Fatal:
        return spawnErr.empty() ? "unknown error (try \"tail " + name + "\")" : spawnErr;
    default:
        return "";
    }
}

Program::Program(ProgramHost& host, const config::ProcessConfig& cfg, uint64_t bufferLines, uint64_t bufferBytes,
                 int groupPriority)
    : host_(host), cfg_(cfg), namespec_(cfg_.namespec()), groupPriority_(groupPriority),
      log_(bufferLines, bufferBytes) {}

Program::~Program() {
    timer_.reset();
    closeStream(false);
    closeStream(true);
    closeInput();
}

ProgramInfo Program::info() const {
    ProgramInfo i;
    i.namespec = namespec_;
    i.name = cfg_.name;
    i.group = cfg_.group;
    i.state = state_;
    i.pid = pid();
    i.exitStatus = exitStatus_;
    i.exitStatusKnown = exitKnown_;
    i.spawnError = spawnErr_;
    i.startedAtUs = startedAtUs_;
    i.stoppedAtUs = stoppedAtUs_;
    i.unit = child_ ? child_->unit : "";
    i.stdoutLogfile = stdoutLogPath_;
    i.stderrLogfile = stderrLogPath_;
    i.command = cfg_.command;
    i.priority = cfg_.priority;
    i.groupPriority = groupPriority_;
    i.autostart = cfg_.autostart;
    i.stdoutBytes = log_.stdoutBuf().bytesEnd();
    i.stderrBytes = log_.stderrBuf().bytesEnd();
    i.description = describe(state_, i.pid, startedAtUs_, stoppedAtUs_, host_.loop().realtime(), spawnErr_, cfg_.name);
    return i;
}

void Program::setState(ProcessState s) {
    if (s == state_)
        return;
    ProcessState old = state_;
    state_ = s;
    log::debug(std::string(stateName(s)) + " " + namespec_ + " (was " + stateName(old) + ")");
    // Waiters may add waiters or even issue requests; iterate over a snapshot.
    auto current = std::move(waiters_);
    waiters_.clear();
    for (auto& w : current)
        if (!w(*this))
            waiters_.push_back(std::move(w));
    // The engine read the pipes at the exit before this: what is still
    // unterminated now waits on a pipe a descendant holds.
    if (isStoppedState(s) || s == ProcessState::Backoff)
        publishPending();
    host_.stateChanged(*this, old);
}

void Program::addWaiter(Waiter w) { waiters_.push_back(std::move(w)); }

void Program::scheduleTimer(uint64_t atUs, void (Program::*fn)()) {
    timer_ = host_.loop().addTimer(atUs, [this, fn] { (this->*fn)(); });
}

Status Program::start() {
    if (isRunningState(state_))
        return Error{ErrorCode::AlreadyStarted, namespec_ + " is already started"};
    if (state_ == ProcessState::Unknown)
        return Error{ErrorCode::Failed, namespec_ + " is in an unknown process state"};
    if (state_ == ProcessState::Stopping)
        return okStatus(); // supervisord: a no-op (a waiting caller gets ABNORMAL_TERMINATION)
    // supervisord checks the command before anything is spawned.
    if (cfg_.argv.empty())
        return Error{ErrorCode::NoFile, namespec_ + ": empty command"};
    auto exe = resolveExecutable(cfg_.argv[0], searchPath(cfg_), cfg_.directory);
    if (!exe)
        return exe.error();
    backoff_ = 0;
    spawn();
    return okStatus();
}

void Program::autostart() {
    const bool wanted = desired_ == Desired::Started || (desired_ == Desired::Default && cfg_.autostart);
    if (wanted && state_ == ProcessState::Stopped && !everStarted()) {
        auto st = start();
        if (!st)
            enterBackoff(st.error().message);
    }
}

void Program::spawn() {
    timer_.reset();
    spawnErr_.clear();
    startedAtUs_ = host_.loop().realtime();
    startedAtMono_ = host_.loop().now();
    exitStatus_ = 0;
    exitKnown_ = true;
    setState(ProcessState::Starting);
    if (state_ != ProcessState::Starting)
        return; // a waiter reacted (e.g. stopped us)

    SpawnSpec spec;
    spec.namespec = namespec_;
    spec.env = host_.childEnvironment(cfg_);
    auto exe = resolveExecutable(cfg_.argv.empty() ? std::string() : cfg_.argv[0], searchPath(cfg_), cfg_.directory);
    if (!exe) {
        // The command vanished since the start request was checked.
        enterBackoff(exe.error().message);
        return;
    }
    spec.path = exe.value();
    spec.argv = cfg_.argv;
    spec.directory = cfg_.directory;
    spec.user = cfg_.user;
    spec.umask = cfg_.umask;
    spec.redirectStderr = cfg_.redirectStderr;
    spec.cfg = &cfg_;

    const uint64_t gen = ++generation_;
    spawnInFlight_ = true;
    std::weak_ptr<int> alive = alive_;
    Backend* backend = &host_.backend(); // outlives every program
    host_.backend().spawn(
        spec,
        [this, alive, gen, backend](Result<Child> r) {
            if (auto a = alive.lock())
                onSpawned(gen, std::move(r));
            else if (r)
                discardChild(*backend, r.value()); // removed while the spawn was in flight
        },
        [this, alive, gen](int status, bool known) {
            if (auto a = alive.lock())
                onExit(gen, status, known);
        });
}

void Program::onSpawned(uint64_t gen, Result<Child> r) {
    if (gen != generation_) {
        if (r)
            discardChild(host_.backend(), r.value());
        return;
    }
    spawnInFlight_ = false;
    if (!r) {
        if (stopWhenSpawned_) {
            // Stopped while the backend worked, and nothing ever ran: the
            // stop is complete (no BACKOFF, no retry).
            stopWhenSpawned_ = false;
            spawnErr_ = r.error().message;
            stoppedAtUs_ = host_.loop().realtime();
            setState(ProcessState::Stopped);
            return;
        }
        enterBackoff(r.error().message);
        return;
    }
    child_ = std::move(r.value());
    publishPending(); // of the previous run, with its pid
    runPid_ = child_->pid;
    runUnit_ = child_->unit;
    // Read by the backend where it cannot hold up the engine (backend.h);
    // a backend that did not (tests' fakes) has it read here.
    pidStartTicks_ = child_->startTicks ? child_->startTicks : processStartTicks(child_->pid);
    if (child_->stdoutFd >= 0) {
        outReader_.fd = child_->stdoutFd;
        watchOutput(outReader_.fd, false);
    }
    if (child_->stderrFd >= 0) {
        errReader_.fd = child_->stderrFd;
        watchOutput(errReader_.fd, true);
    }
    closeInput();
    stdinFd_ = child_->stdinFd;
    child_->stdinFd = child_->stdoutFd = child_->stderrFd = -1; // owned here now
    log::info("spawned: '" + namespec_ + "' with pid " + std::to_string(child_->pid) +
              (child_->unit.empty() ? "" : " in " + child_->unit));
    host_.spawned(*this);
    if (stopWhenSpawned_) {
        stopWhenSpawned_ = false;
        state_ = ProcessState::Starting;
        stop();
        return;
    }
    if (state_ != ProcessState::Starting)
        return;
    if (cfg_.startsecs <= 0) {
        backoff_ = 0;
        setState(ProcessState::Running);
        log::info("success: " + namespec_ + " entered RUNNING state, process has stayed up for > than 0 seconds (startsecs)");
    } else {
        // supervisord: RUNNING once now - laststart > startsecs (strictly).
        scheduleTimer(startedAtMono_ + uint64_t(cfg_.startsecs) * kSecond + 1, &Program::onStartTimer);
    }
}

void Program::onStartTimer() {
    timer_.reset();
    if (state_ != ProcessState::Starting || !child_)
        return;
    backoff_ = 0;
    setState(ProcessState::Running);
    log::info("success: " + namespec_ + " entered RUNNING state, process has stayed up for > than " +
              std::to_string(cfg_.startsecs) + " seconds (startsecs)");
}

void Program::enterBackoff(std::string why) {
    spawnErr_ = std::move(why);
    ++backoff_;
    log::info("spawnerr: " + namespec_ + ": " + spawnErr_);
    setState(ProcessState::Backoff);
    if (state_ != ProcessState::Backoff)
        return;
    if (!cfg_.startretriesInfinite && backoff_ > cfg_.startretries) {
        timer_.reset();
        backoff_ = 0;
        setState(ProcessState::Fatal);
        log::info("gave up: " + namespec_ + " entered FATAL state, too many start retries too quickly");
        return;
    }
    // Linear backoff, 1 s, 2 s, 3 s... as supervisord; capped by backoff_max
    // (which defaults to 60 s when retries are infinite, so they never stall).
    int delay = backoff_;
    int cap = cfg_.backoffMax > 0 ? cfg_.backoffMax : (cfg_.startretriesInfinite ? 60 : 0);
    if (cap > 0)
        delay = std::min(delay, cap);
    scheduleTimer(host_.loop().now() + uint64_t(delay) * kSecond, &Program::onBackoffTimer);
}

void Program::onBackoffTimer() {
    timer_.reset();
    if (state_ != ProcessState::Backoff)
        return;
    // BACKOFF -> STARTING happens regardless of autorestart (supervisord).
    if (!host_.restartsAllowed())
        return;
    spawn();
}

bool Program::expectedExit(int code) const {
    return std::find(cfg_.exitcodes.begin(), cfg_.exitcodes.end(), code) != cfg_.exitcodes.end();
}

void Program::onExit(uint64_t gen, int status, bool known) {
    if (gen != generation_ || !child_)
        return;
    const pid_t pid = child_->pid;
    host_.backend().cleanup(*child_);
    child_.reset();
    closeInput();
    // Whatever the pipes hold now was written before the exit: take it
    // before the state changes, so a reader of the final state sees it.
    if (outReader_.fd >= 0)
        readOutput(outReader_.fd, false);
    if (errReader_.fd >= 0)
        readOutput(errReader_.fd, true);

    const uint64_t nowMono = host_.loop().now();
    stoppedAtUs_ = host_.loop().realtime();
    exitKnown_ = known;
    int code = 0;
    std::string how;
    if (!known) {
        code = -1;
        how = "exit status unknown";
    } else if (WIFSIGNALED(status)) {
        code = -1;
        how = "terminated by SIG" + config::signalName(WTERMSIG(status));
    } else {
        code = WEXITSTATUS(status);
        how = "exit status " + std::to_string(code);
    }
    timer_.reset();

    switch (state_) {
    case ProcessState::Stopping:
        exitStatus_ = code;
        log::info("stopped: " + namespec_ + " (" + how + ")");
        setState(ProcessState::Stopped);
        return;
    case ProcessState::Starting: {
        const bool tooQuick = nowMono - startedAtMono_ <= uint64_t(std::max(cfg_.startsecs, 0)) * kSecond;
        if (tooQuick) {
            exitStatus_ = 0;
            log::info("exited: " + namespec_ + " (" + how + "; not expected)");
            enterBackoff("Exited too quickly (process log may have details)");
            return;
        }
        // Exited after startsecs but before the timer fired: it was running.
        backoff_ = 0;
        setState(ProcessState::Running);
        if (state_ != ProcessState::Running)
            return;
        [[fallthrough]];
    }
    case ProcessState::Running: {
        backoff_ = 0;
        exitStatus_ = code;
        const bool expected = known && expectedExit(code);
        log::info("exited: " + namespec_ + " (" + how + "; " + (expected ? "expected" : "not expected") + ")");
        spawnErr_ = expected ? "" : "Bad exit code " + std::to_string(code);
        setState(ProcessState::Exited);
        if (state_ != ProcessState::Exited)
            return;
        const bool restart = cfg_.autorestart == config::AutoRestart::True ||
                             (cfg_.autorestart == config::AutoRestart::Unexpected && !expected);
        if (restart && host_.restartsAllowed())
            spawn();
        return;
    }
    default:
        log::warn("unexpected exit of " + namespec_ + " (pid " + std::to_string(pid) + ") in state " +
                  stateName(state_));
        exitStatus_ = code;
        setState(ProcessState::Exited);
    }
}

int Program::signalChild(int sig, bool tree) {
    if (!child_)
        return ESRCH;
    return host_.backend().kill(*child_, sig, tree);
}

Status Program::stop() {
    if (state_ == ProcessState::Backoff) {
        timer_.reset();
        setState(ProcessState::Stopped);
        return okStatus();
    }
    if (!isRunningState(state_))
        return Error{ErrorCode::NotRunning, namespec_ + " is not running"};
    // STARTING or RUNNING.
    if (spawnInFlight_) {
        // The backend is still creating the process (a systemd job): stop it
        // as soon as it exists.
        stopWhenSpawned_ = true;
        setState(ProcessState::Stopping);
        return okStatus();
    }
    timer_.reset();
    setState(ProcessState::Stopping);
    if (state_ != ProcessState::Stopping)
        return okStatus();
    int err = signalChild(cfg_.stopsignal, cfg_.stopasgroup);
    log::info("stopping: " + namespec_ + " with SIG" + config::signalName(cfg_.stopsignal));
    if (err != 0 && err != ESRCH) {
        log::error("failed to signal " + namespec_ + ": " + errnoText(err));
        setState(ProcessState::Unknown);
        return Error{ErrorCode::Failed, namespec_ + ": " + errnoText(err)};
    }
    scheduleTimer(host_.loop().now() + uint64_t(std::max(cfg_.stopwaitsecs, 0)) * kSecond, &Program::onKillTimer);
    return okStatus();
}

void Program::onKillTimer() {
    timer_.reset();
    if (state_ != ProcessState::Stopping || !child_)
        return;
    log::warn("killing '" + namespec_ + "' (" + std::to_string(child_->pid) + ") with SIGKILL");
    // The whole program goes: the main process and everything it started.
    int err = signalChild(SIGKILL, true);
    if (err != 0 && err != ESRCH) {
        log::error("failed to kill " + namespec_ + ": " + errnoText(err));
        setState(ProcessState::Unknown);
    }
}

void Program::giveUp() {
    if (state_ == ProcessState::Backoff) {
        timer_.reset();
        setState(ProcessState::Fatal);
    }
}

Status Program::sendSignal(int sig) {
    if (!isSignallableState(state_) || !child_)
        return Error{ErrorCode::NotRunning, namespec_ + " is not running"};
    int err = signalChild(sig, false);
    if (err != 0)
        return Error{ErrorCode::Failed, namespec_ + ": " + errnoText(err)};
    return okStatus();
}

// ---- adoption -----------------------------------------------------------

ProgramRecord Program::record() const {
    ProgramRecord r;
    r.desired = desired_;
    if (child_ && (state_ == ProcessState::Running || state_ == ProcessState::Starting ||
                   state_ == ProcessState::Stopping)) {
        r.pid = child_->pid;
        r.pidStartTicks = pidStartTicks_;
        r.startedAtUs = startedAtUs_;
        r.unit = child_->unit;
    }
    r.stdoutNextLine = log_.stdoutBuf().nextLine();
    r.stdoutBytes = log_.stdoutBuf().bytesEnd();
    r.stderrNextLine = log_.stderrBuf().nextLine();
    r.stderrBytes = log_.stderrBuf().bytesEnd();
    r.nextSeq = log_.nextSeq();
    return r;
}

bool Program::adopt(const ProgramRecord& r) {
    desired_ = r.desired;
    // Numbering and offsets go on from where the previous daemon was.
    log_.stdoutBuf().resume(r.stdoutNextLine, r.stdoutBytes);
    log_.stderrBuf().resume(r.stderrNextLine, r.stderrBytes);
    log_.resume(r.nextSeq);
    if (r.pid <= 0 || r.pidStartTicks == 0 || processStartTicks(r.pid) != r.pidStartTicks)
        return false; // gone, or the pid now belongs to another process
    Child c;
    c.pid = r.pid;
    c.unit = r.unit;
    c.pidfd = pidfdOpen(r.pid);
    if (c.pidfd < 0)
        return false;
    // The program holds read-write ends of its own pipes (docs/architecture.md §5), so
    // its pipes are still there: reopen them through /proc.
    const std::string fdDir = "/proc/" + std::to_string(r.pid) + "/fd/";
    c.stdinFd = ::open((fdDir + "0").c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    c.stdoutFd = ::open((fdDir + "1").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (!cfg_.redirectStderr)
        c.stderrFd = ::open((fdDir + "2").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    std::weak_ptr<int> alive = alive_;
    const uint64_t gen = ++generation_;
    auto st = host_.backend().adopt(namespec_, c, [this, alive, gen](int status, bool known) {
        if (auto a = alive.lock())
            onExit(gen, status, known);
    });
    if (!st) {
        log::warn("cannot adopt " + namespec_ + " (pid " + std::to_string(r.pid) + "): " + st.error().message);
        for (int fd : {c.pidfd, c.stdinFd, c.stdoutFd, c.stderrFd})
            if (fd >= 0)
                ::close(fd);
        return false;
    }
    startedAtUs_ = r.startedAtUs;
    pidStartTicks_ = r.pidStartTicks;
    const uint64_t nowRt = host_.loop().realtime();
    const uint64_t age = nowRt > r.startedAtUs ? nowRt - r.startedAtUs : 0;
    const uint64_t nowMono = host_.loop().now();
    startedAtMono_ = nowMono > age ? nowMono - age : 0;
    child_ = c;
    runPid_ = c.pid;
    runUnit_ = c.unit;
    if (c.stdoutFd >= 0) {
        outReader_.fd = c.stdoutFd;
        watchOutput(outReader_.fd, false);
    }
    if (c.stderrFd >= 0) {
        errReader_.fd = c.stderrFd;
        watchOutput(errReader_.fd, true);
    }
    stdinFd_ = c.stdinFd;
    child_->stdinFd = child_->stdoutFd = child_->stderrFd = -1;
    log::info("adopted: '" + namespec_ + "' with pid " + std::to_string(r.pid) +
              (r.unit.empty() ? "" : " in " + r.unit));
    setState(ProcessState::Running);
    return true;
}

} // namespace scopevisor
