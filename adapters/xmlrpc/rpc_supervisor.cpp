// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The `supervisor` namespace, method by method, with supervisord's order of
// checks, fault texts and Python's ways with argument types.
#include <climits>
#include <ctime>
#include <optional>

#include <pwd.h>

#include "rpc.h"
#include "signals.h"
#include "xmlrpc_parse.h"

namespace scopevisor::xmlrpc {

namespace {

template <typename T, typename F>
T ask(F&& f) {
    return scopevisor::await<T>(std::forward<F>(f));
}

int64_t capInt(int64_t v) { return v > INT32_MAX ? INT32_MAX : (v < INT32_MIN ? INT32_MIN : v); }

// A process name: Python calls name.split(':') on it.
const std::string& nameArg(const Value& v) {
    if (const std::string* s = v.string())
        return *s;
    throw PyError{"AttributeError", std::string("'") + pyTypeName(v) + "' object has no attribute 'split'"};
}

// A group name: Python looks it up in a dict, so anything hashable is
// merely not found.
std::string groupArg(const Value& v) {
    if (const std::string* s = v.string())
        return *s;
    if (v.array() || v.structure())
        throw PyError{"TypeError", std::string("unhashable type: '") + pyTypeName(v) + "'"};
    return pyStr(v);
}

// split_namespec(): "g:" and "g:*" name the whole group.
struct Namespec {
    std::string group;
    bool wholeGroup = false;
};
Namespec splitNamespec(const std::string& n) {
    const auto c = n.find(':');
    if (c == std::string::npos)
        return {n, false};
    const std::string p = n.substr(c + 1);
    return {n.substr(0, c), p.empty() || p == "*"};
}

// Python's int() of an argument.
int64_t intArg(const Value& v) {
    if (const auto* i = std::get_if<int64_t>(&v.v))
        return *i;
    if (const auto* b = std::get_if<bool>(&v.v))
        return *b ? 1 : 0;
    if (const auto* d = std::get_if<double>(&v.v)) {
        if (*d != *d)
            throw PyError{"ValueError", "cannot convert float NaN to integer"};
        if (*d >= 9.2e18 || *d <= -9.2e18)
            throw PyError{"OverflowError", "cannot convert float infinity to integer"};
        return int64_t(*d);
    }
    if (const std::string* s = v.string()) {
        if (auto n = pyParseInt(*s))
            return *n;
        throw PyError{"ValueError", "invalid literal for int() with base 10: " + pyRepr(v)};
    }
    throw PyError{"TypeError", std::string("int() argument must be a string, a bytes-like object or a real number, not '") +
                                   pyTypeName(v) + "'"};
}

Value strings(const std::vector<std::string>& v) {
    Array a;
    a.reserve(v.size());
    for (const auto& s : v)
        a.emplace_back(s);
    return a;
}

} // namespace

Value processInfoStruct(const ProgramInfo& p, int64_t now) {
    const std::string& out = p.stdoutLogfile;
    return Struct{
        {"name", Value(p.name)},
        {"group", Value(p.group)},
        {"start", Value(capInt(int64_t(p.startedAtUs / 1000000)))},
        {"stop", Value(capInt(int64_t(p.stoppedAtUs / 1000000)))},
        {"now", Value(capInt(now))},
        {"state", Value(int(p.state))},
        {"statename", Value(stateName(p.state))},
        {"spawnerr", Value(p.spawnError)},
        {"exitstatus", Value(p.exitStatus)},
        {"logfile", Value(out)},
        {"stdout_logfile", Value(out)},
        {"stderr_logfile", Value(p.stderrLogfile)},
        {"pid", Value(int(p.pid))},
        {"description", Value(p.description)},
    };
}

Value groupResults(const MultiResult& r, const std::string& signalText) {
    Array a;
    a.reserve(r.size());
    for (const auto& pr : r) {
        int status = SUCCESS;
        std::string description = "OK";
        if (pr.error.code != ErrorCode::Ok) {
            const std::string namespec = pr.group == pr.name ? pr.name : pr.group + ":" + pr.name;
            Fault f = faultFor(pr.error, pr.error.code == ErrorCode::BadSignal ? signalText : namespec);
            status = f.code;
            description = std::move(f.text);
        }
        a.emplace_back(Struct{{"name", Value(pr.name)},
                              {"group", Value(pr.group)},
                              {"status", Value(status)},
                              {"description", Value(std::move(description))}});
    }
    return a;
}

// ---- status and identity ------------------------------------------------------

Value RpcInterface::getAPIVersion(const Caller&, const Array&) { return "3.0"; }

Value RpcInterface::getSupervisorVersion(const Caller&, const Array&) {
    return ask<DaemonInfo>([&](auto cb) { control_.daemonInfo(cb); }).version;
}

Value RpcInterface::getIdentification(const Caller&, const Array&) {
    return ask<DaemonInfo>([&](auto cb) { control_.daemonInfo(cb); }).identification;
}

Value RpcInterface::getState(const Caller&, const Array&) {
    // Past the gate the daemon is RUNNING: the only state supervisord ever shows.
    return Struct{{"statecode", Value(int(DaemonState::Running))}, {"statename", Value("RUNNING")}};
}

Value RpcInterface::getPID(const Caller&, const Array&) {
    return int(ask<DaemonInfo>([&](auto cb) { control_.daemonInfo(cb); }).pid);
}

Value RpcInterface::readLog(const Caller&, const Array& p) {
    const int64_t offset = intArg(p[0]);
    const int64_t length = intArg(p[1]);
    auto r = ask<Result<LogBytes>>([&](auto cb) { control_.readMainLog(offset, length, cb); });
    if (!r)
        throw faultFor(r.error(), "");
    return std::move(r->data);
}

Value RpcInterface::clearLog(const Caller&, const Array&) {
    auto st = ask<Status>([&](auto cb) { control_.clearMainLog(cb); });
    if (!st)
        throw faultFor(st.error(), "");
    return true;
}

Value RpcInterface::shutdown(const Caller&, const Array&) {
    auto st = ask<Status>([&](auto cb) { control_.shutdown(cb); });
    if (!st)
        throw faultFor(st.error(), "");
    return true;
}

Value RpcInterface::restart(const Caller&, const Array&) {
    auto st = ask<Status>([&](auto cb) { control_.restartDaemon(cb); });
    if (!st)
        throw faultFor(st.error(), "");
    return true;
}

// ---- configuration ---------------------------------------------------------

Value RpcInterface::reloadConfig(const Caller&, const Array&) {
    auto r = ask<Result<ConfigDiff>>([&](auto cb) { control_.rereadConfig(cb); });
    if (!r)
        throw faultFor(r.error(), "");
    return Array{Value(Array{strings(r->added), strings(r->changed), strings(r->removed)})};
}

Value RpcInterface::addProcessGroup(const Caller&, const Array& p) {
    const std::string name = groupArg(p[0]);
    auto st = ask<Status>([&](auto cb) { control_.addGroup(name, cb); });
    if (!st)
        throw faultFor(st.error(), name);
    return true;
}

Value RpcInterface::removeProcessGroup(const Caller&, const Array& p) {
    const std::string name = groupArg(p[0]);
    auto st = ask<Status>([&](auto cb) { control_.removeGroup(name, cb); });
    if (!st)
        throw faultFor(st.error(), name);
    return true;
}

Value RpcInterface::getAllConfigInfo(const Caller& caller, const Array&) {
    // Command lines may carry secrets (a password on the command line, a
    // token in an environment assignment): they take the read-log right.
    // A viewer gets the rest, with the command elided, so that
    // `supervisorctl avail` keeps working for it.
    const bool showCommands = !authorize_ || !authorize_(caller, Verb::ReadLog, Target{});
    auto v = ask<std::vector<ConfigInfo>>([&](auto cb) { control_.listConfig(cb); });
    auto orNone = [](const std::string& s) { return Value(s.empty() ? std::string("none") : s); };
    auto uid = [](const std::string& user) -> Value {
        if (user.empty())
            return Value("none");
        if (auto n = pyParseInt(user))
            return Value(*n);
        struct passwd pw, *res = nullptr;
        char buf[4096];
        if (getpwnam_r(user.c_str(), &pw, buf, sizeof buf, &res) == 0 && res)
            return Value(int64_t(res->pw_uid));
        return Value("none");
    };
    Array a;
    a.reserve(v.size());
    for (const auto& c : v) {
        Array codes;
        for (int e : c.exitcodes)
            codes.emplace_back(e);
        // The keys in supervisord's order (a dict literal in rpcinterface.py).
        a.emplace_back(Struct{
            {"autostart", Value(c.autostart)},
            {"directory", orNone(c.directory)},
            {"uid", uid(c.user)},
            {"command", Value(showCommands ? c.command : std::string(kElidedCommand))},
            {"exitcodes", Value(std::move(codes))},
            {"group", Value(c.group)},
            {"group_prio", Value(c.groupPriority)},
            {"inuse", Value(c.inUse)},
            {"killasgroup", Value(c.killasgroup)},
            {"name", Value(c.name)},
            {"process_prio", Value(c.priority)},
            {"redirect_stderr", Value(c.redirectStderr)},
            {"startretries", Value(c.startretries)},
            {"startsecs", Value(c.startsecs)},
            {"stdout_capture_maxbytes", Value(int64_t(c.stdoutCaptureMaxbytes))},
            {"stdout_events_enabled", Value(c.stdoutEventsEnabled)},
            {"stdout_logfile", orNone(c.stdoutLogfile)},
            {"stdout_logfile_backups", Value(c.stdoutLogfileBackups)},
            {"stdout_logfile_maxbytes", Value(int64_t(c.stdoutLogfileMaxbytes))},
            {"stdout_syslog", Value(c.stdoutSyslog)},
            {"stopsignal", Value(c.stopsignal)},
            {"stopwaitsecs", Value(c.stopwaitsecs)},
            {"stderr_capture_maxbytes", Value(int64_t(c.stderrCaptureMaxbytes))},
            {"stderr_events_enabled", Value(c.stderrEventsEnabled)},
            {"stderr_logfile", orNone(c.stderrLogfile)},
            {"stderr_logfile_backups", Value(c.stderrLogfileBackups)},
            {"stderr_logfile_maxbytes", Value(int64_t(c.stderrLogfileMaxbytes))},
            {"stderr_syslog", Value(c.stderrSyslog)},
            {"serverurl", Value(c.serverurl.empty() || c.serverurl == "AUTO" ? std::string("auto") : c.serverurl)},
        });
    }
    return a;
}

// ---- process control --------------------------------------------------------

Value RpcInterface::startGroup(const std::string& group, const std::string& asGiven, bool wait) {
    auto r = ask<Result<MultiResult>>([&](auto cb) { control_.startGroup(group, wait, cb); });
    if (!r)
        throw faultFor(r.error(), asGiven);
    return groupResults(r.value());
}

Value RpcInterface::stopGroup(const std::string& group, const std::string& asGiven, bool wait) {
    auto r = ask<Result<MultiResult>>([&](auto cb) { control_.stopGroup(group, wait, cb); });
    if (!r)
        throw faultFor(r.error(), asGiven);
    return groupResults(r.value());
}

Value RpcInterface::signalGroup(const std::string& group, const std::string& asGiven, const Value& signal) {
    if (!isSignalLike(signal))
        throw PyError{"AttributeError", std::string("'") + pyTypeName(signal) + "' object has no attribute 'strip'"};
    const int sig = signalNumber(signal).value_or(-1); // -1: each member answers BAD_SIGNAL
    auto r = ask<Result<MultiResult>>([&](auto cb) { control_.signalGroup(group, sig, cb); });
    if (!r)
        throw faultFor(r.error(), asGiven);
    return groupResults(r.value(), pyStr(signal));
}

Value RpcInterface::startProcess(const Caller&, const Array& p) {
    const std::string& name = nameArg(p[0]);
    const bool wait = p.size() < 2 || pyTruth(p[1]);
    const Namespec ns = splitNamespec(name);
    if (ns.wholeGroup)
        return startGroup(ns.group, name, wait);
    auto st = ask<Status>([&](auto cb) { control_.start(name, wait, cb); });
    if (!st)
        throw faultFor(st.error(), name);
    return true;
}

Value RpcInterface::startProcessGroup(const Caller&, const Array& p) {
    const std::string name = groupArg(p[0]);
    return startGroup(name, name, p.size() < 2 || pyTruth(p[1]));
}

Value RpcInterface::startAllProcesses(const Caller&, const Array& p) {
    const bool wait = p.empty() || pyTruth(p[0]);
    return groupResults(ask<MultiResult>([&](auto cb) { control_.startAll(wait, cb); }));
}

Value RpcInterface::stopProcess(const Caller&, const Array& p) {
    const std::string& name = nameArg(p[0]);
    const bool wait = p.size() < 2 || pyTruth(p[1]);
    const Namespec ns = splitNamespec(name);
    if (ns.wholeGroup)
        return stopGroup(ns.group, name, wait);
    auto st = ask<Status>([&](auto cb) { control_.stop(name, wait, cb); });
    if (!st)
        throw faultFor(st.error(), name);
    return true;
}

Value RpcInterface::stopProcessGroup(const Caller&, const Array& p) {
    const std::string name = groupArg(p[0]);
    return stopGroup(name, name, p.size() < 2 || pyTruth(p[1]));
}

Value RpcInterface::stopAllProcesses(const Caller&, const Array& p) {
    const bool wait = p.empty() || pyTruth(p[0]);
    return groupResults(ask<MultiResult>([&](auto cb) { control_.stopAll(wait, cb); }));
}

Value RpcInterface::signalProcess(const Caller&, const Array& p) {
    const std::string& name = nameArg(p[0]);
    const Namespec ns = splitNamespec(name);
    if (ns.wholeGroup)
        return signalGroup(ns.group, name, p[1]);
    const auto sig = signalNumber(p[1]);
    if (!sig) {
        // supervisord looks the process up before it reads the signal.
        auto info = ask<Result<ProgramInfo>>([&](auto cb) { control_.getProgram(name, cb); });
        if (!info)
            throw faultFor(info.error(), name);
        if (!isSignalLike(p[1]))
            throw PyError{"AttributeError", std::string("'") + pyTypeName(p[1]) + "' object has no attribute 'strip'"};
        throw makeFault(BAD_SIGNAL, pyStr(p[1]));
    }
    auto st = ask<Status>([&](auto cb) { control_.signal(name, *sig, cb); });
    if (!st)
        throw faultFor(st.error(), st.error().code == ErrorCode::BadSignal ? pyStr(p[1]) : name);
    return true;
}

Value RpcInterface::signalProcessGroup(const Caller&, const Array& p) {
    const std::string name = groupArg(p[0]);
    return signalGroup(name, name, p[1]);
}

Value RpcInterface::signalAllProcesses(const Caller&, const Array& p) {
    if (!isSignalLike(p[0]))
        throw PyError{"AttributeError", std::string("'") + pyTypeName(p[0]) + "' object has no attribute 'strip'"};
    const int sig = signalNumber(p[0]).value_or(-1);
    return groupResults(ask<MultiResult>([&](auto cb) { control_.signalAll(sig, cb); }), pyStr(p[0]));
}

Value RpcInterface::getProcessInfo(const Caller&, const Array& p) {
    const std::string& name = nameArg(p[0]);
    auto r = ask<Result<ProgramInfo>>([&](auto cb) { control_.getProgram(name, cb); });
    if (!r)
        throw faultFor(r.error(), name);
    return processInfoStruct(r.value(), int64_t(time(nullptr)));
}

Value RpcInterface::getAllProcessInfo(const Caller&, const Array&) {
    // The engine answers sorted by (group, name), supervisord's lexical order.
    auto v = ask<std::vector<ProgramInfo>>([&](auto cb) { control_.listPrograms(cb); });
    const int64_t now = int64_t(time(nullptr));
    Array a;
    a.reserve(v.size());
    for (const auto& info : v)
        a.push_back(processInfoStruct(info, now));
    return a;
}

// ---- process logs -------------------------------------------------------------

Value RpcInterface::readProcessLog(const Array& p, Stream s) {
    const std::string& name = nameArg(p[0]);
    int64_t offset = 0, length = 0;
    try {
        offset = intArg(p[1]);
        length = intArg(p[2]);
    } catch (const PyError&) {
        // supervisord finds the process before it reads the numbers.
        auto info = ask<Result<ProgramInfo>>([&](auto cb) { control_.getProgram(name, cb); });
        if (!info)
            throw faultFor(info.error(), name);
        throw;
    }
    auto r = ask<Result<LogBytes>>([&](auto cb) { control_.readBytes(name, s, offset, length, cb); });
    if (!r)
        throw faultFor(r.error(), name);
    return std::move(r->data);
}

Value RpcInterface::tailProcessLog(const Array& p, Stream s) {
    const std::string& name = nameArg(p[0]);
    int64_t offset = 0, length = 0;
    try {
        offset = intArg(p[1]);
        length = intArg(p[2]);
    } catch (const PyError&) {
        auto info = ask<Result<ProgramInfo>>([&](auto cb) { control_.getProgram(name, cb); });
        if (!info)
            throw faultFor(info.error(), name);
        throw;
    }
    auto r = ask<Result<LogBytes>>([&](auto cb) { control_.tailBytes(name, s, offset, length, cb); });
    if (!r) {
        if (r.error().code == ErrorCode::NoFile)
            return Array{Value(""), Value(0), Value(false)};
        throw faultFor(r.error(), name);
    }
    return Array{Value(std::move(r->data)), Value(int64_t(r->end)), Value(r->overflow)};
}

Value RpcInterface::readProcessStdoutLog(const Caller&, const Array& p) { return readProcessLog(p, Stream::Stdout); }
Value RpcInterface::readProcessStderrLog(const Caller&, const Array& p) { return readProcessLog(p, Stream::Stderr); }
Value RpcInterface::tailProcessStdoutLog(const Caller&, const Array& p) { return tailProcessLog(p, Stream::Stdout); }
Value RpcInterface::tailProcessStderrLog(const Caller&, const Array& p) { return tailProcessLog(p, Stream::Stderr); }

Value RpcInterface::clearProcessLogs(const Caller&, const Array& p) {
    const std::string& name = nameArg(p[0]);
    auto st = ask<Status>([&](auto cb) { control_.clearLog(name, cb); });
    if (!st)
        throw st.error().code == ErrorCode::Failed ? makeFault(FAILED, name) : faultFor(st.error(), name);
    return true;
}

Value RpcInterface::clearAllProcessLogs(const Caller&, const Array&) {
    return groupResults(ask<MultiResult>([&](auto cb) { control_.clearAllLogs(cb); }));
}

// ---- input and events ------------------------------------------------------------

Value RpcInterface::sendProcessStdin(const Caller&, const Array& p) {
    const std::string* chars = p[1].string();
    if (!chars)
        throw makeFault(INCORRECT_PARAMETERS, pyStr(p[1]));
    const std::string& name = nameArg(p[0]);
    if (splitNamespec(name).wholeGroup)
        throw makeFault(BAD_NAME, name);
    auto st = ask<Status>([&](auto cb) { control_.sendInput(name, *chars, cb); });
    if (!st) {
        if (st.error().code == ErrorCode::NoFile)
            throw makeFault(NO_FILE, name);
        throw faultFor(st.error(), name);
    }
    return true;
}

Value RpcInterface::sendRemoteCommEvent(const Caller&, const Array&) {
    // The engine has no event listeners (yet): nobody can receive the
    // REMOTE_COMMUNICATION event, so sending it is accepted and dropped.
    return true;
}

} // namespace scopevisor::xmlrpc
