// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Method lookup, argument count, authorization and the SHUTDOWN_STATE gate
// for every call, and the `system` namespace.
#include <algorithm>
#include <array>

#include "rpc.h"

namespace scopevisor::xmlrpc {

namespace {

struct MethodDoc {
    const char* name;
    const char* doc;
    std::array<const char*, 4> signature;
};

const MethodDoc kDocs[] = {
#include "method_docs.inc"
};

const MethodDoc* findDoc(const std::string& name) {
    for (const auto& d : kDocs)
        if (name == d.name)
            return &d;
    return nullptr;
}

} // namespace

const char* faultName(int code) {
    switch (code) {
    case UNKNOWN_METHOD: return "UNKNOWN_METHOD";
    case INCORRECT_PARAMETERS: return "INCORRECT_PARAMETERS";
    case BAD_ARGUMENTS: return "BAD_ARGUMENTS";
    case SIGNATURE_UNSUPPORTED: return "SIGNATURE_UNSUPPORTED";
    case SHUTDOWN_STATE: return "SHUTDOWN_STATE";
    case BAD_NAME: return "BAD_NAME";
    case BAD_SIGNAL: return "BAD_SIGNAL";
    case NO_FILE: return "NO_FILE";
    case NOT_EXECUTABLE: return "NOT_EXECUTABLE";
    case FAILED: return "FAILED";
    case ABNORMAL_TERMINATION: return "ABNORMAL_TERMINATION";
    case SPAWN_ERROR: return "SPAWN_ERROR";
    case ALREADY_STARTED: return "ALREADY_STARTED";
    case NOT_RUNNING: return "NOT_RUNNING";
    case SUCCESS: return "SUCCESS";
    case ALREADY_ADDED: return "ALREADY_ADDED";
    case STILL_RUNNING: return "STILL_RUNNING";
    case CANT_REREAD: return "CANT_REREAD";
    default: return "UNKNOWN";
    }
}

Fault makeFault(int code, const std::string& detail) {
    std::string text = faultName(code);
    if (!detail.empty())
        text += ": " + detail;
    return Fault{code, std::move(text)};
}

Fault faultFor(const Error& e, const std::string& name) {
    switch (e.code) {
    case ErrorCode::NoSuchProgram:
    case ErrorCode::NoSuchGroup: return makeFault(BAD_NAME, name);
    case ErrorCode::BadArguments: return makeFault(BAD_ARGUMENTS);
    case ErrorCode::BadSignal: return makeFault(BAD_SIGNAL, name);
    case ErrorCode::NoFile: return makeFault(NO_FILE, e.message);
    case ErrorCode::NotExecutable: return makeFault(NOT_EXECUTABLE, e.message);
    case ErrorCode::AbnormalTermination: return makeFault(ABNORMAL_TERMINATION, name);
    case ErrorCode::SpawnFailed: return makeFault(SPAWN_ERROR, name);
    case ErrorCode::AlreadyStarted: return makeFault(ALREADY_STARTED, name);
    case ErrorCode::NotRunning: return makeFault(NOT_RUNNING, name);
    case ErrorCode::AlreadyAdded: return makeFault(ALREADY_ADDED, name);
    case ErrorCode::StillRunning: return makeFault(STILL_RUNNING, name);
    case ErrorCode::CantReread: return makeFault(CANT_REREAD, e.message);
    case ErrorCode::ShuttingDown: return makeFault(SHUTDOWN_STATE);
    case ErrorCode::NoInput: return makeFault(NO_FILE, name);
    case ErrorCode::AccessDenied:
    case ErrorCode::Failed:
    case ErrorCode::Ok: break;
    }
    return makeFault(FAILED, e.message);
}

struct RpcInterface::Method {
    const char* name;
    int minArgs, maxArgs;
    std::optional<Verb> verb; // nullopt: no right needed of its own (multicall)
    bool gated;               // SHUTDOWN_STATE applies
    // What the first parameter names: nothing (None), a program ("g:*"
    // meaning the group), a group; All: every program.
    Target::Kind scope;
    Value (RpcInterface::*fn)(const Caller&, const Array&);
};

namespace {
using R = RpcInterface;
constexpr auto V = Verb::View;
constexpr auto L = Verb::ReadLog;
constexpr auto C = Verb::Control;
constexpr auto I = Verb::SendInput;
constexpr auto M = Verb::Manage;
constexpr auto N0 = Target::Kind::None;
constexpr auto P0 = Target::Kind::Program;
constexpr auto G0 = Target::Kind::Group;
constexpr auto A0 = Target::Kind::All;
} // namespace

const RpcInterface::Method* RpcInterface::find(const std::string& name) const {
    // Verb classes: reading state is view, reading output read-log,
    // start/stop/signal and clearing a program's logs control, stdin and
    // remote events send-input, configuration and the daemon itself manage.
    static const Method kMethods[] = {
        {"supervisor.getAPIVersion", 0, 0, V, true, N0, &R::getAPIVersion},
        {"supervisor.getVersion", 0, 0, V, true, N0, &R::getAPIVersion},
        {"supervisor.getSupervisorVersion", 0, 0, V, true, N0, &R::getSupervisorVersion},
        {"supervisor.getIdentification", 0, 0, V, true, N0, &R::getIdentification},
        {"supervisor.getState", 0, 0, V, true, N0, &R::getState},
        {"supervisor.getPID", 0, 0, V, true, N0, &R::getPID},
        {"supervisor.readLog", 2, 2, L, true, N0, &R::readLog},
        {"supervisor.readMainLog", 2, 2, L, true, N0, &R::readLog},
        {"supervisor.clearLog", 0, 0, M, true, N0, &R::clearLog},
        {"supervisor.shutdown", 0, 0, M, true, N0, &R::shutdown},
        {"supervisor.restart", 0, 0, M, true, N0, &R::restart},
        {"supervisor.reloadConfig", 0, 0, M, true, N0, &R::reloadConfig},
        {"supervisor.addProcessGroup", 1, 1, M, true, G0, &R::addProcessGroup},
        {"supervisor.removeProcessGroup", 1, 1, M, true, G0, &R::removeProcessGroup},
        {"supervisor.startProcess", 1, 2, C, true, P0, &R::startProcess},
        {"supervisor.startProcessGroup", 1, 2, C, true, G0, &R::startProcessGroup},
        {"supervisor.startAllProcesses", 0, 1, C, true, A0, &R::startAllProcesses},
        {"supervisor.stopProcess", 1, 2, C, true, P0, &R::stopProcess},
        {"supervisor.stopProcessGroup", 1, 2, C, true, G0, &R::stopProcessGroup},
        {"supervisor.stopAllProcesses", 0, 1, C, true, A0, &R::stopAllProcesses},
        {"supervisor.signalProcess", 2, 2, C, true, P0, &R::signalProcess},
        {"supervisor.signalProcessGroup", 2, 2, C, true, G0, &R::signalProcessGroup},
        {"supervisor.signalAllProcesses", 1, 1, C, true, A0, &R::signalAllProcesses},
        {"supervisor.getAllConfigInfo", 0, 0, V, true, N0, &R::getAllConfigInfo},
        {"supervisor.getProcessInfo", 1, 1, V, true, P0, &R::getProcessInfo},
        {"supervisor.getAllProcessInfo", 0, 0, V, true, N0, &R::getAllProcessInfo},
        {"supervisor.readProcessStdoutLog", 3, 3, L, true, P0, &R::readProcessStdoutLog},
        {"supervisor.readProcessLog", 3, 3, L, true, P0, &R::readProcessStdoutLog},
        {"supervisor.readProcessStderrLog", 3, 3, L, true, P0, &R::readProcessStderrLog},
        {"supervisor.tailProcessStdoutLog", 3, 3, L, true, P0, &R::tailProcessStdoutLog},
        {"supervisor.tailProcessLog", 3, 3, L, true, P0, &R::tailProcessStdoutLog},
        {"supervisor.tailProcessStderrLog", 3, 3, L, true, P0, &R::tailProcessStderrLog},
        {"supervisor.clearProcessLogs", 1, 1, C, true, P0, &R::clearProcessLogs},
        {"supervisor.clearProcessLog", 1, 1, C, true, P0, &R::clearProcessLogs},
        {"supervisor.clearAllProcessLogs", 0, 0, C, true, A0, &R::clearAllProcessLogs},
        {"supervisor.sendProcessStdin", 2, 2, I, true, P0, &R::sendProcessStdin},
        {"supervisor.sendRemoteCommEvent", 2, 2, I, false, N0, &R::sendRemoteCommEvent},
        {"system.listMethods", 0, 0, V, false, N0, &R::system_listMethods},
        {"system.methodHelp", 1, 1, V, false, N0, &R::system_methodHelp},
        {"system.methodSignature", 1, 1, V, false, N0, &R::system_methodSignature},
        {"system.multicall", 1, 1, std::nullopt, false, N0, &R::system_multicall},
    };
    for (const auto& m : kMethods)
        if (name == m.name)
            return &m;
    return nullptr;
}

RpcInterface::RpcInterface(Control& control, Authorize authorize, const std::atomic<int>& daemonState)
    : control_(control), authorize_(std::move(authorize)), daemonState_(daemonState) {}

std::vector<std::string> RpcInterface::methodNames() {
    std::vector<std::string> v;
    for (const auto& d : kDocs)
        v.emplace_back(d.name);
    std::sort(v.begin(), v.end());
    return v;
}

void RpcInterface::gate() const {
    if (daemonState_.load() != int(DaemonState::Running))
        throw makeFault(SHUTDOWN_STATE);
}

Value RpcInterface::call(const Caller& caller, const std::string& method, const Array& params) {
    // traverse(): exactly "namespace.method", nothing private.
    const auto dot = method.find('.');
    if (dot == std::string::npos || method.find('.', dot + 1) != std::string::npos || method.size() <= dot + 1 ||
        method[dot + 1] == '_')
        throw makeFault(UNKNOWN_METHOD);
    const Method* m = find(method);
    if (!m)
        throw makeFault(UNKNOWN_METHOD);
    if (int(params.size()) < m->minArgs || int(params.size()) > m->maxArgs)
        throw makeFault(INCORRECT_PARAMETERS);
    if (m->verb && authorize_) {
        Target target{m->scope, {}};
        if (target.kind == Target::Kind::Program || target.kind == Target::Kind::Group) {
            if (const std::string* s = params[0].string())
                target.name = *s;
            // startProcess("g:*") and the like act on the whole group.
            if (const auto c = target.name.find(':'); target.kind == Target::Kind::Program && c != std::string::npos &&
                                                      (c + 1 == target.name.size() || target.name.substr(c + 1) == "*")) {
                target.kind = Target::Kind::Group;
                target.name.resize(c);
            }
        }
        if (auto refusal = authorize_(caller, *m->verb, target))
            throw makeFault(FAILED, *refusal);
    }
    if (m->gated)
        gate();
    try {
        return (this->*(m->fn))(caller, params);
    } catch (const PyError& e) {
        // traverse() turns any TypeError of the call into INCORRECT_PARAMETERS.
        if (e.cls == "TypeError")
            throw makeFault(INCORRECT_PARAMETERS);
        throw;
    }
}

// ---- system ----------------------------------------------------------------

Value RpcInterface::system_listMethods(const Caller&, const Array&) {
    Array a;
    for (auto& n : methodNames())
        a.emplace_back(std::move(n));
    return a;
}

Value RpcInterface::system_methodHelp(const Caller&, const Array& p) {
    const std::string* name = p[0].string();
    const MethodDoc* d = name ? findDoc(*name) : nullptr;
    if (!d)
        throw makeFault(SIGNATURE_UNSUPPORTED);
    return std::string(d->doc);
}

Value RpcInterface::system_methodSignature(const Caller&, const Array& p) {
    const std::string* name = p[0].string();
    const MethodDoc* d = name ? findDoc(*name) : nullptr;
    if (!d)
        throw makeFault(SIGNATURE_UNSUPPORTED);
    Array a;
    for (const char* t : d->signature)
        if (t)
            a.emplace_back(t);
    return a;
}

Value RpcInterface::system_multicall(const Caller& caller, const Array& p) {
    // supervisord's answer, not the multicall convention: a success is the
    // bare value (not wrapped in a one-element array), a failure a fault
    // struct. Calls run one after the other; a deferred one holds back the
    // rest, and the whole array is answered at the end.
    const Value& calls = p[0];
    if (const std::string* s = calls.string()) {
        if (s->empty())
            return Array{};
        throw PyError{"AttributeError", "'str' object has no attribute 'pop'"};
    }
    const Array* list = calls.array();
    if (!list)
        throw PyError{"TypeError", std::string("'") + pyTypeName(calls) + "' object is not subscriptable"};
    // Bounded before anything runs: a multicall is one request, and one
    // request must not hold a worker, the engine and memory without end.
    if (list->size() > kMaxMulticallCalls)
        throw makeFault(INCORRECT_PARAMETERS, "system.multicall takes at most " + std::to_string(kMaxMulticallCalls) +
                                                  " calls, " + std::to_string(list->size()) + " given; nothing was done");
    Array results;
    results.reserve(list->size());
    // The reply's text is counted as it grows, result by result (each one
    // written into `scratch` and measured), and the rest is not run once
    // it is over the cap.
    std::string scratch;
    size_t replyBytes = 0;
    auto count = [&](const Value& v) {
        scratch.clear();
        appendValue(scratch, v);
        replyBytes += scratch.size();
        if (replyBytes > kMaxMulticallReplyBytes)
            throw makeFault(FAILED, "the system.multicall reply would be over " +
                                        std::to_string(kMaxMulticallReplyBytes >> 20) + " MiB after " +
                                        std::to_string(results.size()) +
                                        " calls (the calls before ran; split the multicall)");
    };
    for (const Value& c : *list) {
        if (!c.structure())
            throw PyError{"AttributeError", std::string("'") + pyTypeName(c) + "' object has no attribute 'get'"};
        const Value* name = c.member("methodName");
        const Value* params = c.member("params");
        auto faultStruct = [](int code, std::string text) {
            return Value(Struct{{"faultCode", Value(code)}, {"faultString", Value(std::move(text))}});
        };
        try {
            if (!name || name->isNil())
                throw makeFault(INCORRECT_PARAMETERS, "No methodName");
            if (const std::string* n = name->string(); n && *n == "system.multicall")
                throw makeFault(INCORRECT_PARAMETERS, "Recursive system.multicall forbidden");
            const std::string* n = name->string();
            if (!n)
                throw PyError{"AttributeError", std::string("'") + pyTypeName(*name) + "' object has no attribute 'split'"};
            // func(*params): a string spreads into its characters, a struct
            // into its keys, anything else is a TypeError.
            Array args;
            bool badArgs = false;
            if (!params) {
            } else if (const Array* a = params->array()) {
                args = *a;
            } else if (const std::string* s = params->string()) {
                for (char ch : *s)
                    args.emplace_back(std::string(1, ch));
            } else if (const Struct* st = params->structure()) {
                for (const auto& kv : *st)
                    args.emplace_back(kv.first);
            } else {
                badArgs = true;
            }
            if (badArgs) {
                if (!find(*n) || n->find('.') == std::string::npos)
                    throw makeFault(UNKNOWN_METHOD);
                throw makeFault(INCORRECT_PARAMETERS);
            }
            results.push_back(call(caller, *n, args));
        } catch (const Fault& f) {
            results.push_back(faultStruct(f.code, f.text));
        } catch (const PyError& e) {
            results.push_back(faultStruct(FAILED, "FAILED: <class '" + e.cls + "'>:" + e.message));
        }
        count(results.back());
    }
    return results;
}

} // namespace scopevisor::xmlrpc
