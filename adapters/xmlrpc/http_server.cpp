// SPDX-License-Identifier: LGPL-2.1-or-later
#include "http_server.h"

#include "http_request_reader.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include <malloc.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "scopevisor/text.h"

namespace scopevisor::xmlrpc {

namespace {

thread_local Connection* tlsConnection = nullptr;

int pollOne(int fd, short events, int timeoutMs, short* revents) {
    pollfd p{fd, events, 0};
    int r;
    do {
        r = ::poll(&p, 1, timeoutMs);
    } while (r < 0 && errno == EINTR);
    if (revents)
        *revents = r > 0 ? p.revents : 0;
    return r;
}

} // namespace

Connection* currentConnection() { return tlsConnection; }

// ---- SocketStream -----------------------------------------------------------

SocketStream::SocketStream(int fd, bool isUnix, int readTimeoutMs, int writeTimeoutMs, std::string buffered)
    : fd_(fd), unix_(isUnix), readTimeoutMs_(readTimeoutMs), writeTimeoutMs_(writeTimeoutMs),
      buf_(std::move(buffered)) {}

std::string SocketStream::takeBuffered() {
    buf_.erase(0, off_);
    off_ = 0;
    return std::move(buf_);
}

bool SocketStream::fill(int timeoutMs) {
    if (off_ < buf_.size())
        return true;
    for (;;) {
        // The deadline bounds the whole request, however the peer spreads
        // its bytes: one every readTimeoutMs would otherwise go on forever.
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
        if (left <= 0)
            return false;
        short rev = 0;
        if (pollOne(fd_, POLLIN, int(std::min<long long>(left, timeoutMs)), &rev) <= 0)
            return false;
        buf_.resize(16384);
        off_ = 0;
        ssize_t n;
        do {
            n = ::recv(fd_, buf_.data(), buf_.size(), MSG_DONTWAIT);
        } while (n < 0 && errno == EINTR);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            buf_.clear();
            continue;
        }
        if (n <= 0) {
            buf_.clear();
            return false;
        }
        buf_.resize(size_t(n));
        return true;
    }
}

bool SocketStream::is_writable() const {
    short rev = 0;
    return pollOne(fd_, POLLOUT, writeTimeoutMs_, &rev) > 0 && !(rev & (POLLERR | POLLHUP)) && !peerGone();
}

bool SocketStream::peek(const char** data, size_t* size) {
    if (!fill(readTimeoutMs_))
        return false;
    *data = buf_.data() + off_;
    *size = buf_.size() - off_;
    return true;
}

ssize_t SocketStream::write(const char* ptr, size_t size) {
    // A peer that reads a byte now and then must not hold a worker for
    // good: the whole write has kWriteSpan stall timeouts at most.
    const auto end = Clock::now() + std::chrono::milliseconds(writeTimeoutMs_) * kWriteSpan;
    size_t done = 0;
    while (done < size) {
        ssize_t n = ::send(fd_, ptr + done, size - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            done += size_t(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
            short rev = 0;
            if (left <= 0 || pollOne(fd_, POLLOUT, int(std::min<long long>(left, writeTimeoutMs_)), &rev) <= 0 ||
                (rev & (POLLERR | POLLHUP)))
                return -1;
            continue;
        }
        return -1;
    }
    return ssize_t(size);
}

bool SocketStream::waitForInput(int timeoutMs, const std::atomic<bool>& stopping) {
    // Wake up now and then to notice a server stop.
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (!stopping.load()) {
        if (off_ < buf_.size())
            return true;
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count();
        if (left <= 0)
            return false;
        if (fill(int(std::min<long long>(left, 200))))
            return true;
        if (peerGone())
            return false;
    }
    return false;
}

bool SocketStream::skipBlankLines(int timeoutMs, const std::atomic<bool>& stopping) {
    for (;;) {
        while (off_ < buf_.size() && (buf_[off_] == '\r' || buf_[off_] == '\n'))
            ++off_;
        if (off_ < buf_.size())
            return true;
        if (!waitForInput(timeoutMs, stopping))
            return false;
    }
}

bool SocketStream::peerGone() const {
    short rev = 0;
    if (pollOne(fd_, POLLRDHUP, 0, &rev) < 0)
        return true;
    return rev & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL);
}

// ---- MemoryStream -------------------------------------------------------------

bool MemoryStream::peek(const char** data, size_t* size) {
    if (pos_ >= in_.size())
        return false;
    *data = in_.data() + pos_;
    *size = std::min(in_.size() - pos_, readSize_);
    return true;
}

ssize_t MemoryStream::write(const char* ptr, size_t size) {
    if (out_.size() > (64u << 20))
        return -1;
    out_.append(ptr, size);
    ++writes_;
    return ssize_t(size);
}

bool MemoryStream::skipBlankLines(int, const std::atomic<bool>&) {
    while (pos_ < in_.size() && (in_[pos_] == '\r' || in_[pos_] == '\n'))
        ++pos_;
    return pos_ < in_.size();
}

// ---- GrowingPool ----------------------------------------------------------------

GrowingPool::~GrowingPool() { shutdown(); }

void GrowingPool::enqueue(std::function<void()> fn) {
    std::unique_lock lock(m_);
    jobs_.push_back(std::move(fn));
    // A worker counts as idle until it has woken up and taken its job, so
    // "some worker is idle" is not enough: two connections accepted in a
    // row would both go to the one idle worker, and the second would wait
    // for the first (a deferred reply: seconds). Each queued job needs an
    // idle worker of its own.
    if (jobs_.size() > idle_ && threads_.size() < max_)
        threads_.emplace_back([this] { work(); });
    else
        cv_.notify_one();
}

void GrowingPool::work() {
    std::unique_lock lock(m_);
    for (;;) {
        ++idle_;
        cv_.wait(lock, [this] { return !jobs_.empty() || shutdown_; });
        --idle_;
        if (jobs_.empty())
            return; // shut down
        auto fn = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        fn();
        lock.lock();
    }
}

void GrowingPool::shutdown() {
    std::vector<std::thread> ts;
    {
        std::lock_guard lock(m_);
        shutdown_ = true;
        ts.swap(threads_);
    }
    cv_.notify_all();
    for (auto& t : ts)
        if (t.joinable())
            t.join();
}

// ---- HttpServer -------------------------------------------------------------------

namespace {

bool sameWord(const std::string& a, std::string_view b) { return equalsIgnoreCase(a, b); }

} // namespace

HttpServer::HttpServer(ServerLimits limits)
    : limits_(limits), wakeFd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

HttpServer::~HttpServer() {
    shutdownServer();
    if (wakeFd_ >= 0)
        ::close(wakeFd_);
}

void HttpServer::shutdownServer() {
    stopping_ = true;
    // The epoll thread wakes up on its eventfd; the listening socket is
    // left as it is (one systemd passed stays usable for the next daemon).
    if (const int fd = wakeFd_; fd >= 0) {
        const uint64_t one = 1;
        [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
    }
}

void HttpServer::serveConnection(ConnStream& stream, Connection& conn) {
    conn.stream = &stream;
    tlsConnection = &conn;
    size_t count = limits_.keepAliveMaxCount;
    while (count > 0 && !stopping_.load()) {
        if (!stream.waitForInput(limits_.keepAliveTimeoutMs, stopping_))
            break;
        if (!stream.skipBlankLines(limits_.keepAliveTimeoutMs, stopping_))
            break;
        conn.closeAfter = false;
        conn.bigReply = false;
        conn.user.clear();
        const bool keep = processRequest(stream, conn, count == 1);
        // A large reply (getAllProcessInfo of a thousand programs is over a
        // megabyte) leaves its memory in this thread's malloc arena, which
        // would keep it for good: hand it back to the system.
        if (conn.bigReply)
            malloc_trim(0);
        if (!keep)
            break;
        --count;
    }
    tlsConnection = nullptr;
}

bool HttpServer::serveReady(int fd, Connection& conn, std::string& buf, size_t& served) {
    SocketStream stream(fd, isUnix_, limits_.readTimeoutMs, limits_.writeTimeoutMs, std::move(buf));
    conn.stream = &stream;
    bool keep = false;
    try {
        for (;;) {
            // What the worker still reads (a body over inlineBodyBytes) has
            // bodyTimeoutMs.
            stream.setDeadline(SocketStream::Clock::now() + std::chrono::milliseconds(limits_.bodyTimeoutMs));
            stream.skipBlankLines(0, stopping_);
            conn.closeAfter = false;
            conn.bigReply = false;
            conn.user.clear();
            tlsConnection = &conn;
            ++served;
            keep = processRequest(stream, conn, served >= limits_.keepAliveMaxCount);
            tlsConnection = nullptr;
            // A large reply (getAllProcessInfo of a thousand programs is
            // over a megabyte) leaves its memory in this thread's malloc
            // arena, which would keep it for good: give it back.
            if (conn.bigReply)
                malloc_trim(0);
            if (!keep || stopping_.load())
                break;
            // A pipelined request already here in full is answered now;
            // anything less waits in the epoll thread, not here.
            std::string_view rest = stream.buffered();
            rest.remove_prefix(std::min(rest.size(), rest.find_first_not_of("\r\n")));
            if (rest.empty() || RequestReader::progress(rest, limits_.maxHeaderBytes, limits_.inlineBodyBytes) !=
                                    RequestReader::Progress::Ready)
                break;
        }
    } catch (...) {
        // A failure while answering (out of memory, say) ends this
        // connection, not the daemon.
        tlsConnection = nullptr;
        keep = false;
    }
    if (!keep || stopping_.load())
        return false;
    buf = stream.takeBuffered();
    return true;
}

bool HttpServer::processRequest(ConnStream& stream, Connection& conn, bool lastAllowed) {
    http::Request req;
    http::Response res;
    RequestReader reader(stream, req, limits_.maxHeaderBytes);
    if (const int refused = reader.readHead(); refused != 0) {
        if (refused < 0)
            return false; // the peer went away between requests
        res.status = refused;
        conn.closeAfter = true;
        writeResponse(stream, req, res, conn);
        return false;
    }
    if (lastAllowed || !reader.keepAlive())
        conn.closeAfter = true;

    bool routed;
    try {
        routed = route(stream, reader, req, res, conn);
    } catch (...) {
        res.body.clear();
        res.provider = nullptr;
        if (exception_)
            exception_(req, res);
        else
            res.status = 500;
        routed = true;
    }
    // A body nobody read (a GET with one, a POST refused on its head)
    // leaves the connection in the middle of a request: it ends after the
    // answer.
    if (!reader.complete())
        conn.closeAfter = true;
    if (res.status == -1)
        res.status = routed ? 200 : 404;
    return writeResponse(stream, req, res, conn) && !conn.closeAfter;
}

bool HttpServer::route(ConnStream& stream, RequestReader& reader, http::Request& req, http::Response& res,
                       Connection& conn) {
    if (preRouting_ && preRouting_(req, res) == Routed::Handled)
        return true;
    if (req.method != "POST" || !post_)
        return false;
    // supervisord reads a request body by its Content-Length only; a
    // chunked request body is refused rather than half understood.
    if (reader.chunked() || !reader.hasLength()) {
        res.status = reader.chunked() ? 400 : 411;
        conn.closeAfter = true;
        return true;
    }
    if (reader.length() > limits_.maxBodyBytes) {
        res.status = 413;
        conn.closeAfter = true;
        return true;
    }
    if (sameWord(req.header("Expect"), "100-continue")) {
        static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (stream.write(kContinue, sizeof kContinue - 1) < 0)
            return false;
    }
    if (!reader.readBody()) {
        res.status = 400; // the body ended early
        conn.closeAfter = true;
        return true;
    }
    post_(req, res);
    return true;
}

bool HttpServer::writeResponse(ConnStream& stream, const http::Request& req, http::Response& res,
                               Connection& conn) {
    if (res.status >= 400 && error_)
        error_(req, res);
    if (conn.closeAfter) {
        res.headers.erase("Keep-Alive");
        res.setHeader("Connection", "close");
    } else {
        res.setHeader("Keep-Alive", "timeout=" + std::to_string(limits_.keepAliveTimeoutMs / 1000) +
                                        ", max=" + std::to_string(limits_.keepAliveMaxCount));
    }
    if (!res.hasHeader("Content-Type") && (!res.body.empty() || res.provider))
        res.setHeader("Content-Type", "text/plain");
    if (res.provider)
        res.setHeader("Transfer-Encoding", "chunked");
    else
        res.setHeader("Content-Length", std::to_string(res.body.size()));
    if (postRouting_)
        postRouting_(req, res);

    std::string head = "HTTP/1.1 " + std::to_string(res.status) + " " + http::statusText(res.status) + "\r\n";
    for (const auto& [name, value] : res.headers)
        head += name + ": " + value + "\r\n";
    head += "\r\n";
    const bool withBody = req.method != "HEAD";
    // Small answers go out in one write; a big body is not copied.
    if (withBody && !res.provider && res.body.size() <= (64u << 10)) {
        head += res.body;
        return stream.write(head.data(), head.size()) >= 0;
    }
    if (stream.write(head.data(), head.size()) < 0)
        return false;
    if (!withBody)
        return true;
    if (res.provider)
        return writeChunks(stream, res);
    return stream.write(res.body.data(), res.body.size()) >= 0;
}

// A stream ends when its provider says so, the client goes away or the
// server stops; either way the connection ends with it.
bool HttpServer::writeChunks(ConnStream& stream, http::Response& res) {
    bool ok = true;
    http::DataSink sink;
    sink.write = [&](const char* data, size_t n) {
        if (!ok)
            return false;
        if (n == 0)
            return true;
        char size[32];
        const int len = std::snprintf(size, sizeof size, "%zx\r\n", n);
        std::string chunk(size, size_t(len));
        chunk.append(data, n);
        chunk += "\r\n";
        ok = stream.write(chunk.data(), chunk.size()) >= 0;
        return ok;
    };
    sink.isWritable = [&] { return ok && stream.is_writable(); };
    while (ok && !stopping_.load() && stream.is_writable() && res.provider(sink)) {
    }
    return false;
}

} // namespace scopevisor::xmlrpc
