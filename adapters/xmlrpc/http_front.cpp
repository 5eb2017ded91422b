// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The front of the HTTP server: one epoll thread per listener accepts
// connections and reads request heads and small bodies without blocking,
// within deadlines; complete requests go to a bounded pool of workers
// (http_server.cpp answers them), which hand the connection back when they
// are done with it. An idle keep-alive connection, or one sending a byte a
// second, costs a few hundred bytes here and no thread; a full listener
// closes the connection that has waited longest for the new one.
#include "http_server.h"

#include <algorithm>
#include <cerrno>
#include <unordered_map>

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_request_reader.h"

namespace scopevisor::xmlrpc {

using Clock = std::chrono::steady_clock;

struct HttpServer::FrontConn {
    int fd = -1; // -1 once closed by a worker
    bool hasPeer = false;
    UnixPeer peer;
    std::string buf;            // read and not served yet
    Clock::time_point since;    // waiting since (idle, or its request began)
    Clock::time_point deadline; // closed then, unless it has a request ready
    RequestProgress progress;   // of the request at the front of `buf`
    bool started = false;       // a byte of the next request came
    size_t served = 0;          // requests answered on it

    explicit FrontConn(const ServerLimits& l) : progress(l.maxHeaderBytes, l.inlineBodyBytes) {}
};

namespace {

constexpr uint64_t kListenTag = UINT64_MAX;
constexpr uint64_t kWakeTag = UINT64_MAX - 1;
constexpr int kTickMs = 250;

// Open connections per listener when ServerLimits leaves it to the fd
// limit: the adapter has two listeners at most, and the daemon keeps 256
// fds for everything else (program pipes, logs, D-Bus): 384 each under the
// usual soft limit of 1024, 1024 each from a limit of 2304 up.
size_t connectionCap() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 1024;
    const size_t soft = size_t(rl.rlim_cur);
    return std::clamp<size_t>(soft > 256 ? (soft - 256) / 2 : 0, 16, 1024);
}

void closeSocket(int fd) {
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
}

// Drop the CR/LF some clients send between requests (RFC 7230 §3.5).
void dropBlankLines(std::string& buf) {
    const size_t n = buf.find_first_not_of("\r\n");
    buf.erase(0, n == std::string::npos ? buf.size() : n);
}

} // namespace

class HttpServer::Front {
public:
    Front(HttpServer& srv, int listenFd) : srv_(srv), lim_(srv.limits_), listenFd_(listenFd), pool_(lim_.maxThreads) {}

    void run();

    // A worker is done with `c` (its fd -1 when it closed it).
    void giveBack(std::unique_ptr<FrontConn> c) {
        {
            std::lock_guard lock(backMutex_);
            back_.push_back(std::move(c));
        }
        const uint64_t one = 1;
        [[maybe_unused]] ssize_t n = ::write(srv_.wakeFd_, &one, sizeof one);
    }

private:
    void accept();
    void evictOldest();
    void readFrom(uint64_t id);
    // Where `c` stands now that the bytes `fresh` came at the end of its
    // buffer (or a worker gave it back): handed to a worker, or waiting
    // with its deadline set.
    void advance(uint64_t id, std::unique_ptr<FrontConn>& c, std::string_view fresh);
    void dispatch(std::unique_ptr<FrontConn> c);
    void takeBack();
    void expire();
    void close(uint64_t id);

    HttpServer& srv_;
    const ServerLimits& lim_;
    int listenFd_;
    int ep_ = -1;
    uint64_t nextId_ = 0;
    // Connections waiting for bytes; `busy_` more are with workers.
    std::unordered_map<uint64_t, std::unique_ptr<FrontConn>> waiting_;
    size_t busy_ = 0;
    std::mutex backMutex_;
    std::vector<std::unique_ptr<FrontConn>> back_;
    GrowingPool pool_;
};

void HttpServer::Front::run() {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    // Accepting never blocks the loop (a connection may go away between
    // the wake-up and accept). A socket systemd passed is shared with it;
    // O_NONBLOCK is harmless there, systemd only polls it.
    ::fcntl(listenFd_, F_SETFL, ::fcntl(listenFd_, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenTag;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, listenFd_, &ev);
    ev.data.u64 = kWakeTag;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, srv_.wakeFd_, &ev);
    auto lastTick = Clock::now();
    epoll_event events[64];
    bool listening = true;
    while (listening && !srv_.stopping_.load()) {
        const int n = ::epoll_wait(ep_, events, 64, kTickMs);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; ++i) {
            const uint64_t tag = events[i].data.u64;
            if (tag == kListenTag) {
                if (events[i].events & (EPOLLERR | EPOLLHUP))
                    listening = false; // the socket is unusable: serving is over
                else
                    accept();
            } else if (tag == kWakeTag) {
                uint64_t v;
                [[maybe_unused]] ssize_t r = ::read(srv_.wakeFd_, &v, sizeof v);
            } else {
                readFrom(tag);
            }
        }
        takeBack();
        if (Clock::now() - lastTick >= std::chrono::milliseconds(kTickMs)) {
            lastTick = Clock::now();
            expire();
        }
    }
    for (auto& [id, c] : waiting_)
        closeSocket(c->fd);
    waiting_.clear();
    // Workers end their streams on stopping_; those serving a request
    // finish it first.
    pool_.shutdown();
    takeBack();
    ::close(ep_);
}

void HttpServer::Front::accept() {
    const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) {
            // Out of fds all the same (programs hold many): make room.
            if (!waiting_.empty())
                evictOldest();
            else
                ::poll(nullptr, 0, 100);
        }
        return;
    }
    // Asked at each connection: the daemon's limit may change while it runs.
    const size_t cap = lim_.maxConnections ? lim_.maxConnections : connectionCap();
    while (waiting_.size() + busy_ >= cap) {
        if (waiting_.empty()) {
            closeSocket(fd); // every connection is being answered: no room
            return;
        }
        evictOldest();
    }
    auto c = std::make_unique<FrontConn>(lim_);
    c->fd = fd;
    if (srv_.isUnix_) {
        ucred cred{};
        socklen_t len = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
            c->hasPeer = true;
            c->peer = UnixPeer{cred.pid, cred.uid, cred.gid};
        }
    }
    // A new connection has headTimeoutMs for its first request's head.
    c->since = Clock::now();
    c->deadline = c->since + std::chrono::milliseconds(lim_.headTimeoutMs);
    const uint64_t id = nextId_++;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = id;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        closeSocket(fd);
        return;
    }
    waiting_.emplace(id, std::move(c));
}

void HttpServer::Front::evictOldest() {
    auto oldest = std::min_element(waiting_.begin(), waiting_.end(),
                                   [](const auto& a, const auto& b) { return a.second->since < b.second->since; });
    close(oldest->first);
}

void HttpServer::Front::close(uint64_t id) {
    auto it = waiting_.find(id);
    if (it == waiting_.end())
        return;
    ::epoll_ctl(ep_, EPOLL_CTL_DEL, it->second->fd, nullptr);
    closeSocket(it->second->fd);
    waiting_.erase(it);
}

void HttpServer::Front::readFrom(uint64_t id) {
    auto it = waiting_.find(id);
    if (it == waiting_.end())
        return;
    FrontConn& c = *it->second;
    const size_t before = c.buf.size();
    // Never more than a head and an inline body (and a read) buffered.
    const size_t most = lim_.maxHeaderBytes + lim_.inlineBodyBytes;
    char chunk[16384];
    bool closed = false;
    while (c.buf.size() < most) {
        const ssize_t n = ::recv(c.fd, chunk, sizeof chunk, MSG_DONTWAIT);
        if (n > 0) {
            c.buf.append(chunk, size_t(n));
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        closed = !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
        break;
    }
    // A request that came in full before the peer shut its side down
    // (HTTP/1.0 clients may) is still answered.
    advance(id, it->second, std::string_view(c.buf).substr(before));
    if (closed)
        close(id); // a no-op when the request went to a worker
}

void HttpServer::Front::advance(uint64_t id, std::unique_ptr<FrontConn>& c, std::string_view fresh) {
    const auto now = Clock::now();
    if (!c->started) {
        dropBlankLines(c->buf);
        if (c->buf.empty())
            return; // still idle
        // The first byte of the next request: on a kept-alive connection
        // its head has headTimeoutMs from now (a new connection's
        // deadline runs from its accept).
        c->started = true;
        if (c->served > 0)
            c->deadline = now + std::chrono::milliseconds(lim_.headTimeoutMs);
        c->progress.reset();
        fresh = c->buf;
    }
    const auto before = c->progress.state();
    const auto p = c->progress.feed(fresh);
    if (p == RequestReader::Progress::Body && before == RequestReader::Progress::Head)
        c->deadline = now + std::chrono::milliseconds(lim_.bodyTimeoutMs);
    if (p != RequestReader::Progress::Ready)
        return;
    ::epoll_ctl(ep_, EPOLL_CTL_DEL, c->fd, nullptr);
    auto owned = std::move(c);
    waiting_.erase(id);
    dispatch(std::move(owned));
}

void HttpServer::Front::dispatch(std::unique_ptr<FrontConn> c) {
    ++busy_;
    // std::function wants a copyable callable: the connection travels as
    // a raw pointer and comes back through giveBack().
    FrontConn* raw = c.release();
    pool_.enqueue([this, raw] {
        std::unique_ptr<FrontConn> conn(raw);
        Connection info;
        info.isUnix = srv_.isUnix_;
        info.hasPeer = conn->hasPeer;
        info.peer = conn->peer;
        if (!srv_.serveReady(conn->fd, info, conn->buf, conn->served)) {
            closeSocket(conn->fd);
            conn->fd = -1;
        }
        giveBack(std::move(conn));
    });
}

void HttpServer::Front::takeBack() {
    std::vector<std::unique_ptr<FrontConn>> back;
    {
        std::lock_guard lock(backMutex_);
        back.swap(back_);
    }
    for (auto& c : back) {
        --busy_;
        if (c->fd < 0)
            continue;
        if (srv_.stopping_.load()) {
            closeSocket(c->fd);
            continue;
        }
        // Idle until a byte of the next request comes; bytes a pipelining
        // client sent already count as that byte.
        const auto now = Clock::now();
        c->since = now;
        c->deadline = now + std::chrono::milliseconds(lim_.keepAliveTimeoutMs);
        c->started = false;
        c->buf.shrink_to_fit();
        const uint64_t id = nextId_++;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = id;
        if (::epoll_ctl(ep_, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
            closeSocket(c->fd);
            continue;
        }
        auto& slot = waiting_.emplace(id, std::move(c)).first->second;
        advance(id, slot, {});
    }
}

void HttpServer::Front::expire() {
    const auto now = Clock::now();
    std::vector<uint64_t> late;
    for (const auto& [id, c] : waiting_)
        if (c->deadline <= now)
            late.push_back(id);
    for (uint64_t id : late)
        close(id);
}

bool HttpServer::serve(int listenFd, bool isUnix, bool /*inherited*/) {
    isUnix_ = isUnix;
    running_ = true;
    {
        Front front(*this, listenFd);
        front.run();
    }
    ::close(listenFd); // for an inherited socket only our copy: systemd keeps its own
    running_ = false;
    return true;
}

} // namespace scopevisor::xmlrpc
