// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The adapter's HTTP server. One epoll thread per listener (http_front.cpp)
// accepts connections, reads SO_PEERCRED once for unix sockets, and reads
// request heads (and small bodies) without blocking, within deadlines; a
// complete request goes to a bounded pool of worker threads, which answer
// it and give the connection back (idle keep-alive connections hold no
// thread). A worker reads each request with http-parser
// (http_request_reader.h), skips the blank lines some clients send after a
// request (supervisorctl's `tail -f` does), serves pipelined requests it
// already has, and answers (http_message.h) in supervisord's dispatch
// order: pre-routing (auth, /logtail, errors), then the body of a POST and
// the POST handler, then error pages and a last look at headers.
#pragma once

#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/types.h>

#include "http_message.h"
#include "scopevisor/adapter.h"

namespace scopevisor::xmlrpc {

// A connection's byte stream.
class ConnStream {
public:
    virtual ~ConnStream() = default;
    // The bytes received and not consumed yet, reading more when there are
    // none; false on timeout or close. They stay valid until consume().
    virtual bool peek(const char** data, size_t* size) = 0;
    // The first `size` bytes peek() gave are used up.
    virtual void consume(size_t size) = 0;
    // All `size` bytes, or -1.
    virtual ssize_t write(const char* ptr, size_t size) = 0;
    // The peer can take more (a log stream checks before each chunk).
    virtual bool is_writable() const = 0;
    // Wait until a request may start: buffered bytes, or the peer sent
    // something, within `timeoutMs`. False on timeout, close or stop.
    virtual bool waitForInput(int timeoutMs, const std::atomic<bool>& stopping) = 0;
    // Drop CR/LF bytes at the front of the buffered input (RFC 7230 §3.5).
    // False when nothing but blank lines came before the peer went quiet.
    virtual bool skipBlankLines(int timeoutMs, const std::atomic<bool>& stopping) = 0;
    // The peer closed or reset the connection.
    virtual bool peerGone() const = 0;
};

// A connected (non-blocking) socket. Reads wait at most readTimeoutMs each
// and never past the deadline; a write fails when the peer takes nothing
// for writeTimeoutMs, or has not taken it all within kWriteSpan of them.
class SocketStream final : public ConnStream {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr int kWriteSpan = 6;
    // `buffered`: bytes of the connection already read.
    SocketStream(int fd, bool isUnix, int readTimeoutMs, int writeTimeoutMs, std::string buffered = {});
    void setDeadline(Clock::time_point t) { deadline_ = t; }
    // The bytes read and not consumed, without reading more.
    std::string_view buffered() const { return std::string_view(buf_).substr(off_); }
    std::string takeBuffered();
    bool is_writable() const override;
    bool peek(const char** data, size_t* size) override;
    void consume(size_t size) override { off_ += size; }
    ssize_t write(const char* ptr, size_t size) override;
    bool waitForInput(int timeoutMs, const std::atomic<bool>& stopping) override;
    bool skipBlankLines(int timeoutMs, const std::atomic<bool>& stopping) override;
    bool peerGone() const override;

private:
    bool fill(int timeoutMs);
    int fd_;
    bool unix_;
    int readTimeoutMs_, writeTimeoutMs_;
    Clock::time_point deadline_ = Clock::time_point::max();
    std::string buf_;
    size_t off_ = 0;
};

// Bytes in memory: the fuzz target and the unit tests.
class MemoryStream final : public ConnStream {
public:
    // peek() gives at most `readSize` bytes at a time, as a socket gives
    // a request in as many reads as the network chose.
    explicit MemoryStream(std::string input, size_t readSize = SIZE_MAX)
        : in_(std::move(input)), readSize_(readSize ? readSize : 1) {}
    // A stream to an in-memory peer ends after a bounded number of writes
    // or checks (a log stream with nothing to say only checks).
    bool is_writable() const override { return writes_ < 256 && ++checks_ < 1000; }
    bool peek(const char** data, size_t* size) override;
    void consume(size_t size) override { pos_ += size; }
    ssize_t write(const char* ptr, size_t size) override;
    bool waitForInput(int, const std::atomic<bool>&) override { return pos_ < in_.size(); }
    bool skipBlankLines(int, const std::atomic<bool>&) override;
    bool peerGone() const override { return pos_ >= in_.size(); }
    const std::string& output() const { return out_; }

private:
    std::string in_, out_;
    size_t readSize_;
    size_t pos_ = 0;
    size_t writes_ = 0;
    mutable size_t checks_ = 0;
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
// (deferred replies, `tail -f` streams) do not hold up the others while
// the cap allows; idle workers wait for the next request.
class GrowingPool final {
public:
    explicit GrowingPool(size_t maxThreads) : max_(maxThreads) {}
    ~GrowingPool();
    void enqueue(std::function<void()> fn);
    void shutdown();

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
    // A body up to this size is read by the epoll thread with its head;
    // a bigger one by the worker, once the head was accepted.
    size_t inlineBodyBytes = 64u << 10;
    // Workers: requests being answered, deferred replies, log streams.
    size_t maxThreads = 128;
    // Open connections of the listener; 0: from RLIMIT_NOFILE (see
    // connectionCap() in http_front.cpp). When full, the connection idle
    // (or slow) the longest is closed for the new one.
    size_t maxConnections = 0;
    size_t keepAliveMaxCount = 1000;
    int keepAliveTimeoutMs = 30000;
    // A request's head must arrive within headTimeoutMs of its first byte
    // (of the connection, for a new one), its body within bodyTimeoutMs of
    // the end of the head: a client sending a byte now and then is cut.
    int headTimeoutMs = 10000;
    int bodyTimeoutMs = 30000;
    int readTimeoutMs = 30000;
    int writeTimeoutMs = 10000;
};

class RequestReader;

class HttpServer {
public:
    enum class Routed { Handled, Unhandled };
    using Handler = std::function<void(const http::Request&, http::Response&)>;

    explicit HttpServer(ServerLimits limits = {});
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Every request first; Unhandled lets a POST go on to its body.
    void setPreRouting(std::function<Routed(const http::Request&, http::Response&)> h) { preRouting_ = std::move(h); }
    // A POST left Unhandled, with its body read.
    void setPostHandler(Handler h) { post_ = std::move(h); }
    // Any answer of status >= 400, before it is written.
    void setErrorHandler(Handler h) { error_ = std::move(h); }
    // A handler threw.
    void setExceptionHandler(Handler h) { exception_ = std::move(h); }
    // Every answer, last, before it is written.
    void setPostRouting(Handler h) { postRouting_ = std::move(h); }

    // Serve an already listening socket until shutdownServer() (blocks);
    // the socket is closed when it returns. A socket systemd passed
    // (`inherited`) is never shut down: shutdownServer() wakes the loop.
    bool serve(int listenFd, bool isUnix, bool inherited = false);
    bool is_running() const { return running_.load(); }
    // Serve the requests of one connection (blocks until it ends).
    void serveConnection(ConnStream& stream, Connection& conn);
    void shutdownServer();
    // Kept for the tests and fuzz targets that serve in-memory streams
    // without a listening socket (a stream ends only on stop or a write
    // failure either way).
    void pretendListening() {}
    const std::atomic<bool>& stopping() const { return stopping_; }
    const ServerLimits& limits() const { return limits_; }

private:
    struct FrontConn;
    class Front;
    // A worker: the requests of the connection `fd` that are here in full
    // (`buf`, `served` of them answered before). True: the connection goes
    // back to the epoll thread with what is left in `buf`; false: close it.
    bool serveReady(int fd, Connection& conn, std::string& buf, size_t& served);
    // One request; false: the connection must end.
    bool processRequest(ConnStream& stream, Connection& conn, bool lastAllowed);
    bool route(ConnStream& stream, RequestReader& reader, http::Request& req, http::Response& res,
               Connection& conn);
    // Connection: close when conn.closeAfter (checked after the error handler).
    bool writeResponse(ConnStream& stream, const http::Request& req, http::Response& res, Connection& conn);
    bool writeChunks(ConnStream& stream, http::Response& res);

    ServerLimits limits_;
    std::function<Routed(const http::Request&, http::Response&)> preRouting_;
    Handler post_, error_, exception_, postRouting_;
    bool isUnix_ = false;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> running_{false};
    const int wakeFd_; // eventfd: shutdownServer() wakes the epoll thread
};

// Listening sockets as supervisord makes them. False with *error set.
// Unix: bound under a temporary name, chmod-ed, then linked into place so it
// never exists with the wrong mode; a stale socket nobody answers on is
// replaced, a live one is an error. `chown` is "user" or "user:group".
int listenUnix(const std::string& path, mode_t mode, const std::string& chown, std::string* error);
// "host:port", "port", "*:port"; empty or * host: every IPv4 interface.
int listenInet(const std::string& spec, std::string* error);

} // namespace scopevisor::xmlrpc
