// SPDX-License-Identifier: LGPL-2.1-or-later
#include "srs_server.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scopevisor/text.h"

namespace srs {
namespace {

constexpr uint64_t kListenId = 0;
constexpr uint64_t kWakeId = 1;
constexpr int kAcceptBurst = 256;          // accepts per wake-up, so reads and writes get their turn
constexpr size_t kMaxDrain = 64 * 1024;    // what a lingering client may still send
constexpr auto kTick = std::chrono::milliseconds(100); // deadline check period
constexpr auto kAcceptPause = std::chrono::milliseconds(50); // out of descriptors, nothing to evict

} // namespace

ConnectionServer::ConnectionServer(ServerLimits limits, std::string banner, std::string tooLong, Handler handler,
                                   Logger warn)
    : limits_(limits), banner_(std::move(banner)), tooLong_(std::move(tooLong)), handler_(std::move(handler)),
      warn_(std::move(warn)) {}

ConnectionServer::~ConnectionServer() { stop(); }

size_t ConnectionServer::connectionCap(size_t wanted) {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        wanted = std::min<size_t>(wanted, size_t(rl.rlim_cur / 2));
    return std::max<size_t>(wanted, 16);
}

bool ConnectionServer::start(int listenFd, std::string* error) {
    listenFd_ = listenFd;
    epollFd_ = epoll_create1(EPOLL_CLOEXEC);
    wakeFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    // The listening socket is non-blocking so that an accept burst ends at
    // EAGAIN (it may come from systemd in blocking mode).
    const int flags = fcntl(listenFd_, F_GETFL);
    if (epollFd_ < 0 || wakeFd_ < 0 || flags < 0 || fcntl(listenFd_, F_SETFL, flags | O_NONBLOCK) < 0) {
        *error = "cannot set up the connection loop: " + scopevisor::errnoText(errno);
        return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenId;
    epoll_ctl(epollFd_, EPOLL_CTL_ADD, listenFd_, &ev);
    ev.data.u64 = kWakeId;
    epoll_ctl(epollFd_, EPOLL_CTL_ADD, wakeFd_, &ev);
    stopping_ = false;
    loopThread_ = std::thread([this] { loop(); });
    for (int i = 0; i < limits_.workers; ++i)
        workers_.emplace_back([this] { workerLoop(); });
    return true;
}

void ConnectionServer::stop() {
    if (epollFd_ < 0)
        return;
    {
        std::lock_guard lock(jobsMutex_);
        stopping_ = true;
    }
    jobsCv_.notify_all();
    uint64_t one = 1;
    (void)!write(wakeFd_, &one, sizeof one);
    if (loopThread_.joinable())
        loopThread_.join();
    for (auto& t : workers_)
        t.join();
    workers_.clear();
    ::close(epollFd_);
    ::close(wakeFd_);
    epollFd_ = wakeFd_ = -1;
}

void ConnectionServer::workerLoop() {
    for (;;) {
        Job job;
        {
            std::unique_lock lock(jobsMutex_);
            jobsCv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
            if (stopping_)
                return;
            job = std::move(jobs_.front());
            jobs_.pop_front();
        }
        Answer a;
        try {
            a = handler_(job.message);
        } catch (const std::exception& e) {
            a.reply = std::string("internal error: ") + e.what();
        }
        {
            std::lock_guard lock(jobsMutex_);
            done_.push_back({job.id, std::move(a)});
        }
        uint64_t one = 1;
        (void)!write(wakeFd_, &one, sizeof one);
    }
}

void ConnectionServer::loop() {
    std::vector<epoll_event> events(256);
    auto nextTick = Clock::now() + kTick;
    while (!stopping_) {
        const int timeout = conns_.empty() && !acceptPaused_ ? -1 : int(kTick.count());
        const int n = epoll_wait(epollFd_, events.data(), int(events.size()), timeout);
        for (int i = 0; i < n && !stopping_; ++i) {
            const uint64_t id = events[i].data.u64;
            if (id == kListenId) {
                acceptAll();
            } else if (id == kWakeId) {
                uint64_t v;
                (void)!read(wakeFd_, &v, sizeof v);
                takeAnswers();
            } else {
                onEvent(id, events[i].events);
            }
        }
        if (const auto now = Clock::now(); now >= nextTick) {
            nextTick = now + kTick;
            expire();
        }
    }
    while (!conns_.empty()) {
        conns_.begin()->second.afterReply = nullptr; // stopping: no kill after the stop
        close(conns_.begin()->first);
    }
}

void ConnectionServer::acceptAll() {
    for (int i = 0; i < kAcceptBurst; ++i) {
        const int fd = accept4(listenFd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                // Out of descriptors below the cap: free one if we can,
                // else stop polling the listener for a moment (it would spin).
                if (!evictOldest()) {
                    epoll_event ev{};
                    ev.data.u64 = kListenId;
                    epoll_ctl(epollFd_, EPOLL_CTL_MOD, listenFd_, &ev);
                    acceptPaused_ = true;
                    acceptResume_ = Clock::now() + kAcceptPause;
                    return;
                }
                continue;
            }
            return; // EAGAIN, or a connection reset before its accept
        }
        const uint64_t id = nextId_++;
        Conn& c = conns_[id];
        c.fd = fd;
        c.deadline = Clock::now() + limits_.readDeadline;
        c.out = banner_; // encrypted mode: the banner before anything is read
        if (!c.out.empty()) {
            const ssize_t w = send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            c.sent = w > 0 ? size_t(w) : 0;
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = id;
        epoll_ctl(epollFd_, EPOLL_CTL_ADD, fd, &ev);
        // Full: make room by closing the oldest connection, so that an
        // attacker holding many connections cannot lock new clients out.
        while (conns_.size() > limits_.maxConnections && evictOldest()) {
        }
    }
}

bool ConnectionServer::evictOldest() {
    // The oldest connection nobody is answering; a queued command's only
    // when every connection has one.
    auto victim = std::find_if(conns_.begin(), conns_.end(), [](const auto& kv) { return kv.second.state != State::Running; });
    if (victim == conns_.end())
        victim = conns_.begin();
    if (victim == conns_.end())
        return false;
    if (victim->second.state == State::Running) {
        std::lock_guard lock(jobsMutex_);
        const uint64_t id = victim->first;
        jobs_.erase(std::remove_if(jobs_.begin(), jobs_.end(), [id](const Job& j) { return j.id == id; }), jobs_.end());
    }
    if (evicted_++ % 1000 == 0)
        warn_("connection limit (" + std::to_string(limits_.maxConnections) +
              ") reached: closing the oldest connections for new ones (" + std::to_string(evicted_) + " so far)");
    close(victim->first);
    return true;
}

void ConnectionServer::onEvent(uint64_t id, uint32_t events) {
    auto it = conns_.find(id);
    if (it == conns_.end())
        return;
    Conn& c = it->second;
    switch (c.state) {
    case State::Reading: readMessage(id, c); return;
    case State::Running:
        // The client went away while its command runs: the command goes
        // on, as in the original; stop watching so the hang-up does not
        // wake us again, and let the reply's write find out.
        epoll_ctl(epollFd_, EPOLL_CTL_DEL, c.fd, nullptr);
        return;
    case State::Writing:
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            flush(id, c);
        return;
    case State::Lingering: {
        char buf[4096];
        const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        c.drained += n > 0 ? size_t(n) : 0;
        if (n <= 0 || c.drained > kMaxDrain)
            close(id);
        return;
    }
    }
}

void ConnectionServer::readMessage(uint64_t id, Conn& c) {
    // The original's framing: whatever one read returns is the message.
    // One byte more than the limit tells a message that is too long.
    std::string buf(limits_.maxMessage + 1, '\0');
    const ssize_t n = recv(c.fd, buf.data(), buf.size(), 0);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            close(id);
        return;
    }
    if (size_t(n) > limits_.maxMessage) {
        const auto now = Clock::now();
        if (now - lastTooLongWarn_ >= std::chrono::seconds(1)) {
            lastTooLongWarn_ = now;
            warn_("refused a message longer than " + std::to_string(limits_.maxMessage) + " bytes");
        }
        startReply(id, c, tooLong_);
        return;
    }
    buf.resize(size_t(n)); // 0: the client closed without a word; the handler answers that too
    finishRead(id, c, std::move(buf));
}

void ConnectionServer::finishRead(uint64_t id, Conn& c, std::string message) {
    c.state = State::Running;
    watch(id, c, 0);
    {
        std::lock_guard lock(jobsMutex_);
        jobs_.push_back({id, std::move(message)});
    }
    jobsCv_.notify_one();
}

void ConnectionServer::takeAnswers() {
    std::vector<Done> done;
    {
        std::lock_guard lock(jobsMutex_);
        done.swap(done_);
    }
    for (auto& d : done) {
        auto it = conns_.find(d.id);
        if (it == conns_.end()) {
            if (d.answer.afterReply)
                d.answer.afterReply(); // the client is gone, the command was done all the same
            continue;
        }
        it->second.afterReply = std::move(d.answer.afterReply);
        startReply(d.id, it->second, std::move(d.answer.reply));
    }
}

void ConnectionServer::startReply(uint64_t id, Conn& c, std::string text) {
    // What is left of the banner, then the reply, in one buffer of the
    // exact size: a big reply may wait here for a slow reader.
    if (c.sent >= c.out.size()) {
        c.out = std::move(text);
    } else {
        std::string out;
        out.reserve(c.out.size() - c.sent + text.size());
        out.append(c.out, c.sent).append(text);
        c.out = std::move(out);
    }
    c.sent = 0;
    c.state = State::Writing;
    c.deadline = Clock::now() + limits_.writeDeadline;
    flush(id, c);
}

void ConnectionServer::flush(uint64_t id, Conn& c) {
    while (c.sent < c.out.size()) {
        const ssize_t n = send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c.sent += size_t(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            // Keep only what is left: the kernel took most of a big reply,
            // and a client that does not read may hold the rest until
            // the write deadline.
            if (c.sent > 64 * 1024 && c.sent * 2 >= c.out.size()) {
                c.out = c.out.substr(c.sent);
                c.sent = 0;
            }
            watch(id, c, EPOLLOUT); // the rest when the client reads
            return;
        } else {
            close(id);
            return;
        }
    }
    std::string().swap(c.out);
    // One command per connection: the client reads until EOF.
    shutdown(c.fd, SHUT_WR);
    c.state = State::Lingering;
    c.deadline = Clock::now() + limits_.lingerDeadline;
    watch(id, c, EPOLLIN);
}

void ConnectionServer::watch(uint64_t id, Conn& c, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = id;
    // A connection whose client hung up while its command ran was taken
    // out of the set: put it back.
    if (epoll_ctl(epollFd_, EPOLL_CTL_MOD, c.fd, &ev) < 0 && errno == ENOENT)
        epoll_ctl(epollFd_, EPOLL_CTL_ADD, c.fd, &ev);
}

void ConnectionServer::close(uint64_t id) {
    auto it = conns_.find(id);
    if (it == conns_.end())
        return;
    ::close(it->second.fd); // also takes it out of the epoll set
    auto after = std::move(it->second.afterReply);
    conns_.erase(it);
    if (after)
        after();
}

void ConnectionServer::expire() {
    const auto now = Clock::now();
    if (acceptPaused_ && now >= acceptResume_) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = kListenId;
        epoll_ctl(epollFd_, EPOLL_CTL_MOD, listenFd_, &ev);
        acceptPaused_ = false;
    }
    std::vector<uint64_t> late;
    for (const auto& [id, c] : conns_)
        if (c.state != State::Running && now >= c.deadline)
            late.push_back(id);
    for (uint64_t id : late) {
        Conn& c = conns_.at(id);
        // A silent client gets the answer to an empty message (the
        // original waits forever); a client that does not read its reply
        // loses the rest of it.
        if (c.state == State::Reading)
            finishRead(id, c, {});
        else
            close(id);
    }
}

} // namespace srs
