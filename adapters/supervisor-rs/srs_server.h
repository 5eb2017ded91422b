// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The connections of the supervisor-rs protocol: one message (the bytes of
// one read) per connection, one reply, then close. One epoll thread accepts,
// reads and writes every connection without blocking, so an idle or slow
// client costs a few bytes and no thread; complete messages go to a small
// worker pool, whose replies come back to the epoll thread to be written.
//
// Every connection has deadlines (a message within `readDeadline` of the
// accept, else it is answered as an empty one; the reply out within
// `writeDeadline`), and the number of open
// connections is capped: when full, the oldest connection not being
// answered is closed to make room, so new clients are always heard.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace srs {

struct ServerLimits {
    size_t maxMessage = 4196; // the original's read buffer: "100 command + 4096 key"
    size_t maxConnections = 512;
    std::chrono::milliseconds readDeadline{10000};
    std::chrono::milliseconds writeDeadline{10000};
    // After the reply: how long to wait for the client to close its side
    // (closing with unread bytes would reset the connection and could drop
    // the end of a long reply).
    std::chrono::milliseconds lingerDeadline{1000};
    int workers = 2;
};

// What the handler answers to one message.
struct Answer {
    std::string reply;
    std::function<void()> afterReply; // run once the connection is finished (kill)
};

class ConnectionServer {
public:
    using Handler = std::function<Answer(const std::string& message)>;
    using Logger = std::function<void(const std::string&)>;

    // `banner` goes out at accept (encrypted mode); `tooLong` is the reply
    // to a message longer than limits.maxMessage.
    ConnectionServer(ServerLimits limits, std::string banner, std::string tooLong, Handler handler, Logger warn);
    ~ConnectionServer();
    ConnectionServer(const ConnectionServer&) = delete;
    ConnectionServer& operator=(const ConnectionServer&) = delete;

    // Serve `listenFd` (not owned) until stop().
    bool start(int listenFd, std::string* error);
    void stop();

    // The connection cap for this process: limits.maxConnections, or half
    // the soft RLIMIT_NOFILE when that is lower (the daemon's programs need
    // descriptors too).
    static size_t connectionCap(size_t wanted);

private:
    using Clock = std::chrono::steady_clock;
    enum class State { Reading, Running, Writing, Lingering };
    struct Conn {
        int fd = -1;
        State state = State::Reading;
        Clock::time_point deadline;
        std::string out; // banner, then reply
        size_t sent = 0;
        size_t drained = 0; // bytes read and dropped while lingering
        std::function<void()> afterReply;
    };
    struct Job {
        uint64_t id;
        std::string message;
    };
    struct Done {
        uint64_t id;
        Answer answer;
    };

    void loop();
    void workerLoop();
    void acceptAll();
    void onEvent(uint64_t id, uint32_t events);
    void readMessage(uint64_t id, Conn& c);
    void finishRead(uint64_t id, Conn& c, std::string message);
    void takeAnswers();
    void startReply(uint64_t id, Conn& c, std::string text);
    void flush(uint64_t id, Conn& c);
    void watch(uint64_t id, Conn& c, uint32_t events);
    void close(uint64_t id);
    bool evictOldest();
    void expire();

    ServerLimits limits_;
    std::string banner_, tooLong_;
    Handler handler_;
    Logger warn_;

    int listenFd_ = -1, epollFd_ = -1, wakeFd_ = -1;
    bool acceptPaused_ = false;
    Clock::time_point acceptResume_;
    std::atomic<bool> stopping_{false};
    std::thread loopThread_;
    std::vector<std::thread> workers_;

    // Owned by the epoll thread; ordered by id, so the first is the oldest.
    std::map<uint64_t, Conn> conns_;
    uint64_t nextId_ = 2; // 0 and 1 are the listening socket and the wake-up
    uint64_t evicted_ = 0;
    Clock::time_point lastTooLongWarn_{};

    std::mutex jobsMutex_;
    std::condition_variable jobsCv_;
    std::deque<Job> jobs_;
    std::vector<Done> done_;
};

} // namespace srs
