// SPDX-License-Identifier: LGPL-2.1-or-later
//
// supervisord's two XML-RPC namespaces, `supervisor` and `system`, on top of
// the Control API. A call runs on the HTTP connection's own thread and
// blocks there until the engine answers, so a deferred reply (startProcess
// with wait) holds only its own connection while every other client is
// served.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "scopevisor/adapter.h"
#include "scopevisor/control.h"
#include "xmlrpc_value.h"

namespace scopevisor::xmlrpc {

// supervisord's fault codes (xmlrpc.py, Faults).
enum FaultCode : int {
    UNKNOWN_METHOD = 1,
    INCORRECT_PARAMETERS = 2,
    BAD_ARGUMENTS = 3,
    SIGNATURE_UNSUPPORTED = 4,
    SHUTDOWN_STATE = 6,
    BAD_NAME = 10,
    BAD_SIGNAL = 11,
    NO_FILE = 20,
    NOT_EXECUTABLE = 21,
    FAILED = 30,
    ABNORMAL_TERMINATION = 40,
    SPAWN_ERROR = 50,
    ALREADY_STARTED = 60,
    NOT_RUNNING = 70,
    SUCCESS = 80,
    ALREADY_ADDED = 90,
    STILL_RUNNING = 91,
    CANT_REREAD = 92,
};
const char* faultName(int code);

// A fault answer ("BAD_NAME: foo").
struct Fault {
    int code;
    std::string text;
};
Fault makeFault(int code, const std::string& detail = {});

// What supervisord raises as an unexpected Python exception: HTTP 500 for
// a single call, FAILED with the class and message inside system.multicall,
// INCORRECT_PARAMETERS when the class is TypeError.
struct PyError {
    std::string cls; // "AttributeError", "ValueError", "TypeError"
    std::string message;
};

// The client of one call.
struct Caller {
    bool local = false;    // on the unix socket: polkit decides, from `peer`
    UnixPeer peer;
    Role role = Role::None; // on TCP: from [access] / default_role
    std::string identity;   // basic-auth user ("" when anonymous)
};

// What a call acts on, for authorization: a local peer's polkit rules may
// name programs, so a group or "all" call is authorized program by program
// (Service::authorize resolves the members).
struct Target {
    enum class Kind { None, Program, Group, All };
    Kind kind = Kind::None;
    std::string name; // the program's namespec or the group's name, as given
};

// Decides whether `caller` may do `verb` on `target`; the refusal text
// otherwise. Blocks the calling thread (never the engine's).
using Authorize = std::function<std::optional<std::string>(const Caller&, Verb, const Target&)>;

// system.multicall's bounds: the number of calls, and the size of the
// reply's text (a fault instead of a reply over it).
inline constexpr size_t kMaxMulticallCalls = 256;
inline constexpr size_t kMaxMulticallReplyBytes = 16u << 20;

// getAllConfigInfo's "command" for a caller without the read-log right.
inline constexpr const char* kElidedCommand = "(hidden: the read-log right is required)";

class RpcInterface {
public:
    RpcInterface(Control& control, Authorize authorize, const std::atomic<int>& daemonState);

    // One call as supervisord's traverse() makes it. Throws Fault or PyError.
    Value call(const Caller& caller, const std::string& method, const Array& params);

    // The names system.listMethods answers, sorted.
    static std::vector<std::string> methodNames();

private:
    struct Method;
    const Method* find(const std::string& name) const;
    void gate() const;

    // supervisor.* (rpc_supervisor.cpp)
    Value getAPIVersion(const Caller&, const Array&);
    Value getSupervisorVersion(const Caller&, const Array&);
    Value getIdentification(const Caller&, const Array&);
    Value getState(const Caller&, const Array&);
    Value getPID(const Caller&, const Array&);
    Value readLog(const Caller&, const Array&);
    Value clearLog(const Caller&, const Array&);
    Value shutdown(const Caller&, const Array&);
    Value restart(const Caller&, const Array&);
    Value reloadConfig(const Caller&, const Array&);
    Value addProcessGroup(const Caller&, const Array&);
    Value removeProcessGroup(const Caller&, const Array&);
    Value startProcess(const Caller&, const Array&);
    Value startProcessGroup(const Caller&, const Array&);
    Value startAllProcesses(const Caller&, const Array&);
    Value stopProcess(const Caller&, const Array&);
    Value stopProcessGroup(const Caller&, const Array&);
    Value stopAllProcesses(const Caller&, const Array&);
    Value signalProcess(const Caller&, const Array&);
    Value signalProcessGroup(const Caller&, const Array&);
    Value signalAllProcesses(const Caller&, const Array&);
    Value getAllConfigInfo(const Caller&, const Array&);
    Value getProcessInfo(const Caller&, const Array&);
    Value getAllProcessInfo(const Caller&, const Array&);
    Value readProcessStdoutLog(const Caller&, const Array&);
    Value readProcessStderrLog(const Caller&, const Array&);
    Value tailProcessStdoutLog(const Caller&, const Array&);
    Value tailProcessStderrLog(const Caller&, const Array&);
    Value clearProcessLogs(const Caller&, const Array&);
    Value clearAllProcessLogs(const Caller&, const Array&);
    Value sendProcessStdin(const Caller&, const Array&);
    Value sendRemoteCommEvent(const Caller&, const Array&);
    Value system_listMethods(const Caller&, const Array&);
    Value system_methodHelp(const Caller&, const Array&);
    Value system_methodSignature(const Caller&, const Array&);
    Value system_multicall(const Caller&, const Array&);

    Value readProcessLog(const Array& p, Stream s);
    Value tailProcessLog(const Array& p, Stream s);
    Value startGroup(const std::string& group, const std::string& asGiven, bool wait);
    Value stopGroup(const std::string& group, const std::string& asGiven, bool wait);
    Value signalGroup(const std::string& group, const std::string& asGiven, const Value& signal);

    Control& control_;
    Authorize authorize_;
    const std::atomic<int>& daemonState_;
};

// Helpers shared by the method files.
Value processInfoStruct(const ProgramInfo& p, int64_t now);
Value groupResults(const MultiResult& r, const std::string& signalText = {});
Fault faultFor(const Error& e, const std::string& name);

} // namespace scopevisor::xmlrpc
