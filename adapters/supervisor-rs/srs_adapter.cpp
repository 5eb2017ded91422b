// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The adapter's threads: the listener, the connection workers and the timer
// thread; and the path of one message from its bytes to its reply.
#include "srs_adapter.h"

#include <cerrno>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "srs_net.h"

namespace srs {

using scopevisor::LogLevel;

namespace {
constexpr int kWorkers = 4;
constexpr int kReadTimeoutMs = 10000; // the original waits forever; a silent client gets nothing

const char* neededRole(scopevisor::Verb v) {
    switch (v) {
    case scopevisor::Verb::View: return "viewer";
    case scopevisor::Verb::ReadLog: return "log-reader";
    case scopevisor::Verb::Control:
    case scopevisor::Verb::SendInput: return "operator";
    case scopevisor::Verb::Manage: return "admin";
    }
    return "admin";
}
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
    if (listenFd_ >= 0) {
        host_.log(LogLevel::Info, "using the listening socket from systemd (port " + std::to_string(boundPort(listenFd_)) + ")");
    } else {
        listenFd_ = listenTcp(settings_.listenerAddr, settings_.port, error);
        if (listenFd_ < 0)
            return false;
        host_.log(LogLevel::Info, "TCP on " + settings_.listenerAddr + " port " + std::to_string(boundPort(listenFd_)) +
                                      (settings_.encrypt ? ", signed commands only (encrypt on)" : ", plain commands") +
                                      (replay_.enabled() ? ", replay guard " + std::to_string(settings_.replayWindow) + " s" : ""));
    }
    wakeFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    stopping_ = false;
    acceptThread_ = std::thread([this] { acceptLoop(); });
    for (int i = 0; i < kWorkers; ++i)
        workers_.emplace_back([this] { workerLoop(); });
    timerThread_ = std::thread([this] { timerLoop(); });
    return true;
}

void SrsAdapter::stop() {
    if (listenFd_ < 0)
        return;
    {
        // Under both locks, so that no thread misses the wake-up between
        // its check of stopping_ and its wait.
        std::scoped_lock lock(queueMutex_, timerMutex_);
        stopping_ = true;
    }
    uint64_t one = 1;
    (void)!write(wakeFd_, &one, sizeof one);
    queueCv_.notify_all();
    timerCv_.notify_all();
    acceptThread_.join();
    for (auto& t : workers_)
        t.join();
    workers_.clear();
    timerThread_.join();
    for (int fd : queue_)
        close(fd);
    queue_.clear();
    close(listenFd_);
    close(wakeFd_);
    listenFd_ = wakeFd_ = -1;
}

void SrsAdapter::acceptLoop() {
    while (!stopping_) {
        pollfd p[2] = {{listenFd_, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
        if (poll(p, 2, -1) < 0 || stopping_)
            continue;
        if (!(p[0].revents & POLLIN))
            continue;
        int fd = accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                usleep(50000); // out of descriptors: do not spin, let the workers close some
            continue;
        }
        std::lock_guard lock(queueMutex_);
        queue_.push_back(fd);
        queueCv_.notify_one();
    }
}

void SrsAdapter::workerLoop() {
    for (;;) {
        int fd;
        {
            std::unique_lock lock(queueMutex_);
            queueCv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_)
                return;
            fd = queue_.front();
            queue_.pop_front();
        }
        // Encrypted mode: the banner goes out before anything is read.
        if (settings_.encrypt)
            writeAll(fd, reply::kBanner);
        Outcome o = handleMessage(readMessage(fd, wakeFd_, kReadTimeoutMs));
        writeAll(fd, o.reply);
        closeAfterReply(fd, wakeFd_); // one command per connection: the client reads until EOF
        if (o.shutdownAfter)
            host_.control().shutdown([](scopevisor::Status) {});
    }
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
            host_.log(LogLevel::Warn, "refused a command signed as '" + s.message->keyName + "': " + v.error);
            return {v.error};
        }
        if (replay_.enabled() && replay_.replayed(s.message->keyName + ";" + s.message->signature,
                                                  std::chrono::steady_clock::now())) {
            host_.log(LogLevel::Warn, "refused a replayed command signed as '" + s.message->keyName + "': " + *v.command);
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
    ParseOutcome p = parseCommand(text);
    if (!p.command)
        return {p.error};
    who.role = host_.roleFor(who.identity);
    const scopevisor::Verb verb = verbFor(p.command->op);
    if (!scopevisor::roleAllows(who.role, verb)) {
        const std::string name = who.identity.empty() ? std::string("anonymous") : "'" + who.identity + "'";
        host_.log(LogLevel::Warn, "refused '" + text + "' to " + name + " (role " + scopevisor::roleName(who.role) +
                                      ", needs " + neededRole(verb) + ")");
        return {"Permission denied: " + name + " has the role " + scopevisor::roleName(who.role) + ", " +
                opName(p.command->op) + " needs " + neededRole(verb)};
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
            host_.log(LogLevel::Info, "repeat of " + t.child + ": check failed when timer try to run \"" + t.text + "\"");
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
    host_.log(LogLevel::Info, (t.child.empty() ? "posthook \"" : "repeat of " + t.child + ": \"") + t.text + "\": " + reply);
}

} // namespace srs
