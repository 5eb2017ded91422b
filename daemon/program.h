// SPDX-License-Identifier: LGPL-2.1-or-later
//
// One managed process and its state machine, exactly supervisord's
// (docs/protocols/xmlrpc.md §3.3), but event driven: every transition happens on the event that
// causes it (a timer, the exit of the child, a request), never on a poll.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend.h"
#include "config.h"
#include "log_buffer.h"
#include "log_file.h"
#include "loop.h"
#include "scopevisor/control.h"
#include "state_file.h"

namespace scopevisor {

class Program;

// What a Program needs from the engine that owns it.
class ProgramHost {
public:
    virtual ~ProgramHost() = default;
    virtual Loop& loop() = 0;
    virtual Backend& backend() = 0;
    // False while the daemon shuts down: no automatic restarts then.
    virtual bool restartsAllowed() const = 0;
    virtual void stateChanged(Program& p, ProcessState old) = 0;
    // The backend has made the process (pid set); the state is unchanged.
    virtual void spawned(Program& p) { (void)p; }
    // One pipe read (or its EOF) of the program: publish it (OutputEvent).
    virtual void output(Program& p, const OutputEvent& ev) = 0;
    // Does anyone take the lines of output events? Without listeners the
    // buffer only numbers them (the event still counts as output).
    virtual bool wantsLines() const { return true; }
    // The complete environment for the child (docs/protocols/xmlrpc.md §6.7).
    virtual std::vector<std::string> childEnvironment(const config::ProcessConfig& cfg) = 0;
};

class Program {
public:
    // `cfg` must outlive the Program (the engine's Group holds it).
    Program(ProgramHost& host, const config::ProcessConfig& cfg, uint64_t bufferLines, uint64_t bufferBytes,
            int groupPriority);
    ~Program();
    Program(const Program&) = delete;
    Program& operator=(const Program&) = delete;

    const config::ProcessConfig& config() const noexcept { return cfg_; }
    const std::string& namespec() const noexcept { return namespec_; }
    ProcessState state() const noexcept { return state_; }
    pid_t pid() const noexcept { return child_ ? child_->pid : 0; }
    bool everStarted() const noexcept { return startedAtUs_ != 0; }
    const std::string& spawnError() const noexcept { return spawnErr_; }
    ProgramInfo info() const;

    // Requests (supervisord's rpcinterface checks, in its order).
    Status start();
    Status stop();
    Status sendSignal(int sig);
    Status writeInput(std::string data);
    // Used by shutdown: a BACKOFF program cannot be stopped, it gives up.
    void giveUp();
    // At load and on addGroup: start if the configuration says autostart
    // and the user did not stop it, or if the user started it before.
    void autostart();

    // What the user asked for last (explicit start or stop), kept across
    // daemon restarts.
    Desired desired() const noexcept { return desired_; }
    void setDesired(Desired d) noexcept { desired_ = d; }
    // Take over the process a previous daemon left running, as recorded in
    // `r`. False (and nothing changed) when that process is gone.
    bool adopt(const ProgramRecord& r);
    // What a new daemon needs to know about this program.
    ProgramRecord record() const;

    // Called on every state change until it returns true.
    using Waiter = std::function<bool(Program&)>;
    void addWaiter(Waiter w);

    // Publish the unterminated lines as they stand (ProgramLog::takePending):
    // the run they belong to is over, or the program is going away.
    void publishPending();
    ProgramLog& log() noexcept { return log_; }
    const ProgramLog& log() const noexcept { return log_; }
    // Open (or create) the configured log files; SIGUSR2 reopens them.
    void openLogFiles();
    void reopenLogFiles();
    void clearLogs();
    const std::string& stdoutLogPath() const noexcept { return stdoutLogPath_; }
    const std::string& stderrLogPath() const noexcept { return stderrLogPath_; }
    // Resolved AUTO paths (set by the engine before openLogFiles()).
    void setLogPaths(std::string out, std::string err);

private:
    void spawn();
    void onSpawned(uint64_t generation, Result<Child> r);
    void onExit(uint64_t generation, int status, bool known);
    void setState(ProcessState s);
    void enterBackoff(std::string why);
    void scheduleTimer(uint64_t atUs, void (Program::*fn)());
    void onStartTimer();
    void onBackoffTimer();
    void onKillTimer();
    void watchOutput(int fd, bool isStderr);
    void readOutput(int fd, bool isStderr);
    // The log files take the raw bytes; the host publishes the event.
    void publishOutput(bool isStderr, const ProgramLog::NewLines& lines, std::string_view data);
    void closeStream(bool isStderr);
    void flushInput();
    void closeInput();
    bool expectedExit(int code) const;
    int signalChild(int sig, bool tree);

    ProgramHost& host_;
    const config::ProcessConfig& cfg_; // one copy per program, in its Group
    std::string namespec_;
    int groupPriority_;

    ProcessState state_ = ProcessState::Stopped;
    Desired desired_ = Desired::Default;
    std::optional<Child> child_;
    // The pid and scope of the newest run, kept after its exit: output read
    // after the exit (descendants holding the pipe) still belongs to it.
    pid_t runPid_ = 0;
    std::string runUnit_;
    uint64_t generation_ = 0; // of the current spawn; stale callbacks are ignored
    uint64_t pidStartTicks_ = 0; // of child_, read once (the state file needs it)
    bool spawnInFlight_ = false;
    bool stopWhenSpawned_ = false;
    uint64_t startedAtUs_ = 0;     // realtime
    uint64_t startedAtMono_ = 0;   // monotonic
    uint64_t stoppedAtUs_ = 0;     // realtime
    int backoff_ = 0;
    std::string spawnErr_;
    int exitStatus_ = 0;
    bool exitKnown_ = true;
    SourcePtr timer_;
    std::vector<Waiter> waiters_;

    ProgramLog log_;
    std::string stdoutLogPath_, stderrLogPath_;
    std::unique_ptr<LogFile> stdoutFile_, stderrFile_;
    // Output pipes stay watched until EOF, which may come after the exit of
    // the main process (descendants holding the pipe).
    struct Reader {
        int fd = -1;
        SourcePtr src;
    };
    Reader outReader_, errReader_;
    int stdinFd_ = -1;
    SourcePtr stdinSrc_;
    std::string stdinPending_;
    size_t stdinSent_ = 0; // bytes of stdinPending_ already written

    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

// supervisord's description text (docs/protocols/xmlrpc.md §3.4).
std::string describe(ProcessState s, pid_t pid, uint64_t startedAtUs, uint64_t stoppedAtUs,
                     uint64_t nowUs, const std::string& spawnErr, const std::string& name);
// Python timedelta text of whole seconds: "0:01:02", "1 day, 2:03:04".
std::string formatUptime(int64_t seconds);

} // namespace scopevisor
