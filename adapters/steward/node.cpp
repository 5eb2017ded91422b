// SPDX-License-Identifier: LGPL-2.1-or-later
#include "node.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "gob_codec.h"
#include "op_arg.h"

namespace steward {

using scopevisor::LogLevel;
using scopevisor::Verb;

namespace {

const char* roleNeeded(Verb v) { return scopevisor::roleName(scopevisor::leastRoleFor(v)); }

} // namespace

Node::Node(scopevisor::AdapterHost& host, Settings s)
    : host_(host), s_(std::move(s)), store_(s_.dataFolder, DataQuota{s_.dataFolderQuota, s_.dataFileMax}) {}

Node::~Node() { stop(); }

bool Node::start(std::string* error) {
    LinkOptions lo;
    lo.nodeName = s_.nodeName;
    lo.brokerAddress = s_.brokerAddress;
    lo.nkeySeedFile = s_.nkeySeedFile;
    lo.nkeyPublic = s_.nkeyPublic;
    lo.rootCaPath = s_.rootCaPath;
    lo.tlsServerName = s_.tlsServerName;
    // Room for a few messages of the largest size per subscription, no more:
    // a flood must not queue without end inside libnats.
    lo.pendingBytes = static_cast<int>(std::max<uint64_t>(16ull << 20, 4 * s_.maxMessageBytes));
    lo.reconnectWaitSeconds = s_.natsConnectRetryInterval;
    link_ = std::make_unique<NatsLink>(lo, [this](bool err, const std::string& text) {
        host_.log(err ? LogLevel::Warn : LogLevel::Info, text);
    });
    if (!link_->open(error))
        return false;
    for (const auto& m : subscribableMethods())
        if (serves(m))
            subscribeMethod(m);
    host_.log(LogLevel::Info, "node " + s_.nodeName + (s_.isCentral() ? " (central)" : "") + ", central " +
                                  s_.centralNodeName + ", data in " + s_.dataFolder);
    if (s_.startPubHello > 0)
        hello_ = std::thread([this] { helloLoop(); });
    return true;
}

void Node::stop() {
    {
        std::lock_guard lock(mu_);
        if (stopping_)
            return;
        stopping_ = true;
    }
    cancelAll_ = true;
    cv_.notify_all();
    if (hello_.joinable())
        hello_.join();
    // Jobs see cancelAll_, kill their commands and return; a job blocked in
    // a reply's ACK wait is woken by closing the link.
    if (link_)
        link_->close();
    std::list<JobSlot> jobs;
    {
        std::lock_guard lock(mu_);
        jobs.swap(jobs_);
    }
    for (auto& j : jobs)
        if (j.thread.joinable())
            j.thread.join();
}

bool Node::serves(const std::string& method) const {
    if (method == "REQInitial" || !methodKind(method))
        return false;
    if (method == "REQOpCommand") // Steward always starts it
        return true;
    if (method == "REQErrorLog" && !s_.subscribesErrorLog())
        return false;
    return !s_.disabledMethods.count(method);
}

void Node::subscribeMethod(const std::string& method) {
    // Error logs of every node go to the fixed node name "errorCentral".
    const std::string to = method == "REQErrorLog" ? "errorCentral" : s_.nodeName;
    const std::string subject = subjectFor(to, method);
    std::string err;
    if (!link_->subscribe(subject,
                          [this](const std::string& subj, const std::string& reply, std::string data) {
                              onNats(subj, reply, std::move(data));
                          },
                          &err)) {
        host_.log(LogLevel::Error, err);
        return;
    }
    std::lock_guard lock(mu_);
    if (!subIds_.count(subject))
        subIds_[subject] = nextSubId_++;
}

Verb verbFor(const Message& m) {
    const std::string& x = m.method;
    // Running a command (as the daemon's user), reading any file and
    // fetching any URL from this host are the daemon's own powers: admin.
    if (x == "REQCliCommand" || x == "REQnCliCommand" || x == "REQnCliCommandCont" || x == "REQHttpGet")
        return Verb::Manage;
    if (x == "REQTailFile")
        return !m.data.empty() && m.data[0].rfind("program:", 0) == 0 ? Verb::ReadLog : Verb::Manage;
    if (x == "REQOpCommand") // ps, and starting and stopping programs and subscribers
        return Verb::Control;
    // Content chosen by the sender, written into data_folder (within its
    // quota). REQHello, REQPing and REQPong write one line of their own.
    if (x == "REQToFile" || x == "REQToFileAppend" || x == "REQErrorLog")
        return Verb::Control;
    return Verb::View;
}

void Node::authorizeLocal(const scopevisor::UnixPeer& peer, const Message& m, std::string* what,
                          std::function<void(bool, std::string)> done) {
    const Verb verb = verbFor(m);
    std::string to = m.toNode;
    for (const auto& t : m.toNodes)
        to += (to.empty() ? "" : ",") + t;
    const bool toSelf = m.toNode == s_.nodeName ||
                        std::find(m.toNodes.begin(), m.toNodes.end(), s_.nodeName) != m.toNodes.end();
    std::string program;
    if (m.method == "REQOpCommand" && toSelf) {
        std::string err;
        if (auto a = parseOpArg(m.operation.opArg, &err); a && !a->program.empty()) {
            program = canonicalProgram(a->program, &err);
            if (program.empty())
                program = a->program; // unknown here: the operation will fail anyway
        }
    }
    *what = std::string(scopevisor::verbName(verb)) + " (" + m.method + " to " + to +
            (program.empty() ? "" : ", program " + program) + ")";
    host_.authorizeLocal(peer, verb, program, std::move(done));
}

void Node::onNats(const std::string& subject, const std::string& reply, std::string data) {
    // The kind is the subject's last token; only ACK kinds are answered.
    const bool wantsAck = !reply.empty() && (subject.ends_with(".CommandACK") || subject.ends_with(".EventACK"));
    if (data.size() > s_.maxMessageBytes) {
        // Refused before decoding: nothing of it is acted on.
        if (wantsAck)
            link_->ack(reply, "error from: " + s_.nodeName + ": message over max_message_bytes");
        errorLog("error: message of " + std::to_string(data.size()) + " bytes on " + subject +
                 " refused: over max_message_bytes (" + std::to_string(s_.maxMessageBytes) + " bytes)");
        return;
    }
    Message m;
    try {
        m = decodeMessage(data);
    } catch (const gob::DecodeError& e) {
        // A Go node would crash here; this one logs, ACKs (so the sender
        // does not resend the same bytes) and goes on.
        if (wantsAck)
            link_->ack(reply, "error from: " + s_.nodeName + ": malformed message");
        errorLog("error: gob decoding failed: " + std::string(e.what()) + " (subject " + subject + ", " +
                 std::to_string(data.size()) + " bytes)");
        return;
    }
    if (!serves(m.method) || stoppedMethods().count(m.method)) {
        if (wantsAck)
            link_->ack(reply, "error from: " + s_.nodeName + ": method not available");
        errorLog("error: method not available on " + s_.nodeName + ": '" + m.method + "' from " +
                 (m.fromNode.empty() ? std::string("an unnamed node") : m.fromNode) + " on " + subject);
        return;
    }
    const scopevisor::Role role = host_.roleFor(m.fromNode);
    const Verb verb = verbFor(m);
    if (!scopevisor::roleAllows(role, verb)) {
        // As Steward's old allowedReceivers check: ACK, say so, log.
        if (wantsAck)
            link_->ack(reply, "not allowed from " + m.fromNode);
        errorLog("info: " + m.method + " not allowed from '" + m.fromNode + "' (role " +
                 scopevisor::roleName(role) + ", needs " + scopevisor::verbName(verb) + "; set [access] steward:" +
                 (m.fromNode.empty() ? std::string("<node>") : m.fromNode) + " = " + roleNeeded(verb) +
                 " to allow it)");
        return;
    }
    if (wantsAck) {
        // Promptly, before any work: the sender's publisher waits for it.
        if (m.method == "REQOpCommand")
            link_->ack(reply, "confirmed from node: " + s_.nodeName + ": messageID: " + std::to_string(m.id) +
                                  "\n---\n");
        else
            link_->ack(reply, "confirmed from: " + s_.nodeName + ": " + std::to_string(m.id));
    }
    dispatch(std::move(m));
}

std::set<std::string> Node::stoppedMethods() {
    std::lock_guard lock(mu_);
    return stoppedMethods_;
}

void Node::dispatch(Message m) {
    const std::string& x = m.method;
    auto job = [&](auto fn) {
        auto shared = std::make_shared<Message>(std::move(m));
        runJob(shared->method, [this, shared, fn](const std::atomic<bool>& cancel) { (this->*fn)(*shared, cancel); });
    };
    if (x == "REQCliCommand" || x == "REQnCliCommand")
        job(&Node::methodCliCommand);
    else if (x == "REQnCliCommandCont")
        job(&Node::methodCliCommandCont);
    else if (x == "REQTailFile")
        job(&Node::methodTailFile);
    else if (x == "REQHttpGet") {
        auto shared = std::make_shared<Message>(std::move(m));
        runJob(x, [this, shared](const std::atomic<bool>&) { methodHttpGet(*shared); });
    } else if (x == "REQOpCommand") {
        auto shared = std::make_shared<Message>(std::move(m));
        runJob(x, [this, shared](const std::atomic<bool>&) { methodOpCommand(*shared); });
    } else if (x == "REQToFileAppend" || x == "REQErrorLog")
        methodWriteFile(m, DataStore::Mode::Append);
    else if (x == "REQToFile")
        methodWriteFile(m, DataStore::Mode::Truncate);
    else if (x == "REQHello")
        methodHello(m);
    else if (x == "REQPing")
        methodPing(m);
    else if (x == "REQPong")
        methodPong(m);
    else if (x == "REQToConsole" || x == "REQToSocket")
        methodToConsole(m);
}

bool Node::runJob(const std::string& what, std::function<void(const std::atomic<bool>&)> fn) {
    reapJobs();
    size_t busy = 0;
    {
        std::lock_guard lock(mu_);
        if (stopping_)
            return false;
        if (running_ < static_cast<size_t>(s_.maxJobs)) {
            ++running_;
            jobs_.emplace_back();
            JobSlot* slot = &jobs_.back();
            slot->thread = std::thread([this, slot, fn = std::move(fn)] {
                fn(cancelAll_);
                std::lock_guard l(mu_);
                slot->finished = true;
                --running_;
            });
            return true;
        }
        busy = running_;
    }
    errorLog("error: " + what + ": refused, " + std::to_string(busy) + " methods already running (max_jobs)");
    return false;
}

void Node::reapJobs() {
    std::list<JobSlot> done;
    {
        std::lock_guard lock(mu_);
        for (auto it = jobs_.begin(); it != jobs_.end();) {
            auto next = std::next(it);
            if (it->finished)
                done.splice(done.end(), jobs_, it);
            it = next;
        }
    }
    for (auto& j : done)
        j.thread.join();
}

void Node::send(Message m, int64_t ackTimeout, int64_t retries) {
    if (ackTimeout < 1)
        ackTimeout = s_.defaultMessageTimeout;
    if (retries < 1)
        retries = s_.defaultMessageRetries;
    m.ackTimeout = ackTimeout;
    m.retries = retries;
    const bool isError = m.method == "REQErrorLog";
    std::string to = m.toNode, from = m.fromNode, method = m.method;
    link_->send(std::move(m), static_cast<int>(std::min<int64_t>(ackTimeout, 86400)),
                static_cast<int>(std::min<int64_t>(retries, 1000000)),
                [this, isError, to, from, method](bool ok, const std::string& why) {
                    if (ok)
                        return;
                    std::string text = "info: toNode: " + to + ", fromNode: " + from + ", method: " + method +
                                       ": " + why +
                                       (why == "max retries reached"
                                            ? ", check if node is up and running and if it got a subscriber for "
                                              "the given REQ type"
                                            : "");
                    // Never an error log about an error log: that could loop.
                    if (isError)
                        host_.log(LogLevel::Warn, text);
                    else
                        errorLog(text);
                });
}

void Node::sendReply(const Message& request, std::string out) {
    if (request.fromNode.empty() || !validNodeName(request.fromNode)) {
        errorLog("error: " + request.method + ": cannot reply, the message has no valid FromNode: " +
                 goFormat(request));
        return;
    }
    Message r;
    r.toNode = request.fromNode;
    r.method = request.replyMethod.empty() ? "REQToFileAppend" : request.replyMethod;
    if (!methodKind(r.method) || r.method == "REQInitial") {
        // A Go node crashes on an unknown method: never send one.
        errorLog("error: " + request.method + ": unknown replyMethod '" + r.method + "', no reply sent");
        return;
    }
    if ((r.method == "REQCliCommand" || r.method == "REQnCliCommand") && out.empty()) {
        errorLog("error: " + request.method + ": empty output as a " + r.method + " reply would crash a Go node, "
                 "no reply sent");
        return;
    }
    r.data = {std::move(out)};
    // The replying node's name: Steward 903383a leaves it empty; later
    // versions set it, and the receiver needs it to pick the sender's role.
    r.fromNode = s_.nodeName;
    auto prev = std::make_shared<Message>(request);
    prev->replyMethod = r.method;
    r.previous = std::move(prev);
    send(std::move(r), request.replyAckTimeout, request.replyRetries);
}

void Node::errorLog(const std::string& text) {
    host_.log(LogLevel::Warn, text);
    {
        std::lock_guard lock(mu_);
        if (stopping_ || !link_)
            return;
    }
    Message m;
    m.toNode = "errorCentral";
    m.fromNode = s_.nodeName;
    m.method = "REQErrorLog";
    m.directory = "errorLog";
    m.fileName = "error.log";
    m.data = {ansicTime(std::time(nullptr)) + ", " + text + "\n"};
    m.ackTimeout = s_.errorMessageTimeout;
    m.retries = s_.errorMessageRetries;
    send(std::move(m), s_.errorMessageTimeout, s_.errorMessageRetries);
}

void Node::sendFromOperator(std::vector<Message> msgs) {
    for (auto& m : msgs) {
        m.fromNode = s_.nodeName;
        std::vector<std::string> targets = m.toNodes;
        if (targets.empty() && !m.toNode.empty())
            targets.push_back(m.toNode);
        if (targets.empty()) {
            errorLog("error: steward.sock: message with neither toNode nor toNodes dropped: " + goFormat(m));
            continue;
        }
        if (!methodKind(m.method) || m.method == "REQInitial") {
            errorLog("error: steward.sock: unknown method '" + m.method + "', message dropped");
            continue;
        }
        if ((m.method == "REQCliCommand" || m.method == "REQnCliCommand" || m.method == "REQnCliCommandCont") &&
            m.data.empty()) {
            errorLog("error: steward.sock: " + m.method + " without data (no command) dropped");
            continue;
        }
        if (m.method == "REQPong" && !m.previous) {
            errorLog("error: steward.sock: REQPong without PreviousMessage dropped");
            continue;
        }
        for (const auto& t : targets) {
            if (!validNodeName(t)) {
                errorLog("error: steward.sock: invalid node name '" + t + "', message dropped");
                continue;
            }
            Message one = m;
            one.toNode = t;
            one.toNodes.clear();
            if (one.ackTimeout < 1)
                one.ackTimeout = s_.defaultMessageTimeout;
            if (one.retries < 1)
                one.retries = s_.defaultMessageRetries;
            int64_t a = one.ackTimeout, r = one.retries;
            send(std::move(one), a, r);
        }
    }
}

void Node::helloLoop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
        lock.unlock();
        Message m;
        m.toNode = s_.centralNodeName;
        m.fromNode = s_.nodeName;
        m.data = {"Hello from " + s_.nodeName + "\n"};
        m.method = "REQHello";
        m.directory = "hello-messages";
        m.fileName = "hello.log";
        m.ackTimeout = 10;
        m.retries = 1;
        send(std::move(m), 10, 1);
        lock.lock();
        cv_.wait_for(lock, std::chrono::seconds(s_.startPubHello), [&] { return stopping_; });
    }
}

int Node::methodTimeoutSeconds(const Message& m) const {
    // Steward times out at once on 0; a forgotten methodTimeout gets this
    // node's default instead.
    if (m.methodTimeout <= 0)
        return s_.defaultMethodTimeout;
    return static_cast<int>(std::min<int64_t>(m.methodTimeout, 86400 * 365));
}

} // namespace steward
