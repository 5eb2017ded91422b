// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The adapter's start and stop, the timer thread, and the path of one
// message from its bytes to its reply: signature, replay guard, role.
#include "srs_adapter.h"

#include <unistd.h>

#include "scopevisor/tcp_listener.h"
#include "srs_net.h"

namespace srs {

using scopevisor::LogLevel;

namespace {
constexpr size_t kMaxMessage = 4196; // the original's one read: "100 command + 4096 key"
// Enough for any honest use, and half of the soft RLIMIT_NOFILE of 1024
// that a daemon may run with (ConnectionServer::connectionCap lowers it
// under a smaller limit).
constexpr size_t kMaxConnections = 512;

constexpr const char* kAnonymousRefused =
    "Refused: in plain mode (encrypt = off) clients are anonymous and get no rights unless "
    "[adapter:supervisor-rs] sets default_role (default_role = admin restores the old behaviour), or use encrypt = on";

std::string tooLongReply() {
    return "Refused: the message is longer than " + std::to_string(kMaxMessage) + " bytes";
}

const char* neededRole(scopevisor::Verb v) { return scopevisor::roleName(scopevisor::leastRoleFor(v)); }
} // namespace

SrsAdapter::SrsAdapter(scopevisor::AdapterHost& host, Settings settings)
    : host_(host), settings_(std::move(settings)), replay_(settings_.replayWindow) {
    // The imported children's configs, for `check`; re-read at each start.
    std::vector<std::string> files;
    std::string error;
    if (!settings_.serverYmlPath.empty() && listChildFiles(settings_.server, &files, &error))
        for (const auto& f : files)
            if (ChildYml c; loadChildYml(f, &c, &error))
                children_[c.name] = std::move(c);
}

SrsAdapter::~SrsAdapter() { stop(); }

bool SrsAdapter::start(std::string* error) {
    listenFd_ = host_.takeListenFd("supervisor-rs");
    std::string where;
    if (listenFd_ >= 0) {
        where = "port " + std::to_string(scopevisor::listeningPort(listenFd_)) + " (from systemd)";
        host_.log(LogLevel::Info, "using the listening socket from systemd (port " + std::to_string(scopevisor::listeningPort(listenFd_)) + ")");
    } else {
        listenFd_ = listenTcp(settings_.listenerAddr, settings_.port, error);
        if (listenFd_ < 0)
            return false;
        where = settings_.listenerAddr + ":" + std::to_string(scopevisor::listeningPort(listenFd_));
        host_.log(LogLevel::Info, "TCP on " + settings_.listenerAddr + " port " + std::to_string(scopevisor::listeningPort(listenFd_)) +
                                      (settings_.encrypt ? ", signed commands only (encrypt on)" : ", plain commands") +
                                      (replay_.enabled() ? ", replay guard " + std::to_string(settings_.replayWindow) + " s" : ""));
    }
    if (!settings_.encrypt) {
        // Plain mode has no identities: every client is anonymous and gets
        // default_role, which is empty unless set.
        if (host_.roleFor("") == scopevisor::Role::None)
            host_.log(LogLevel::Warn, "plain mode (encrypt off) and no default_role: every command is refused; "
                                      "set default_role in [adapter:supervisor-rs] or encrypt = on");
        scopevisor::warnIfOpenToAnonymous(host_, listenFd_, where, "[adapter:supervisor-rs] default_role");
    }
    ServerLimits limits;
    limits.maxMessage = kMaxMessage;
    limits.maxConnections = ConnectionServer::connectionCap(kMaxConnections);
    server_ = std::make_unique<ConnectionServer>(
        limits, settings_.encrypt ? reply::kBanner : "", tooLongReply(),
        [this](const std::string& raw) {
            Outcome o = handleMessage(raw);
            Answer a{std::move(o.reply), nullptr};
            if (o.shutdownAfter)
                a.afterReply = [this] { host_.control().shutdown([](scopevisor::Status) {}); };
            return a;
        },
        [this](const std::string& m) { host_.log(LogLevel::Warn, m); });
    if (!server_->start(listenFd_, error)) {
        server_.reset();
        close(listenFd_);
        listenFd_ = -1;
        return false;
    }
    stopping_ = false;
    timerThread_ = std::thread([this] { timerLoop(); });
    return true;
}

void SrsAdapter::stop() {
    if (listenFd_ < 0)
        return;
    server_->stop();
    server_.reset();
    {
        // Under the lock, so that the timer thread does not miss the
        // wake-up between its check of stopping_ and its wait.
        std::lock_guard lock(timerMutex_);
        stopping_ = true;
    }
    timerCv_.notify_all();
    timerThread_.join();
    close(listenFd_);
    listenFd_ = -1;
}

Outcome SrsAdapter::handleMessage(const std::string& raw) {
    Caller who;
    std::string text;
    if (raw.empty())
        return {reply::kNoLegalOp}; // the original's thread panicked on it
    if (settings_.encrypt) {
        SignedSplit s = splitSigned(raw);
        if (!s.message)
            return {s.error};
        std::string pem = findKeyFile(settings_.pubKeysPath, s.message->keyName);
        if (pem.empty())
            return {reply::keyNotFound(s.message->keyName)};
        Verified v = verifySignature(pem, s.message->signature);
        if (!v.command) {
            host_.log(LogLevel::Warn, "refused a command signed as '" + printable(s.message->keyName) + "': " + v.error);
            return {v.error};
        }
        // Keyed on the signature as verified, not on the bytes received:
        // trailing NULs or a dropped leading zero byte give the same
        // signature, and must not make a replay look new.
        if (replay_.enabled() && replay_.replayed(s.message->keyName + ";" + v.signature, std::chrono::steady_clock::now())) {
            host_.log(LogLevel::Warn, "refused a replayed command signed as '" + printable(s.message->keyName) +
                                          "': " + printable(*v.command));
            return {"Replayed command refused: the same signed command was seen within replay_window (" +
                    std::to_string(settings_.replayWindow) + " s)"};
        }
        who.identity = s.message->keyName;
        text = *v.command;
    } else {
        std::string_view plain = stripTrailingNuls(raw);
        if (!validUtf8(plain))
            return {""}; // as the original: no reply to non-UTF-8 bytes
        text = std::string(plain);
    }
    who.role = host_.roleFor(who.identity);
    if (!settings_.encrypt && who.role == scopevisor::Role::None)
        return {kAnonymousRefused}; // before parsing: no rights, no work
    ParseOutcome p = parseCommand(text);
    if (!p.command)
        return {p.error};
    const scopevisor::Verb verb = verbFor(p.command->op);
    if (!scopevisor::roleAllows(who.role, verb)) {
        const std::string name = who.identity.empty() ? std::string("anonymous") : "'" + who.identity + "'";
        host_.log(LogLevel::Warn, "refused '" + printable(text) + "' to " + printable(name) + " (role " +
                                      scopevisor::roleName(who.role) + ", needs " + neededRole(verb) + ")");
        std::string refusal = "Permission denied: " + name + " has the role " + scopevisor::roleName(who.role) + ", " +
                              opName(p.command->op) + " needs " + neededRole(verb);
        if (who.role == scopevisor::Role::None) // a key that [access] does not list: say what to set
            refusal += " (set supervisor-rs:" + who.identity + " = " + neededRole(verb) +
                       " in [access], or default_role in [adapter:supervisor-rs])";
        return {refusal};
    }
    return execute(*p.command, who);
}

void SrsAdapter::schedule(std::chrono::steady_clock::time_point at, Task t) {
    std::lock_guard lock(timerMutex_);
    tasks_.emplace(at, std::move(t));
    timerCv_.notify_all();
}

void SrsAdapter::timerLoop() {
    std::unique_lock lock(timerMutex_);
    while (!stopping_) {
        if (tasks_.empty()) {
            timerCv_.wait(lock);
            continue;
        }
        auto first = tasks_.begin();
        if (first->first > std::chrono::steady_clock::now()) {
            timerCv_.wait_until(lock, first->first);
            continue;
        }
        Task t = std::move(first->second);
        tasks_.erase(first);
        lock.unlock();
        runTask(t);
        lock.lock();
    }
}

void SrsAdapter::runTask(const Task& t) {
    if (!t.child.empty()) {
        // A repeat timer acts only if the child was not started again since
        // it was armed (a manual stop or restart makes it a no-op).
        scopevisor::Error err;
        auto p = program(t.child, &err);
        if (!p || p->startedAtUs != t.startedAtUs) {
            host_.log(LogLevel::Info, "repeat of " + t.child + ": check failed when timer try to run \"" + printable(t.text) + "\"");
            return;
        }
    }
    ParseOutcome p = parseCommand(t.text);
    std::string reply = p.error;
    if (p.command && !scopevisor::roleAllows(t.caller.role, verbFor(p.command->op))) {
        reply = std::string("refused: the request that ran this hook has the role ") + scopevisor::roleName(t.caller.role);
    } else if (p.command) {
        Outcome o = execute(*p.command, t.caller);
        reply = o.reply;
        if (o.shutdownAfter)
            host_.control().shutdown([](scopevisor::Status) {});
    }
    host_.log(LogLevel::Info, (t.child.empty() ? "posthook \"" : "repeat of " + t.child + ": \"") + printable(t.text) + "\": " + printable(reply));
}

} // namespace srs
