// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The Control API: the only way into the engine.
//
// Every front end (D-Bus, the adapters) talks to the engine through this
// interface. Requests may be posted from any thread; the engine executes them
// on its own thread and calls the completion callback there. Callbacks must
// therefore be quick and must not block: hand the result to your own thread
// (or use the future helpers at the bottom of this file).
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <sys/types.h>

namespace scopevisor {

// Process states and their codes, exactly as supervisord (states.py).
enum class ProcessState : int {
    Stopped = 0,
    Starting = 10,
    Running = 20,
    Backoff = 30,
    Stopping = 40,
    Exited = 100,
    Fatal = 200,
    Unknown = 1000,
};

const char* stateName(ProcessState s) noexcept;
bool isRunningState(ProcessState s) noexcept;     // RUNNING, BACKOFF, STARTING
bool isStoppedState(ProcessState s) noexcept;     // STOPPED, EXITED, FATAL, UNKNOWN
bool isSignallableState(ProcessState s) noexcept; // RUNNING, STARTING, STOPPING

// Daemon state, as supervisord: RUNNING 1, RESTARTING 0, SHUTDOWN -1.
enum class DaemonState : int { Running = 1, Restarting = 0, Shutdown = -1 };

// Error codes. Each maps onto a supervisord fault code, a D-Bus error name and
// an adapter-specific text; see errorName() for the D-Bus suffix.
enum class ErrorCode : int {
    Ok = 0,
    NoSuchProgram,       // BAD_NAME (10)
    NoSuchGroup,         // BAD_NAME (10) for a group
    BadArguments,        // BAD_ARGUMENTS (3)
    BadSignal,           // BAD_SIGNAL (85)
    NoFile,              // NO_FILE (20)
    NotExecutable,       // NOT_EXECUTABLE (21)
    Failed,              // FAILED (30)
    AbnormalTermination, // ABNORMAL_TERMINATION (40)
    SpawnFailed,         // SPAWN_ERROR (50)
    AlreadyStarted,      // ALREADY_STARTED (60)
    NotRunning,          // NOT_RUNNING (70)
    AlreadyAdded,        // ALREADY_ADDED (90)
    StillRunning,        // STILL_RUNNING (91)
    CantReread,          // CANT_REREAD (92)
    ShuttingDown,        // SHUTDOWN_STATE (6)
    NoInput,             // stdin closed or not available
    AccessDenied,        // role/polkit refusal, produced by front ends
};

// "NoSuchProgram", "AlreadyStarted", ...: the suffix of org.scopevisor1.Error.<Name>.
const char* errorName(ErrorCode c) noexcept;

struct Error {
    ErrorCode code = ErrorCode::Ok;
    std::string message; // human readable, names the program and the cause
};

// A value or an Error.
template <typename T>
class Result {
public:
    Result(T v) : v_(std::move(v)) {}
    Result(Error e) : v_(std::move(e)) {}
    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

struct Empty {};
using Status = Result<Empty>;
inline Status okStatus() { return Status(Empty{}); }

enum class Stream { Stdout, Stderr, All };
const char* streamName(Stream s) noexcept;
std::optional<Stream> parseStream(std::string_view s) noexcept;

struct ProgramInfo {
    std::string namespec;    // "group:name", or "name" when group == name
    std::string name;        // process name
    std::string group;       // group name
    std::string description; // supervisord's description text (docs/protocols/xmlrpc.md §3.4)
    ProcessState state = ProcessState::Stopped;
    pid_t pid = 0;
    int exitStatus = 0;          // supervisord rules: -1 when killed by a signal
    bool exitStatusKnown = true; // false for an adopted program whose status could not be read
    std::string spawnError;
    uint64_t startedAtUs = 0; // realtime µs of the last spawn, 0 if never
    uint64_t stoppedAtUs = 0; // realtime µs of the last exit, 0 if never
    std::string unit;         // systemd scope, "" on the direct backend
    std::string stdoutLogfile;
    std::string stderrLogfile;
    std::string command;
    int priority = 999;
    int groupPriority = 999;
    bool autostart = true;
    bool inUse = true; // false for a group that is configured but not active
    uint64_t stdoutBytes = 0; // bytes ever written, i.e. the end offset of the stream
    uint64_t stderrBytes = 0;
};

// The result for one program of a multi-program operation (start a group, ...).
struct ProgramResult {
    std::string namespec;
    std::string name;
    std::string group;
    Error error; // code Ok on success
};
using MultiResult = std::vector<ProgramResult>;

struct LogLines {
    uint64_t first = 0; // number of lines[0]; 0 with no lines
    uint64_t last = 0;  // number of the last line returned
    std::vector<std::string> lines; // without their trailing newline
    // The numbers the buffer holds at the moment of the read (0,0 when empty).
    uint64_t oldestAvailable = 0;
    uint64_t newestAvailable = 0;
};

// supervisord-style byte view of one stream.
struct LogBytes {
    std::string data;
    uint64_t end = 0;  // the stream's size: the offset after its newest byte
    bool overflow = false;
};

struct ReloadResult {
    std::vector<std::string> added;   // group names
    std::vector<std::string> changed;
    std::vector<std::string> removed;
};

// What reloadConfig shows before anything is applied (supervisorctl reread).
using ConfigDiff = ReloadResult;

struct ConfigInfo {
    std::string name;
    std::string group;
    std::string command;
    bool autostart = true;
    bool inUse = true;
    int priority = 999;
    int groupPriority = 999;
    int startsecs = 1;
    int startretries = 3;
    int stopwaitsecs = 10;
    int stopsignal = 15;
    bool redirectStderr = false;
    std::string autorestart;
    std::vector<int> exitcodes;
    std::string stdoutLogfile, stderrLogfile;
    std::string user, directory;
    int umask = -1;
    std::string serverurl;
    uint64_t stdoutLogfileMaxbytes = 0, stderrLogfileMaxbytes = 0;
    int stdoutLogfileBackups = 0, stderrLogfileBackups = 0;
    uint64_t stdoutCaptureMaxbytes = 0, stderrCaptureMaxbytes = 0;
    bool stdoutEventsEnabled = false, stderrEventsEnabled = false;
    bool stdoutSyslog = false, stderrSyslog = false;
    bool killasgroup = false, stopasgroup = false;
};

struct DaemonInfo {
    std::string version;
    std::string backend; // "systemd" or "direct"
    std::string identification;
    DaemonState state = DaemonState::Running;
    pid_t pid = 0;
    size_t programCount = 0;
};

// What one read of a program's pipe gave (or its EOF, which completes a last
// unterminated line): published once, as one event, for the journal sink,
// the front ends and the adapters. Views are valid during the call only.
struct OutputEvent {
    const std::string& namespec;
    std::string_view name; // the program's name (SYSLOG_IDENTIFIER)
    Stream stream = Stream::Stdout;
    pid_t pid = 0;         // the run that wrote it: kept after its exit (0: never ran)
    std::string_view unit; // its scope (systemd backend)
    // The lines completed, without '\n', split and numbered as the log
    // buffer split and numbered them (docs/architecture.md §4): line
    // `firstLine + i` of the stream, `firstSeq + i` of the program.
    uint64_t firstLine = 0;
    uint64_t firstSeq = 0;
    std::span<const std::string_view> lines;
    // The raw bytes as the program wrote them; empty for the EOF event.
    std::string_view data;
};

// Events the engine publishes. Delivered on the engine thread.
class Listener {
public:
    virtual ~Listener() = default;
    virtual void programAdded(const ProgramInfo&) {}
    virtual void programRemoved(const ProgramInfo&) {}
    virtual void programStateChanged(const ProgramInfo& now, ProcessState old) { (void)now; (void)old; }
    // The backend has the program's process: `now.pid` (and `now.unit` on
    // the systemd backend) are set. The state does not change with it (still
    // STARTING, or STOPPING when a stop came while the process was being
    // made), so no programStateChanged comes with it; the next one (RUNNING,
    // after startsecs) may be long after.
    virtual void programSpawned(const ProgramInfo& now) { (void)now; }
    // New output, as lines and as raw bytes. By default the raw bytes go to
    // the programOutput below, for listeners that want bytes only.
    virtual void output(const OutputEvent& ev) {
        if (!ev.data.empty())
            programOutput(ev.namespec, ev.stream, ev.data);
    }
    // New output; `data` is raw bytes as the program wrote them.
    virtual void programOutput(const std::string& namespec, Stream s, std::string_view data) {
        (void)namespec; (void)s; (void)data;
    }
    virtual void daemonStateChanged(DaemonState) {}
    // A line of the daemon's own log (for supervisord's /mainlogtail).
    virtual void mainLog(std::string_view line) { (void)line; }
};

template <typename T>
using Callback = std::function<void(T)>;

// Names accepted by the program operations: a namespec ("g:p", or "p" when the
// group of that name has the one process p). Group operations take a group
// name. `wait` makes start/stop complete when the target state is reached
// (start: RUNNING or failure; stop: stopped); without it they complete as
// soon as the request is accepted.
class Control {
public:
    virtual ~Control() = default;

    virtual void daemonInfo(Callback<DaemonInfo> done) = 0;
    virtual void listPrograms(Callback<std::vector<ProgramInfo>> done) = 0;
    virtual void getProgram(std::string namespec, Callback<Result<ProgramInfo>> done) = 0;
    virtual void listConfig(Callback<std::vector<ConfigInfo>> done) = 0;

    virtual void start(std::string namespec, bool wait, Callback<Status> done) = 0;
    virtual void stop(std::string namespec, bool wait, Callback<Status> done) = 0;
    virtual void restart(std::string namespec, bool wait, Callback<Status> done) = 0;
    virtual void signal(std::string namespec, int sig, Callback<Status> done) = 0;

    // Group and all operations answer with one ProgramResult for every
    // program the operation applied to (supervisord's filters), in priority order.
    virtual void startGroup(std::string group, bool wait, Callback<Result<MultiResult>> done) = 0;
    virtual void stopGroup(std::string group, bool wait, Callback<Result<MultiResult>> done) = 0;
    virtual void signalGroup(std::string group, int sig, Callback<Result<MultiResult>> done) = 0;
    virtual void startAll(bool wait, Callback<MultiResult> done) = 0;
    virtual void stopAll(bool wait, Callback<MultiResult> done) = 0;
    virtual void signalAll(int sig, Callback<MultiResult> done) = 0;

    virtual void sendInput(std::string namespec, std::string data, Callback<Status> done) = 0;

    // Line view: numbers from 1, no gaps. first_line 0 means "the newest
    // max_lines lines".
    virtual void readLog(std::string namespec, Stream s, uint64_t firstLine, uint32_t maxLines,
                         Callback<Result<LogLines>> done) = 0;
    // Byte view, supervisord's readProcessStdoutLog semantics (docs/protocols/xmlrpc.md §4.1).
    virtual void readBytes(std::string namespec, Stream s, int64_t offset, int64_t length,
                           Callback<Result<LogBytes>> done) = 0;
    // supervisord's tailProcessStdoutLog semantics (docs/protocols/xmlrpc.md §4.2).
    virtual void tailBytes(std::string namespec, Stream s, int64_t offset, int64_t length,
                           Callback<Result<LogBytes>> done) = 0;
    virtual void clearLog(std::string namespec, Callback<Status> done) = 0;
    virtual void clearAllLogs(Callback<MultiResult> done) = 0;
    // The daemon's own log, byte view (supervisord's readLog / tail of the main log).
    virtual void readMainLog(int64_t offset, int64_t length, Callback<Result<LogBytes>> done) = 0;
    virtual void clearMainLog(Callback<Status> done) = 0;

    // Re-read the configuration without applying it.
    virtual void rereadConfig(Callback<Result<ConfigDiff>> done) = 0;
    // Re-read and apply: stop and remove removed groups, replace changed
    // ones, add and autostart added ones. Unchanged programs are not touched.
    virtual void reload(Callback<Result<ReloadResult>> done) = 0;
    // supervisord's addProcessGroup/removeProcessGroup, against the config
    // read by the last rereadConfig/reload.
    virtual void addGroup(std::string group, Callback<Status> done) = 0;
    virtual void removeGroup(std::string group, Callback<Status> done) = 0;

    // Stop every program (reverse priority) and exit the daemon. Completes
    // when the request is accepted, before programs are stopped.
    virtual void shutdown(Callback<Status> done) = 0;
    // Stop every program, re-read the config and start again in-process.
    virtual void restartDaemon(Callback<Status> done) = 0;

    // Listeners are called on the engine thread. The listener must outlive
    // its registration; removal is synchronous when called from the engine
    // thread and takes effect before the next event otherwise.
    virtual void addListener(Listener* l) = 0;
    virtual void removeListener(Listener* l) = 0;
};

// Wait for a Control answer from a thread other than the engine's.
template <typename T, typename F>
T await(F&& call) {
    auto p = std::make_shared<std::promise<T>>();
    auto fut = p->get_future();
    call([p](T v) { p->set_value(std::move(v)); });
    return fut.get();
}

} // namespace scopevisor
