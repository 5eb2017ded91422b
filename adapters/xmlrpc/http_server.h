// SPDX-License-Identifier: LGPL-2.1-or-later
//
// cpp-httplib's request parsing and response writing, driven by our own
// connection loop. httplib's Server reads each request of a keep-alive
// connection through a fresh stream (bytes already buffered are lost, so
// pipelined requests break), cannot tell who is on the other end of a unix
// socket and never skips the blank lines some clients send after a request
// (supervisorctl's `tail -f` does). Our loop keeps one buffered stream per
// connection, reads SO_PEERCRED once, skips leading blank lines, and hands
// each request to httplib's process_request.
#pragma once

#include <atomic>
#include <climits>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "scopevisor/adapter.h"

namespace scopevisor::xmlrpc {

// A connection's byte stream, with what our loop needs beyond httplib's.
class ConnStream : public httplib::Stream {
public:
    // Wait until a request may start: buffered bytes, or the peer sent
    // something, within `timeoutMs`. False on timeout, close or stop.
    virtual bool waitForInput(int timeoutMs, const std::atomic<bool>& stopping) = 0;
    // Drop CR/LF bytes at the front of the buffered input (RFC 7230 §3.5).
    // False when nothing but blank lines came before the peer went quiet.
    virtual bool skipBlankLines(int timeoutMs, const std::atomic<bool>& stopping) = 0;
    // The peer closed or reset the connection.
    virtual bool peerGone() const = 0;
    // A cap on the bytes read for the next request (headers and body).
    virtual void setReadBudget(size_t bytes) = 0;
};

// A connected socket.
class SocketStream final : public ConnStream {
public:
    SocketStream(int fd, bool isUnix, int readTimeoutMs, int writeTimeoutMs);
    bool is_readable() const override;
    bool is_writable() const override;
    ssize_t read(char* ptr, size_t size) override;
    ssize_t write(const char* ptr, size_t size) override;
    void get_remote_ip_and_port(std::string& ip, int& port) const override;
    void get_local_ip_and_port(std::string& ip, int& port) const override;
    socket_t socket() const override { return fd_; }
    bool waitForInput(int timeoutMs, const std::atomic<bool>& stopping) override;
    bool skipBlankLines(int timeoutMs, const std::atomic<bool>& stopping) override;
    bool peerGone() const override;
    void setReadBudget(size_t bytes) override { budget_ = bytes; }

private:
    bool fill(int timeoutMs);
    int fd_;
    bool unix_;
    int readTimeoutMs_, writeTimeoutMs_;
    std::string buf_;
    size_t off_ = 0;
    size_t budget_ = SIZE_MAX;
};

// Bytes in memory: the fuzz target and the unit tests.
class MemoryStream final : public ConnStream {
public:
    explicit MemoryStream(std::string input) : in_(std::move(input)) {}
    bool is_readable() const override { return pos_ < in_.size(); }
    // A stream to an in-memory peer ends after a bounded number of writes
    // or checks (a log stream with nothing to say only checks).
    bool is_writable() const override { return writes_ < 256 && ++checks_ < 1000; }
    ssize_t read(char* ptr, size_t size) override;
    ssize_t write(const char* ptr, size_t size) override;
    void get_remote_ip_and_port(std::string& ip, int& port) const override { ip = "127.0.0.1", port = 1; }
    void get_local_ip_and_port(std::string& ip, int& port) const override { ip = "127.0.0.1", port = 2; }
    socket_t socket() const override { return -1; }
    bool waitForInput(int, const std::atomic<bool>&) override { return pos_ < in_.size(); }
    bool skipBlankLines(int, const std::atomic<bool>&) override;
    bool peerGone() const override { return pos_ >= in_.size(); }
    void setReadBudget(size_t bytes) override { budget_ = bytes; }
    const std::string& output() const { return out_; }

private:
    std::string in_, out_;
    size_t pos_ = 0;
    size_t writes_ = 0;
    mutable size_t checks_ = 0;
    size_t budget_ = SIZE_MAX;
};

// What a request handler knows about its connection.
struct Connection {
    bool isUnix = false;
    bool hasPeer = false;
    UnixPeer peer;
    ConnStream* stream = nullptr;
    // Per request:
    bool closeAfter = false;  // answer with Connection: close, then close
    bool bigReply = false;    // give freed memory back once the reply is out
    std::string user;         // the basic-auth user of this request
};
// The connection being served by the calling thread (nullptr elsewhere).
Connection* currentConnection();

// Worker threads created on demand (up to a cap), so that long requests
// (deferred replies, `tail -f` streams) never starve new connections; idle
// workers wait for the next connection.
class GrowingPool final : public httplib::TaskQueue {
public:
    explicit GrowingPool(size_t maxThreads) : max_(maxThreads) {}
    ~GrowingPool() override;
    void enqueue(std::function<void()> fn) override;
    void shutdown() override;

private:
    void work();
    size_t max_;
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    std::vector<std::thread> threads_;
    size_t idle_ = 0;
    bool shutdown_ = false;
};

struct ServerLimits {
    size_t maxBodyBytes = 8u << 20;
    size_t maxHeaderBytes = 64u << 10;
    size_t maxThreads = 512;
    size_t keepAliveMaxCount = 1000;
    int keepAliveTimeoutMs = 30000;
    int readTimeoutMs = 30000;
    int writeTimeoutMs = 30000;
};

class HttpServer : public httplib::Server {
public:
    explicit HttpServer(ServerLimits limits = {});
    // Serve an already listening socket until stop() (blocks). A socket
    // systemd passed (`inherited`) is never shut down: that would break it
    // for systemd, which listens on it again for the next daemon
    // ("Got POLLHUP on a listening socket"); shutdownServer() then only
    // lets go of it, and the accept loop notices within kInheritedPollMs.
    bool serve(int listenFd, bool isUnix, bool inherited = false);
    // Serve the requests of one connection (blocks until it ends).
    void serveConnection(ConnStream& stream, Connection& conn);
    void shutdownServer();
    // For serveConnection() on in-memory streams without a listening
    // socket: httplib ends response streams when it sees none.
    void pretendListening() { svr_sock_ = INT_MAX; }
    const std::atomic<bool>& stopping() const { return stopping_; }
    const ServerLimits& limits() const { return limits_; }

private:
    bool process_and_close_socket(socket_t sock) override;
    ServerLimits limits_;
    bool isUnix_ = false;
    bool inherited_ = false;
    std::atomic<bool> stopping_{false};
};

// Listening sockets as supervisord makes them. False with *error set.
// Unix: bound under a temporary name, chmod-ed, then linked into place so it
// never exists with the wrong mode; a stale socket nobody answers on is
// replaced, a live one is an error. `chown` is "user" or "user:group".
int listenUnix(const std::string& path, mode_t mode, const std::string& chown, std::string* error);
// "host:port", "port", "*:port"; empty or * host: every IPv4 interface.
int listenInet(const std::string& spec, std::string* error);

} // namespace scopevisor::xmlrpc
