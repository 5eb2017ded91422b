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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

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

SocketStream::SocketStream(int fd, bool isUnix, int readTimeoutMs, int writeTimeoutMs)
    : fd_(fd), unix_(isUnix), readTimeoutMs_(readTimeoutMs), writeTimeoutMs_(writeTimeoutMs) {}

bool SocketStream::fill(int timeoutMs) {
    if (off_ < buf_.size())
        return true;
    short rev = 0;
    if (pollOne(fd_, POLLIN, timeoutMs, &rev) <= 0)
        return false;
    buf_.resize(16384);
    off_ = 0;
    ssize_t n;
    do {
        n = ::recv(fd_, buf_.data(), buf_.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        buf_.clear();
        return false;
    }
    buf_.resize(size_t(n));
    return true;
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
            short rev = 0;
            if (pollOne(fd_, POLLOUT, writeTimeoutMs_, &rev) <= 0 || (rev & (POLLERR | POLLHUP)))
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

bool sameWord(const std::string& a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

// A socket systemd passed is never shut down (see shutdownServer), so the
// accept loop polls it more often to notice a stop soon.
constexpr int kInheritedPollMs = 100;

} // namespace

HttpServer::HttpServer(ServerLimits limits) : limits_(limits) {}

HttpServer::~HttpServer() { shutdownServer(); }

bool HttpServer::serve(int listenFd, bool isUnix, bool inherited) {
    isUnix_ = isUnix;
    inherited_ = inherited;
    listenFd_ = listenFd;
    running_ = true;
    GrowingPool pool(limits_.maxThreads);
    while (!stopping_.load()) {
        // Wake up now and then to notice a stop.
        short rev = 0;
        const int r = pollOne(listenFd, POLLIN, inherited ? kInheritedPollMs : 500, &rev);
        if (r < 0)
            break; // the socket is unusable: serving is over
        if (r == 0)
            continue;
        int fd = ::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                ::poll(nullptr, 0, 100); // out of fds: let connections end before trying again
            continue;
        }
        pool.enqueue([this, fd] { serveSocket(fd); });
    }
    pool.shutdown();
    listenFd_ = -1;
    ::close(listenFd); // for an inherited socket only our copy: systemd keeps its own
    running_ = false;
    return true;
}

void HttpServer::shutdownServer() {
    stopping_ = true;
    // A listening socket shut down wakes the accept loop at once. Not one
    // systemd passed: that would break it for systemd, which listens on it
    // again for the next daemon ("Got POLLHUP on a listening socket").
    if (int fd = listenFd_.load(); fd >= 0 && !inherited_)
        ::shutdown(fd, SHUT_RDWR);
}

void HttpServer::serveSocket(int sock) {
    Connection conn;
    conn.isUnix = isUnix_;
    if (isUnix_) {
        ucred cred{};
        socklen_t len = sizeof cred;
        if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
            conn.hasPeer = true;
            conn.peer = UnixPeer{cred.pid, cred.uid, cred.gid};
        }
    }
    SocketStream stream(sock, isUnix_, limits_.readTimeoutMs, limits_.writeTimeoutMs);
    try {
        serveConnection(stream, conn);
    } catch (...) {
        // A failure while streaming a reply (out of memory, say) ends this
        // connection, not the daemon.
        tlsConnection = nullptr;
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
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

// ---- listening sockets ----------------------------------------------------------------

namespace {

std::string errnoText(int e) { return std::strerror(e); }

bool fillUnixAddr(const std::string& path, sockaddr_un* addr, std::string* error) {
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    if (path.size() >= sizeof addr->sun_path) {
        *error = "socket path too long: " + path;
        return false;
    }
    memcpy(addr->sun_path, path.c_str(), path.size() + 1);
    return true;
}

// Someone answers on `path`?
bool socketInUse(const std::string& path) {
    sockaddr_un addr;
    std::string err;
    if (!fillUnixAddr(path, &addr, &err))
        return false;
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    const bool used = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return used;
}

bool resolveOwner(const std::string& spec, uid_t* uid, gid_t* gid, std::string* error) {
    std::string user = spec, group;
    if (auto c = spec.find(':'); c != std::string::npos) {
        user = spec.substr(0, c);
        group = spec.substr(c + 1);
    }
    char buf[16384];
    struct passwd pw, *pres = nullptr;
    if (getpwnam_r(user.c_str(), &pw, buf, sizeof buf, &pres) == 0 && pres) {
        *uid = pres->pw_uid;
        *gid = pres->pw_gid;
    } else if (!user.empty() && user.find_first_not_of("0123456789") == std::string::npos) {
        *uid = uid_t(std::stoul(user));
        *gid = gid_t(-1);
    } else {
        *error = "chown: no such user '" + user + "'";
        return false;
    }
    if (!group.empty()) {
        struct group gr, *gres = nullptr;
        if (getgrnam_r(group.c_str(), &gr, buf, sizeof buf, &gres) == 0 && gres)
            *gid = gres->gr_gid;
        else if (group.find_first_not_of("0123456789") == std::string::npos)
            *gid = gid_t(std::stoul(group));
        else {
            *error = "chown: no such group '" + group + "'";
            return false;
        }
    }
    return true;
}

} // namespace

int listenUnix(const std::string& path, mode_t mode, const std::string& chown, std::string* error) {
    sockaddr_un addr;
    const std::string tmp = path + "." + std::to_string(getpid());
    if (!fillUnixAddr(tmp, &addr, error))
        return -1;
    struct stat st;
    if (lstat(path.c_str(), &st) == 0) {
        if (socketInUse(path)) {
            *error = "another program is already listening on " + path +
                     " (shut it down first, or choose another [unix_http_server] file)";
            return -1;
        }
        if (unlink(path.c_str()) != 0 && errno != ENOENT) {
            *error = "cannot remove the stale socket " + path + ": " + errnoText(errno);
            return -1;
        }
    }
    uid_t uid = uid_t(-1);
    gid_t gid = gid_t(-1);
    if (!chown.empty() && !resolveOwner(chown, &uid, &gid, error))
        return -1;
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *error = "socket: " + errnoText(errno);
        return -1;
    }
    unlink(tmp.c_str());
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        *error = "cannot bind " + tmp + ": " + errnoText(errno);
        ::close(fd);
        return -1;
    }
    auto fail = [&](const std::string& what) {
        *error = what + ": " + errnoText(errno);
        unlink(tmp.c_str());
        ::close(fd);
        return -1;
    };
    if (chmod(tmp.c_str(), mode) != 0)
        return fail("chmod " + tmp);
    if (::listen(fd, 1024) != 0)
        return fail("listen on " + tmp);
    if (link(tmp.c_str(), path.c_str()) != 0)
        return fail("cannot link " + tmp + " to " + path);
    unlink(tmp.c_str());
    if (!chown.empty() && lchown(path.c_str(), uid, gid) != 0) {
        *error = "chown " + path + " to " + chown + ": " + errnoText(errno);
        unlink(path.c_str());
        ::close(fd);
        return -1;
    }
    return fd;
}

int listenInet(const std::string& spec, std::string* error) {
    std::string host, port = spec;
    if (auto c = spec.rfind(':'); c != std::string::npos) {
        host = spec.substr(0, c);
        port = spec.substr(c + 1);
    }
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    if (host == "*")
        host.clear();
    if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535) {
        *error = "invalid port '" + spec + "'";
        return -1;
    }
    addrinfo hints{};
    hints.ai_family = host.empty() ? AF_INET : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0) {
        *error = "cannot resolve '" + host + "': " + gai_strerror(rc);
        return -1;
    }
    int fd = -1;
    std::string lastErr;
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            lastErr = errnoText(errno);
            continue;
        }
        int yes = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 1024) == 0)
            break;
        lastErr = errnoText(errno);
        ::close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        *error = "cannot listen on " + spec + ": " + lastErr;
    return fd;
}

} // namespace scopevisor::xmlrpc
