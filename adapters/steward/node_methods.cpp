// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The methods that run commands or write files (Steward's requests.go).
#include <ctime>

#include <sys/wait.h>

#include "child_process.h"
#include "node.h"

namespace steward {

using scopevisor::LogLevel;

bool Node::commandOptions(const Message& m, const std::string& who, const std::atomic<bool>& cancel,
                          RunOptions* o) {
    if (m.data.empty() || m.data[0].empty()) {
        // Steward panics on an empty Data (index out of range).
        errorLog("error: " + who + ": no command in Data: " + goFormat(m));
        return false;
    }
    o->timeout = std::chrono::seconds(methodTimeoutSeconds(m));
    o->cancel = &cancel;
    o->placement = &placement_;
    return true;
}

void Node::methodCliCommand(const Message& m, const std::atomic<bool>& cancel) {
    const std::string who = "method" + m.method;
    RunOptions o;
    if (!commandOptions(m, who, cancel, &o))
        return;
    RunResult r = runCommand(m.data, o);
    if (!r.started) {
        errorLog("error: " + who + ": " + r.startError + ": " + goFormat(m));
        return;
    }
    if (r.cancelled)
        return;
    if (r.timedOut) {
        errorLog("error: " + who + ": method timed out " + goFormat(m));
        logKillError(who, r);
        return;
    }
    // Steward: a failed command goes to the error log, and its stdout is
    // still sent back.
    if (!WIFEXITED(r.waitStatus) || WEXITSTATUS(r.waitStatus) != 0)
        errorLog("error: " + who + ": cmd.Output : " + describeWaitStatus(r.waitStatus) + ", message: " +
                 goFormat(m) + ", error_output: " + r.err);
    if (r.outTruncated)
        errorLog("error: " + who + ": output truncated to " + std::to_string(r.out.size()) + " bytes");
    sendReply(m, std::move(r.out));
}

void Node::methodCliCommandCont(const Message& m, const std::atomic<bool>& cancel) {
    const std::string who = "method" + m.method;
    RunOptions o;
    if (!commandOptions(m, who, cancel, &o))
        return;
    // One reply per stdout line, in order: the reply publisher of that
    // subject sends them one at a time.
    o.onStdoutLine = [&](std::string_view line) { sendReply(m, std::string(line)); };
    o.onStderrLine = [&](std::string_view line) {
        std::string l(line);
        if (!l.empty() && l.back() == '\n')
            l.pop_back();
        errorLog("error: " + who + ": " + l);
    };
    RunResult r = runCommand(m.data, o);
    if (!r.started)
        errorLog("error: " + who + ": " + r.startError + ": " + goFormat(m));
    else if (r.timedOut) {
        errorLog("info: " + who + ": method timeout reached, canceling: " + goFormat(m));
        logKillError(who, r);
    }
}

void Node::logKillError(const std::string& who, const RunResult& r) {
    if (!r.killError.empty())
        host_.log(LogLevel::Error, who + ": command " + r.unit + " may have left processes behind: " + r.killError);
}

void Node::methodWriteFile(const Message& m, DataStore::Mode mode) {
    std::string err;
    auto path = store_.pathFor(m, &err);
    if (!path) {
        // Never the error log of a failed error log write: it would come back here.
        std::string text = "error: " + m.method + ": " + err + " in a message from '" + m.fromNode + "'";
        if (m.method == "REQErrorLog")
            host_.log(LogLevel::Error, text);
        else
            errorLog(text);
        return;
    }
    std::string all;
    for (const auto& d : m.data)
        all += d;
    if (!store_.write(*path, all, mode, &err)) {
        if (m.method == "REQErrorLog")
            host_.log(LogLevel::Error, "error: REQErrorLog: " + err);
        else
            errorLog("error: " + m.method + ": " + err);
    }
}

void Node::methodHello(const Message& m) {
    std::string err;
    auto path = store_.pathOf(m.directory, m.fromNode, m.fileName, &err);
    if (!path || !store_.write(*path, ansicTime(std::time(nullptr)) + ", Received hello from \"" + m.fromNode + "\"\n",
                               DataStore::Mode::Append, &err))
        errorLog("error: REQHello: " + err);
}

void Node::methodPing(const Message& m) {
    std::string err;
    auto path = store_.pathFor(m, &err);
    if (!path || !store_.write(*path, ansicTime(std::time(nullptr)) + ", ping received from " + m.fromNode + "\n",
                               DataStore::Mode::Truncate, &err))
        errorLog("error: REQPing: " + err);
    sendReply(m, "");
}

void Node::methodPong(const Message& m) {
    if (!m.previous) {
        // Steward dereferences the nil PreviousMessage and crashes.
        errorLog("error: REQPong without PreviousMessage from '" + m.fromNode + "': " + goFormat(m));
        return;
    }
    std::string err;
    auto path = store_.pathFor(m, &err);
    if (!path || !store_.write(*path, ansicTime(std::time(nullptr)) + ", pong received from " +
                                          m.previous->toNode + "\n",
                               DataStore::Mode::Truncate, &err))
        errorLog("error: REQPong: " + err);
}

void Node::methodToConsole(const Message& m) {
    std::string text = "<--- methodCLICommandReply: [";
    for (size_t i = 0; i < m.data.size(); ++i)
        text += (i ? " " : "") + m.data[i];
    text += "]";
    host_.log(LogLevel::Info, m.method + " from " + m.fromNode + ": " + text);
}

} // namespace steward
