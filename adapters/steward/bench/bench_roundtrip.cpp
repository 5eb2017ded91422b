// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Round trips of REQCliCommand ["true"] between two Steward nodes on one
// nats-server: this program is the node "bench" (the adapter's own NATS
// code), a real scopevisord with the steward adapter is the node "ship1".
// Each round trip is: publish + ACK, ship1 runs `true`, its reply
// (REQToFileAppend) + our ACK. Prints messages per second and p50/p99
// latency, first one at a time, then with several requests in flight.
//
//   SCOPEVISORD=build/daemon/scopevisord NATS_SERVER=/usr/sbin/nats-server
//   build/adapters/steward/bench/steward_bench_roundtrip [count] [window]
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "message.h"
#include "nats_link.h"

using namespace steward;
using Clock = std::chrono::steady_clock;

namespace {

int freePort() {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t l = sizeof a;
    getsockname(s, reinterpret_cast<sockaddr*>(&a), &l);
    close(s);
    return ntohs(a.sin_port);
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& log) {
    pid_t pid = fork();
    if (pid == 0) {
        FILE* f = fopen(log.c_str(), "w");
        if (f) {
            dup2(fileno(f), 2);
            dup2(fileno(f), 1);
        }
        std::vector<char*> a;
        for (auto& s : argv)
            a.push_back(const_cast<char*>(s.c_str()));
        a.push_back(nullptr);
        execv(a[0], a.data());
        _exit(127);
    }
    return pid;
}

void stopChild(pid_t pid) {
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
}

struct Collector {
    std::mutex mu;
    std::condition_variable cv;
    std::map<int64_t, Clock::time_point> sent;
    std::vector<double> latenciesMs;
    size_t done = 0;
    bool hello = false;
};

double pct(std::vector<double> v, double p) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

} // namespace

int main(int argc, char** argv) {
    const char* daemon = getenv("SCOPEVISORD");
    const char* natsServer = getenv("NATS_SERVER");
    if (!daemon || !natsServer) {
        fprintf(stderr, "set SCOPEVISORD and NATS_SERVER\n");
        return 2;
    }
    const size_t count = argc > 1 ? std::stoul(argv[1]) : 2000;
    const size_t window = argc > 2 ? std::stoul(argv[2]) : 16;

    char tmpl[] = "/tmp/steward-bench-XXXXXX";
    std::string dir = mkdtemp(tmpl);
    const int port = freePort();
    const std::string addr = "127.0.0.1:" + std::to_string(port);
    std::ofstream(dir + "/nats.conf") << "listen: " << addr << "\n";
    pid_t nats = spawn({natsServer, "-c", dir + "/nats.conf"}, dir + "/nats.log");
    std::ofstream(dir + "/node.conf") << "[supervisord]\nchildlogdir = " << dir << "\n[scopevisord]\nstate_dir = "
                                      << dir << "/state\n[adapter:steward]\nnode_name = ship1\n"
                                      << "central_node_name = bench\nbroker_address = " << addr
                                      << "\ndata_folder = " << dir << "/data\nsocket_folder =\n"
                                      << "start_pub_hello = 3600\n"
                                      << "[access]\nsteward:bench = admin\n"; // REQCliCommand needs admin
    usleep(200000);
    pid_t node = -1; // started once the bench listens: its first hello comes at once

    Collector c;
    NatsLink link({"bench", addr, "", "", "", 1}, [](bool err, const std::string& t) {
        if (err)
            fprintf(stderr, "bench link: %s\n", t.c_str());
    });
    std::string err;
    int rc = 1;
    if (!link.open(&err)) {
        fprintf(stderr, "%s\n", err.c_str());
        goto out;
    }
    link.subscribe("bench.REQHello.EventNACK",
                   [&](const std::string&, const std::string&, std::string) {
                       std::lock_guard l(c.mu);
                       c.hello = true;
                       c.cv.notify_all();
                   },
                   &err);
    link.subscribe("bench.REQToFileAppend.EventACK",
                   [&](const std::string&, const std::string& reply, std::string data) {
                       link.ack(reply, "confirmed from: bench");
                       Message m = decodeMessage(data);
                       auto now = Clock::now();
                       std::lock_guard l(c.mu);
                       auto it = c.sent.find(m.previous ? m.previous->id : -1);
                       if (it == c.sent.end())
                           return;
                       c.latenciesMs.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
                       c.sent.erase(it);
                       ++c.done;
                       c.cv.notify_all();
                   },
                   &err);
    node = spawn({daemon, "-c", dir + "/node.conf", "--backend", "direct"}, dir + "/daemon.log");
    {
        std::unique_lock l(c.mu);
        if (!c.cv.wait_for(l, std::chrono::seconds(20), [&] { return c.hello; })) {
            fprintf(stderr, "no hello from the node; see %s/daemon.log\n", dir.c_str());
            goto out;
        }
    }
    {
        int64_t nextId = 0;
        auto run = [&](size_t n, size_t inFlight) {
            {
                std::lock_guard l(c.mu);
                c.latenciesMs.clear();
                c.done = 0;
            }
            auto t0 = Clock::now();
            for (size_t i = 0; i < n; ++i) {
                {
                    std::unique_lock l(c.mu);
                    c.cv.wait(l, [&] { return c.sent.size() < inFlight; });
                    c.sent[nextId++] = Clock::now(); // NatsLink numbers messages per subject from 0
                }
                Message m;
                m.toNode = "ship1";
                m.fromNode = "bench";
                m.method = "REQCliCommand";
                m.replyMethod = "REQToFileAppend";
                m.data = {"true"};
                m.methodTimeout = 10;
                m.replyAckTimeout = 10;
                m.replyRetries = 1;
                m.directory = "bench";
                m.fileName = "true.result";
                link.send(m, 10, 1, nullptr);
            }
            std::unique_lock l(c.mu);
            c.cv.wait_for(l, std::chrono::seconds(120), [&] { return c.done == n; });
            double secs = std::chrono::duration<double>(Clock::now() - t0).count();
            printf("window %3zu: %zu round trips in %.2f s: %.0f msg/s, latency p50 %.2f ms, p99 %.2f ms\n",
                   inFlight, c.done, secs, static_cast<double>(c.done) / secs, pct(c.latenciesMs, 0.5),
                   pct(c.latenciesMs, 0.99));
            fflush(stdout);
            return c.done == n;
        };
        printf("REQCliCommand [\"true\"] round trips, node ship1 (scopevisord, direct backend) <-> bench, "
               "one nats-server\n");
        bool ok = run(std::min<size_t>(count / 4 + 1, 500), 1) && run(count, window);
        rc = ok ? 0 : 1;
    }
out:
    link.close();
    if (node > 0)
        stopChild(node);
    stopChild(nats);
    if (rc == 0) // kept on failure: the messages point into it
        std::filesystem::remove_all(dir);
    return rc;
}
