// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The Khanat adapter's HTTPS front: one epoll thread does the non-blocking
// accept, the TLS handshake (OpenSSL), the reading and framing of requests
// (khanat_http_framing.h) and the writing of replies; a small pool of
// workers runs the complete requests. A connection that waits (for its
// handshake, its request, a keep-alive pause or a peer that does not read)
// costs a socket and its buffers, never a thread. Every wait has an overall
// deadline, not a per-read one, and the number of connections is capped:
// when full, the connection that has waited longest is closed to make room
// for the new one. Several servers may share one listening socket (the
// adapter runs one per core, khanat_adapter.cpp).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <openssl/ssl.h>

#include "khanat_http_framing.h"
#include "khanat_limits.h"

namespace khanat {

struct HttpReply {
    int status = 200;
    std::string contentType;
    std::string body;
    bool close = false;
    std::function<void()> afterSent; // run on the server thread once the reply is out
};

class EventServer {
public:
    // The request, and the CN of the verified client certificate.
    using Handler = std::function<HttpReply(const FramedRequest&, const std::string& peerCn)>;
    // The page for a request refused before the handler (413, 431, 400).
    using ErrorPage = std::function<HttpReply(int status, const std::string& reason)>;

    // Takes ownership of ctx (one reference) and of the listening socket,
    // which may be a dup() of another server's: each accepts in turn.
    EventServer(SSL_CTX* ctx, int listenFd, ServerLimits limits, Handler handler, ErrorPage errorPage);
    ~EventServer();
    EventServer(const EventServer&) = delete;
    EventServer& operator=(const EventServer&) = delete;

    bool start(std::string* error);
    void stop();

    // Told, at most once a minute, how many connections were closed to
    // make room or past a deadline: the sign of a flood. Set before start().
    void setReport(std::function<void(const std::string&)> report) { report_ = std::move(report); }

private:
    struct Conn;
    struct Job {
        uint64_t id;
        FramedRequest request;
        std::string peerCn;
    };
    struct Done {
        uint64_t id;
        HttpReply reply;
        bool headOnly;
        bool keepAlive;
    };

    void loop();
    void work();
    void listen(bool on);
    void acceptSome();
    void advance(Conn& c);
    void handshake(Conn& c);
    void readRequest(Conn& c);
    void dispatch(Conn& c);
    void startReply(Conn& c, HttpReply reply, bool headOnly, bool keepAlive, bool linger);
    void writeReply(Conn& c);
    void linger(Conn& c);
    // Pushes pending output; false when the connection failed.
    bool flush(Conn& c, bool* blocked);
    void collectDone();
    void expire();
    bool evictOne();
    void close(Conn& c);
    void detach(Conn& c);
    void abort(Conn& c);
    void watch(Conn& c, uint32_t events);
    void setDeadline(Conn& c, std::chrono::milliseconds in);
    void clearDeadline(Conn& c);
    void reportDrops();

    SSL_CTX* ctx_;
    int listenFd_;
    ServerLimits limits_;
    Handler handler_;
    ErrorPage errorPage_;
    int epfd_ = -1, wakeFd_ = -1;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
    std::vector<std::thread> workers_;

    // Server-thread state.
    struct Impl;
    std::unique_ptr<Impl> impl_;

    // Worker queue and the finished replies.
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<Job> jobs_;
    std::deque<Done> done_;

    // Server-thread counters since the last report.
    uint64_t evicted_ = 0, timedOut_ = 0;
    int64_t nextReportMs_ = 0;
    std::function<void(const std::string&)> report_;
};

} // namespace khanat
