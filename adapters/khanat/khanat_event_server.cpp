// SPDX-License-Identifier: LGPL-2.1-or-later
#include "khanat_event_server.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <unordered_map>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "khanat_tls.h"
#include "scopevisor/text.h"

namespace khanat {
namespace {

using Clock = std::chrono::steady_clock;

int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

// epoll's data for the two fds that are not connections.
constexpr uint64_t kListenId = 0;
constexpr uint64_t kWakeId = 1;

// How long a refused client may go on sending (its body) before the close:
// closing with unread bytes would reset the connection, and the peer could
// lose the refusal that was written just before.
constexpr int64_t kLingerMs = 5000;
constexpr size_t kLingerMaxBytes = 16 << 20;

// The kernel's send buffer of a connection (it doubles the figure): small
// enough that the write deadline covers nearly all of a reply and that 512
// connections cannot pin much kernel memory, large enough for a LAN's and a
// WAN's bandwidth-delay product at this API's reply sizes.
constexpr int kSendBufferBytes = 64 * 1024;

// Accepts per wake-up, so that a flood of connections does not keep the
// thread from the established ones.
constexpr int kAcceptBurst = 64;

void quickAck(int fd) {
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof on);
}

} // namespace

enum class Phase { Handshake, Reading, Working, Writing, Lingering };

struct EventServer::Conn {
    explicit Conn(FramingLimits l) : framer(l) {}
    uint64_t id = 0;
    int fd = -1;
    SSL* ssl = nullptr;
    Phase phase = Phase::Handshake;
    int64_t phaseStart = 0;
    int64_t deadline = 0; // 0 = none
    uint32_t events = 0;
    std::string peerCn;
    RequestFramer framer;
    std::string in;
    size_t inOff = 0;
    std::string out;
    size_t outOff = 0;
    bool closeAfter = false, lingerAfter = false;
    bool detached = false; // hung up while its request ran
    size_t lingered = 0;
    std::function<void()> afterSent;
};

struct EventServer::Impl {
    std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns;
    std::set<std::pair<int64_t, uint64_t>> deadlines;
    uint64_t nextId = 2;
    int64_t acceptPausedUntil = 0;
};

EventServer::EventServer(SSL_CTX* ctx, int listenFd, ServerLimits limits, Handler handler, ErrorPage errorPage)
    : ctx_(ctx), listenFd_(listenFd), limits_(limits), handler_(std::move(handler)),
      errorPage_(std::move(errorPage)), impl_(std::make_unique<Impl>()) {}

EventServer::~EventServer() {
    stop();
    for (auto& [id, c] : impl_->conns) {
        SSL_free(c->ssl);
        ::close(c->fd);
    }
    impl_->conns.clear();
    if (epfd_ >= 0)
        ::close(epfd_);
    if (wakeFd_ >= 0)
        ::close(wakeFd_);
    if (listenFd_ >= 0)
        ::close(listenFd_);
    SSL_CTX_free(ctx_);
}

bool EventServer::start(std::string* error) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    wakeFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epfd_ < 0 || wakeFd_ < 0) {
        *error = "epoll: " + scopevisor::errnoText(errno);
        return false;
    }
    int flags = fcntl(listenFd_, F_GETFL);
    fcntl(listenFd_, F_SETFL, flags | O_NONBLOCK);
    listen(true);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeId;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, wakeFd_, &ev);
    for (unsigned i = 0; i < limits_.workers; ++i)
        workers_.emplace_back([this] { work(); });
    thread_ = std::thread([this] { loop(); });
    return true;
}

void EventServer::stop() {
    if (stopping_.exchange(true))
        return;
    {
        std::lock_guard lock(m_);
        cv_.notify_all();
    }
    if (wakeFd_ >= 0) {
        uint64_t one = 1;
        (void)!write(wakeFd_, &one, sizeof one);
    }
    if (thread_.joinable())
        thread_.join();
    // A worker inside a request finishes it first (the daemon answers).
    for (auto& w : workers_)
        w.join();
    workers_.clear();
}

void EventServer::work() {
    for (;;) {
        Job job;
        {
            std::unique_lock lock(m_);
            cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
            if (stopping_)
                return;
            job = std::move(jobs_.front());
            jobs_.pop_front();
        }
        Done d{job.id, {}, job.request.method == "HEAD", job.request.keepAlive};
        try {
            d.reply = handler_(job.request, job.peerCn);
        } catch (...) {
            d.reply = errorPage_(500, "Internal error");
            d.reply.close = true;
        }
        {
            std::lock_guard lock(m_);
            done_.push_back(std::move(d));
        }
        uint64_t one = 1;
        (void)!write(wakeFd_, &one, sizeof one);
    }
}

void EventServer::loop() {
    epoll_event events[128];
    while (!stopping_) {
        int timeout = 1000;
        if (!impl_->deadlines.empty())
            timeout = int(std::clamp<int64_t>(impl_->deadlines.begin()->first - nowMs(), 0, 1000));
        int n = epoll_wait(epfd_, events, 128, timeout);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n && !stopping_; ++i) {
            const uint64_t id = events[i].data.u64;
            if (id == kListenId) {
                acceptSome();
            } else if (id == kWakeId) {
                uint64_t v;
                (void)!read(wakeFd_, &v, sizeof v);
                collectDone();
            } else if (auto it = impl_->conns.find(id); it != impl_->conns.end()) {
                Conn& c = *it->second;
                if (!(events[i].events & (EPOLLERR | EPOLLHUP)))
                    advance(c);
                else if (c.phase != Phase::Working)
                    close(c);
                else
                    detach(c); // the reply, when it comes, closes it
            }
        }
        if (impl_->acceptPausedUntil && nowMs() >= impl_->acceptPausedUntil) {
            impl_->acceptPausedUntil = 0;
            listen(true);
        }
        expire();
        reportDrops();
    }
}

void EventServer::reportDrops() {
    if ((evicted_ == 0 && timedOut_ == 0) || nowMs() < nextReportMs_)
        return;
    if (report_)
        report_(std::to_string(evicted_) + " connection(s) closed to make room (max_connections) and " +
                std::to_string(timedOut_) + " past a deadline since the last report: idle, slow or too many clients");
    evicted_ = timedOut_ = 0;
    nextReportMs_ = nowMs() + 60000;
}

void EventServer::listen(bool on) {
    // Several servers may share the listening socket (one per core):
    // EPOLLEXCLUSIVE wakes one of them per new connection, not all.
    if (!on) {
        epoll_ctl(epfd_, EPOLL_CTL_DEL, listenFd_, nullptr);
        return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u64 = kListenId;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, listenFd_, &ev);
}

void EventServer::acceptSome() {
    for (int i = 0; i < kAcceptBurst; ++i) {
        int fd = accept4(listenFd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                // Out of descriptors: make room, and if nothing can be
                // closed, stop accepting for a moment instead of spinning.
                if (!evictOne()) {
                    impl_->acceptPausedUntil = nowMs() + 100;
                    listen(false);
                    return;
                }
                continue;
            }
            return; // EAGAIN, or an aborted connection
        }
        // Full: the connection that has waited longest makes room. When
        // every one is inside a request, the newcomer is the one refused.
        if (impl_->conns.size() >= limits_.maxConnections && !evictOne()) {
            ::close(fd);
            continue;
        }
        int one = 1, sndbuf = kSendBufferBytes;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        auto c = std::make_unique<Conn>(limits_.framing);
        c->id = impl_->nextId++;
        c->fd = fd;
        c->ssl = SSL_new(ctx_);
        if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
            SSL_free(c->ssl);
            ::close(fd);
            ERR_clear_error();
            continue;
        }
        SSL_set_accept_state(c->ssl);
        c->phase = Phase::Handshake;
        c->phaseStart = nowMs();
        Conn& ref = *c;
        impl_->conns.emplace(c->id, std::move(c));
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = ref.id;
        epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
        ref.events = EPOLLIN;
        setDeadline(ref, limits_.handshakeTimeout);
    }
}

bool EventServer::evictOne() {
    Conn* victim = nullptr;
    for (auto& [id, c] : impl_->conns)
        if (c->phase != Phase::Working && (!victim || c->phaseStart < victim->phaseStart))
            victim = c.get();
    if (!victim)
        return false;
    ++evicted_;
    abort(*victim);
    return true;
}

void EventServer::watch(Conn& c, uint32_t events) {
    if (c.events == events)
        return;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = c.id;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
    c.events = events;
}

void EventServer::setDeadline(Conn& c, std::chrono::milliseconds in) {
    clearDeadline(c);
    c.deadline = nowMs() + in.count();
    impl_->deadlines.emplace(c.deadline, c.id);
}

void EventServer::clearDeadline(Conn& c) {
    if (c.deadline)
        impl_->deadlines.erase({c.deadline, c.id});
    c.deadline = 0;
}

void EventServer::expire() {
    const int64_t now = nowMs();
    while (!impl_->deadlines.empty() && impl_->deadlines.begin()->first <= now) {
        auto it = impl_->conns.find(impl_->deadlines.begin()->second);
        if (it == impl_->conns.end()) {
            impl_->deadlines.erase(impl_->deadlines.begin());
            continue;
        }
        if (it->second->phase == Phase::Lingering) {
            close(*it->second);
            continue;
        }
        ++timedOut_;
        abort(*it->second);
    }
}

void EventServer::detach(Conn& c) {
    // A hung-up socket stays readable for epoll whatever the mask: out of
    // it, so that the thread does not spin while the request runs.
    if (!c.detached)
        epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
    c.detached = true;
}

void EventServer::abort(Conn& c) {
    // A reset rather than a FIN: what is still queued for a peer that does
    // not read is dropped now instead of trickling out of the kernel. A
    // kept-alive connection between requests gets a FIN: the end of its
    // last reply may still be on its way to a slow but honest reader.
    if (!(c.phase == Phase::Reading && c.framer.idle())) {
        ::linger lg{1, 0};
        setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(c);
}

void EventServer::close(Conn& c) {
    clearDeadline(c);
    if (!c.detached)
        epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
    SSL_free(c.ssl);
    ::close(c.fd);
    ERR_clear_error();
    impl_->conns.erase(c.id); // c is gone
}

void EventServer::advance(Conn& c) {
    switch (c.phase) {
    case Phase::Handshake: handshake(c); break;
    case Phase::Reading: readRequest(c); break;
    case Phase::Writing: writeReply(c); break;
    case Phase::Lingering: linger(c); break;
    case Phase::Working: watch(c, 0); break; // nothing to do until the reply
    }
}

void EventServer::handshake(Conn& c) {
    ERR_clear_error();
    int r = SSL_do_handshake(c.ssl);
    if (r == 1) {
        c.peerCn = peerCommonName(c.ssl);
        c.phase = Phase::Reading;
        c.phaseStart = nowMs();
        setDeadline(c, limits_.idleTimeout);
        quickAck(c.fd);
        readRequest(c);
        return;
    }
    switch (SSL_get_error(c.ssl, r)) {
    case SSL_ERROR_WANT_READ: watch(c, EPOLLIN); break;
    case SSL_ERROR_WANT_WRITE: watch(c, EPOLLOUT); break;
    default: close(c); // refused certificate, not TLS, or gone
    }
}

void EventServer::readRequest(Conn& c) {
    char buf[16384];
    if (c.outOff < c.out.size()) { // a "100 Continue" still going out
        bool blocked = false;
        if (!flush(c, &blocked))
            return close(c);
    }
    for (;;) {
        // The bytes already read first: a pipelined request, or the rest of
        // the last read.
        while (c.inOff < c.in.size()) {
            const bool wasIdle = c.framer.idle();
            size_t used = 0;
            auto st = c.framer.feed(std::string_view(c.in).substr(c.inOff), &used);
            c.inOff += used;
            if (wasIdle && !c.framer.idle()) {
                // A request began: from now on its whole head and body
                // must arrive within requestTimeout, however slowly.
                c.phaseStart = nowMs();
                setDeadline(c, limits_.requestTimeout);
            }
            if (st == RequestFramer::State::Refused) {
                startReply(c, errorPage_(c.framer.refusal(), c.framer.reason()), false, false, true);
                return;
            }
            if (st == RequestFramer::State::Complete) {
                dispatch(c);
                return;
            }
            if (st == RequestFramer::State::HeadDone) {
                // client.py writes its body after its head on a socket
                // without TCP_NODELAY: acknowledge the head now rather than
                // after the delayed-ACK timer.
                quickAck(c.fd);
                if (c.framer.request().expectContinue) {
                    c.out += continueHead();
                    bool blocked = false;
                    if (!flush(c, &blocked))
                        return close(c);
                }
            }
        }
        c.in.clear();
        c.inOff = 0;
        ERR_clear_error();
        int n = SSL_read(c.ssl, buf, sizeof buf);
        if (n > 0) {
            c.in.assign(buf, size_t(n));
            continue;
        }
        const bool pending = c.outOff < c.out.size(); // a "100 Continue" still going out
        switch (SSL_get_error(c.ssl, n)) {
        case SSL_ERROR_WANT_READ: watch(c, pending ? uint32_t(EPOLLIN | EPOLLOUT) : uint32_t(EPOLLIN)); return;
        case SSL_ERROR_WANT_WRITE: watch(c, EPOLLOUT); return;
        default: return close(c); // closed, reset, or not TLS
        }
    }
}

void EventServer::dispatch(Conn& c) {
    c.phase = Phase::Working;
    clearDeadline(c);
    watch(c, 0);
    Job job{c.id, c.framer.request(), c.peerCn};
    {
        std::lock_guard lock(m_);
        jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
}

void EventServer::collectDone() {
    std::deque<Done> done;
    {
        std::lock_guard lock(m_);
        done.swap(done_);
    }
    for (auto& d : done) {
        auto it = impl_->conns.find(d.id);
        if (it == impl_->conns.end()) {
            if (d.reply.afterSent)
                d.reply.afterSent();
            continue;
        }
        Conn& c = *it->second;
        if (c.detached) {
            if (d.reply.afterSent)
                d.reply.afterSent();
            close(c);
            continue;
        }
        startReply(c, std::move(d.reply), d.headOnly, d.keepAlive, false);
    }
}

void EventServer::startReply(Conn& c, HttpReply reply, bool headOnly, bool keepAlive, bool linger) {
    c.closeAfter = reply.close || !keepAlive || linger;
    c.lingerAfter = linger;
    c.afterSent = std::move(reply.afterSent);
    c.out += responseHead(reply.status, reply.contentType, reply.body.size(), c.closeAfter);
    if (!headOnly)
        c.out += reply.body;
    c.phase = Phase::Writing;
    c.phaseStart = nowMs();
    // The whole reply within writeTimeout: a peer that reads a little now
    // and then cannot hold the connection (and its buffer) for ever.
    setDeadline(c, limits_.writeTimeout);
    writeReply(c);
}

bool EventServer::flush(Conn& c, bool* blocked) {
    *blocked = false;
    while (c.outOff < c.out.size()) {
        ERR_clear_error();
        int n = SSL_write(c.ssl, c.out.data() + c.outOff, int(std::min<size_t>(c.out.size() - c.outOff, 1 << 20)));
        if (n > 0) {
            c.outOff += size_t(n);
            continue;
        }
        int e = SSL_get_error(c.ssl, n);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
            *blocked = true;
            watch(c, e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN);
            return true;
        }
        return false;
    }
    c.out.clear();
    c.outOff = 0;
    return true;
}

void EventServer::writeReply(Conn& c) {
    bool blocked = false;
    if (!flush(c, &blocked)) {
        if (c.afterSent)
            c.afterSent();
        return close(c);
    }
    if (blocked)
        return;
    if (auto after = std::move(c.afterSent)) {
        c.afterSent = nullptr;
        after();
    }
    if (c.lingerAfter) {
        SSL_shutdown(c.ssl);
        shutdown(c.fd, SHUT_WR);
        c.phase = Phase::Lingering;
        c.phaseStart = nowMs();
        clearDeadline(c);
        c.deadline = c.phaseStart + kLingerMs;
        impl_->deadlines.emplace(c.deadline, c.id);
        watch(c, EPOLLIN);
        return linger(c);
    }
    if (c.closeAfter) {
        SSL_shutdown(c.ssl);
        return close(c);
    }
    c.framer.reset();
    c.phase = Phase::Reading;
    c.phaseStart = nowMs();
    setDeadline(c, limits_.idleTimeout);
    readRequest(c);
}

void EventServer::linger(Conn& c) {
    char buf[16384];
    for (;;) {
        ssize_t n = recv(c.fd, buf, sizeof buf, 0);
        if (n > 0) {
            c.lingered += size_t(n);
            if (c.lingered > kLingerMaxBytes)
                return close(c);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        return close(c);
    }
}

} // namespace khanat
