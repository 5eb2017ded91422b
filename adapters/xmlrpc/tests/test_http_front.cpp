// SPDX-License-Identifier: LGPL-2.1-or-later
// The server's epoll front on a real loopback socket: how far a request has
// come, deadlines for slow clients, the connection cap and its eviction.
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_request_reader.h"
#include "http_server.h"

using namespace scopevisor::xmlrpc;
using Progress = RequestReader::Progress;
using namespace std::chrono_literals;

TEST(RequestProgress, HeadBodyReady) {
    auto p = [](std::string_view b) { return RequestReader::progress(b, 1024, 100); };
    EXPECT_EQ(p("GET / HTTP/1.1\r\nHost: x\r\n"), Progress::Head);
    EXPECT_EQ(p("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Progress::Ready);
    EXPECT_EQ(p("POST /RPC2 HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"), Progress::Body);
    EXPECT_EQ(p("POST /RPC2 HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde"), Progress::Ready);
    // Not read ahead: a body over the inline size, chunked, or awaited.
    EXPECT_EQ(p("POST /RPC2 HTTP/1.1\r\nContent-Length: 500\r\n\r\n"), Progress::Ready);
    EXPECT_EQ(p("POST /RPC2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), Progress::Ready);
    EXPECT_EQ(p("POST /RPC2 HTTP/1.1\r\nexpect: 100-continue\r\nContent-Length: 5\r\n\r\n"), Progress::Ready);
    // Garbage, and a head over its limit, go to a worker to be refused.
    EXPECT_EQ(p("\x01\x02 nonsense\r\n"), Progress::Ready);
    EXPECT_EQ(p("GET / HTTP/1.1\r\nX: " + std::string(2000, 'a')), Progress::Ready);
}

TEST(RequestProgress, FedAByteAtATimeAsWhole) {
    for (std::string req : {"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
                            "POST /RPC2 HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde",
                            "POST /RPC2 HTTP/1.1\r\nEXPECT: 100-continue\r\nContent-Length: 5\r\n\r\n"}) {
        RequestProgress p(1024, 100);
        for (size_t i = 0; i + 1 < req.size(); ++i)
            ASSERT_NE(p.feed(req.substr(i, 1)), Progress::Ready) << req << " at " << i;
        EXPECT_EQ(p.feed(req.substr(req.size() - 1)), Progress::Ready) << req;
        p.reset();
        EXPECT_EQ(p.feed("GET"), Progress::Head);
    }
    // A head dribbled past its limit is handed over to be refused.
    RequestProgress p(64, 100);
    Progress last = Progress::Head;
    std::string head = "GET / HTTP/1.1\r\nX: " + std::string(100, 'a');
    for (char c : head)
        last = p.feed(std::string_view(&c, 1));
    EXPECT_EQ(last, Progress::Ready);
}

namespace {

struct Front : ::testing::Test {
    HttpServer* srv = nullptr;
    std::thread thread;
    int port = 0;

    void start(ServerLimits limits) {
        std::string err;
        int fd = listenInet("127.0.0.1:0", &err);
        ASSERT_GE(fd, 0) << err;
        sockaddr_in a{};
        socklen_t len = sizeof a;
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
        srv = new HttpServer(limits);
        srv->setPreRouting([](const http::Request&, http::Response& res) {
            res.status = 200;
            res.setContent("hi", "text/plain");
            return HttpServer::Routed::Handled;
        });
        thread = std::thread([this, fd] { srv->serve(fd, false); });
        while (!srv->is_running())
            std::this_thread::sleep_for(1ms);
    }
    void TearDown() override {
        if (srv) {
            srv->shutdownServer();
            thread.join();
            delete srv;
        }
    }
    int connectOne() const {
        int s = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(uint16_t(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        timeval tv{5, 0};
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        return s;
    }
    // What the server sent before closing or going quiet for 5 s.
    static std::string readSome(int s) {
        char buf[4096];
        ssize_t n = ::recv(s, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, size_t(n)) : std::string();
    }
    static void send(int s, const std::string& data) { ASSERT_EQ(::send(s, data.data(), data.size(), 0), ssize_t(data.size())); }
};

} // namespace

TEST_F(Front, KeepAliveAndPipeliningAcrossTheFront) {
    start({});
    int s = connectOne();
    send(s, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
    std::string out;
    while (out.find("hi", out.find("hi") + 1) == std::string::npos) {
        std::string more = readSome(s);
        ASSERT_FALSE(more.empty()) << out;
        out += more;
    }
    // Idle between requests (held by no worker), then one more.
    std::this_thread::sleep_for(300ms);
    send(s, "GET /c HTTP/1.1\r\n\r\n");
    EXPECT_EQ(readSome(s).rfind("HTTP/1.1 200", 0), 0u);
    ::close(s);
}

TEST_F(Front, ASlowHeadIsCutAtItsDeadline) {
    ServerLimits l;
    l.headTimeoutMs = 300;
    start(l);
    int s = connectOne();
    const auto t0 = std::chrono::steady_clock::now();
    for (char c : std::string("GET / HTTP/1.1\r\nHost: x\r\n")) {
        if (::send(s, &c, 1, MSG_NOSIGNAL) != 1)
            break;
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(readSome(s), ""); // closed without an answer
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
    ::close(s);
}

TEST_F(Front, AFullListenerClosesTheLongestWaitingConnection) {
    ServerLimits l;
    l.maxConnections = 4;
    start(l);
    int idle[4];
    for (int& s : idle) {
        s = connectOne();
        std::this_thread::sleep_for(20ms);
    }
    int fresh = connectOne();
    send(fresh, "GET / HTTP/1.1\r\n\r\n");
    EXPECT_EQ(readSome(fresh).rfind("HTTP/1.1 200", 0), 0u);
    EXPECT_EQ(readSome(idle[0]), ""); // the oldest made room
    send(idle[3], "GET / HTTP/1.1\r\n\r\n");
    EXPECT_EQ(readSome(idle[3]).rfind("HTTP/1.1 200", 0), 0u);
    for (int s : idle)
        ::close(s);
    ::close(fresh);
}

TEST_F(Front, ARequestFollowedByTheClientsShutdownIsAnswered) {
    start({});
    int s = connectOne();
    send(s, "GET / HTTP/1.0\r\n\r\n");
    ::shutdown(s, SHUT_WR);
    EXPECT_EQ(readSome(s).rfind("HTTP/1.1 200", 0), 0u);
    ::close(s);
}
