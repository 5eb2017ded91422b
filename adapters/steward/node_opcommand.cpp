// SPDX-License-Identifier: LGPL-2.1-or-later
//
// REQOpCommand. Steward's "processes" are its own subscribers and
// publishers; a scopevisor node also has the programs it supervises, so:
//   ps         Steward's lines for this node's subscribers and publishers,
//              then one line per program (Control listPrograms);
//   startProc  {"program": "<namespec>"} or {"group": "<name>"}: start it
//              (Control start/startGroup, waiting for RUNNING); Steward's own
//              {"method": "<REQ...>"} restarts that method's subscriber;
//   stopProc   {"program": ...} / {"group": ...}: stop it (Control stop/
//              stopGroup); Steward's own {"receivingNode", "method", "kind",
//              "id"} stops that subscriber or publisher.
#include <ctime>

#include "node.h"
#include "op_arg.h"

namespace steward {

std::string Node::psText() {
    const std::string now = ansicTime(std::time(nullptr));
    std::string out;
    std::map<std::string, int> subs;
    {
        std::lock_guard lock(mu_);
        subs = subIds_;
    }
    for (const auto& [subject, id] : subs)
        if (link_->subscribed(subject))
            out += now + ", proc: subscriber, id: " + std::to_string(id) + ", name: " + subject +
                   ", allowed from: map[]\n";
    for (const auto& p : link_->publishers())
        out += now + ", proc: publisher, id: " + std::to_string(1000 + p.id) + ", name: " + p.subject +
               ", allowed from: map[]\n";
    auto programs = scopevisor::await<std::vector<scopevisor::ProgramInfo>>(
        [&](auto cb) { host_.control().listPrograms(cb); });
    for (const auto& p : programs)
        out += now + ", proc: program, id: " + std::to_string(p.pid) + ", name: " + p.namespec +
               ", state: " + scopevisor::stateName(p.state) + ", description: " + p.description + "\n";
    return out;
}

std::string Node::canonicalProgram(const std::string& name, std::string* error) {
    auto info = scopevisor::await<scopevisor::Result<scopevisor::ProgramInfo>>(
        [&](auto cb) { host_.control().getProgram(name, cb); });
    if (!info) {
        *error = info.error().message;
        return {};
    }
    return info.value().namespec;
}

std::string Node::startProc(const Message& m) {
    std::string err;
    auto a = parseOpArg(m.operation.opArg, &err);
    if (!a)
        return "error: startProc: " + err + ", nothing done\n";
    auto& c = host_.control();
    if (!a->program.empty()) {
        // Logged and replied under its canonical name, never the alias sent.
        std::string p = canonicalProgram(a->program, &err);
        if (p.empty())
            return "error: startProc " + a->program + ": " + err + "\n";
        auto st = scopevisor::await<scopevisor::Status>([&](auto cb) { c.start(p, true, cb); });
        return st ? "started " + p + "\n" : "error: startProc " + p + ": " + st.error().message + "\n";
    }
    if (const std::string& g = a->group; !g.empty()) {
        auto r = scopevisor::await<scopevisor::Result<scopevisor::MultiResult>>(
            [&](auto cb) { c.startGroup(g, true, cb); });
        if (!r)
            return "error: startProc group " + g + ": " + r.error().message + "\n";
        std::string out;
        for (const auto& pr : r.value())
            out += pr.error.code == scopevisor::ErrorCode::Ok ? "started " + pr.namespec + "\n"
                                                              : "error: " + pr.namespec + ": " + pr.error.message + "\n";
        return out;
    }
    if (const std::string& method = a->method; !method.empty()) {
        if (!methodKind(method) || !serves(method))
            return "error: startProc: method " + method + " is not available on " + s_.nodeName + "\n";
        {
            std::lock_guard lock(mu_);
            stoppedMethods_.erase(method);
        }
        subscribeMethod(method);
        return ""; // Steward replies with empty data
    }
    return "error: startProc: opArg needs \"program\", \"group\" or \"method\"\n";
}

std::string Node::stopProc(const Message& m) {
    std::string err;
    auto a = parseOpArg(m.operation.opArg, &err);
    if (!a)
        return "error: stopProc: " + err + ", nothing done\n";
    auto& c = host_.control();
    if (!a->program.empty()) {
        std::string p = canonicalProgram(a->program, &err);
        if (p.empty())
            return "error: stopProc " + a->program + ": " + err + "\n";
        auto st = scopevisor::await<scopevisor::Status>([&](auto cb) { c.stop(p, true, cb); });
        return st ? "stopped " + p + "\n" : "error: stopProc " + p + ": " + st.error().message + "\n";
    }
    if (const std::string& g = a->group; !g.empty()) {
        auto r = scopevisor::await<scopevisor::Result<scopevisor::MultiResult>>(
            [&](auto cb) { c.stopGroup(g, true, cb); });
        if (!r)
            return "error: stopProc group " + g + ": " + r.error().message + "\n";
        std::string out;
        for (const auto& pr : r.value())
            out += pr.error.code == scopevisor::ErrorCode::Ok ? "stopped " + pr.namespec + "\n"
                                                              : "error: " + pr.namespec + ": " + pr.error.message + "\n";
        return out;
    }
    const std::string& method = a->method;
    const std::string& kind = a->kind;
    const std::string& node = a->receivingNode;
    if (method.empty() || !methodKind(method))
        return "error: stopProc: opArg needs \"program\", \"group\" or a known \"method\"\n";
    if (!a->id || *a->id == 0)
        return "error: stopProc: id must be a number other than 0\n"; // as Steward
    if (kind == "subscriber") {
        if (!node.empty() && node != s_.nodeName && !(method == "REQErrorLog" && node == "errorCentral"))
            return "error: stopProc: no subscriber for " + node + " on " + s_.nodeName + "\n";
        if (method == "REQOpCommand")
            return "error: stopProc: the REQOpCommand subscriber cannot be stopped\n";
        std::string subject = subjectFor(method == "REQErrorLog" ? "errorCentral" : s_.nodeName, method);
        {
            std::lock_guard lock(mu_);
            stoppedMethods_.insert(method);
        }
        bool had = link_->unsubscribe(subject);
        return had ? "stopped subscriber " + subject + "\n" : "error: stopProc: no subscriber " + subject + "\n";
    }
    if (kind == "publisher") {
        if (node.empty())
            return "error: stopProc: a publisher needs \"receivingNode\"\n";
        std::string subject = subjectFor(node, method);
        return link_->stopPublisher(subject) ? "stopped publisher " + subject + "\n"
                                             : "error: stopProc: no publisher " + subject + "\n";
    }
    return "error: stopProc: kind must be \"subscriber\" or \"publisher\"\n";
}

void Node::methodOpCommand(const Message& m) {
    const std::string& op = m.operation.opCmd;
    std::string out;
    if (op == "ps")
        out = psText();
    else if (op == "startProc")
        out = startProc(m);
    else if (op == "stopProc")
        out = stopProc(m);
    else
        errorLog("error: REQOpCommand: unknown opCmd '" + op + "' from " + m.fromNode);
    if (out.rfind("error: ", 0) == 0)
        errorLog(out.substr(0, out.size() - (out.ends_with("\n") ? 1 : 0)));
    sendReply(m, std::move(out));
}

} // namespace steward
