// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The D-Bus API with many programs: a real scopevisord (direct backend) on a
// private bus, driven with the generated proxies. Prints
//   ListPrograms latency (p50/p99) with N programs,
//   Program property read latency (p50/p99),
//   the same from a second connection while the daemon idles (the noise
//   floor of the machine: a loaded machine delays every process),
//   the latency of property reads issued while the daemon emits the
//   PropertiesChanged signals of N state changes (stop all, then start all),
// and checks that every state change was signalled. Usage:
//   bench_dbus [N]   (default 1000; SCOPEVISORD names the daemon binary)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "bus_harness.h"

using namespace scopevisor::test;
using Clock = std::chrono::steady_clock;

namespace {

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Stats {
    std::vector<double> v;
    double pct(double p) {
        if (v.empty())
            return 0;
        std::sort(v.begin(), v.end());
        return v[std::min(v.size() - 1, size_t(p / 100.0 * double(v.size())))];
    }
    double max() { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }
};

// Counts PropertiesChanged of Program objects by State value.
class Counter {
public:
    explicit Counter(sdbus::IConnection& c) {
        slot_ = c.addMatch("type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
                           "path_namespace='/org/scopevisor1/program'",
                           [this](sdbus::Message& m) {
                               std::string iface;
                               std::map<std::string, sdbus::Variant> changed;
                               m >> iface >> changed;
                               auto it = changed.find("State");
                               if (it == changed.end())
                                   return;
                               std::lock_guard l(mutex_);
                               ++byState_[it->second.get<std::string>()];
                           });
    }
    size_t count(const std::string& state) {
        std::lock_guard l(mutex_);
        return byState_[state];
    }

private:
    sdbus::Slot slot_;
    std::mutex mutex_;
    std::map<std::string, size_t> byState_;
};

// Reads a property in a loop on its own connection while `busy` is set.
Stats probe(const PrivateBus& bus, const std::string& path, std::atomic<bool>& busy) {
    auto c = bus.connect();
    ProgramClient p(*c, path);
    Stats s;
    while (busy) {
        auto t0 = Clock::now();
        (void)p.StateCode();
        s.v.push_back(ms(Clock::now() - t0));
    }
    return s;
}

// Run `op` on a connection of its own while probing; returns the probe's stats.
template <typename Op>
Stats underLoad(const PrivateBus& bus, const std::string& probePath, Op op, double* opMs) {
    std::atomic<bool> busy{true};
    Stats s;
    std::thread prober([&] { s = probe(bus, probePath, busy); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto t0 = Clock::now();
    op();
    *opMs = ms(Clock::now() - t0);
    busy = false;
    prober.join();
    return s;
}

} // namespace

int main(int argc, char** argv) {
    const int n = argc > 1 ? atoi(argv[1]) : 1000;
    std::string conf;
    for (int i = 0; i < n; ++i)
        conf += "[program:p" + std::to_string(i) + "]\ncommand = sleep 100000\nstartsecs = 0\nautostart = false\n";
    try {
        PrivateBus bus;
        Daemon daemon(bus, conf);
        auto conn = bus.connect();
        conn->setMethodCallTimeout(std::chrono::seconds(120));
        ManagerClient mgr(*conn);

        Stats list;
        for (int i = 0; i < 200; ++i) {
            auto t0 = Clock::now();
            auto rows = mgr.ListPrograms();
            list.v.push_back(ms(Clock::now() - t0));
            if (rows.size() != size_t(n)) {
                fprintf(stderr, "ListPrograms gave %zu programs, not %d\n", rows.size(), n);
                return 1;
            }
        }
        printf("ListPrograms, %d programs: p50 %.3f ms, p99 %.3f ms\n", n, list.pct(50), list.pct(99));

        std::vector<std::unique_ptr<ProgramClient>> progs;
        for (int i = 0; i < n; i += std::max(1, n / 100))
            progs.push_back(std::make_unique<ProgramClient>(*conn, "/org/scopevisor1/program/p" + std::to_string(i)));
        Stats get;
        for (int i = 0; i < 2000; ++i) {
            auto& p = progs[size_t(i) % progs.size()];
            auto t0 = Clock::now();
            (void)p->State();
            get.v.push_back(ms(Clock::now() - t0));
        }
        printf("Program property read: p50 %.3f ms, p99 %.3f ms\n", get.pct(50), get.pct(99));

        // The same probe while the daemon has nothing to do: what the
        // machine itself (scheduling, dbus-daemon) adds to the figures below.
        double idleMs = 0;
        Stats idle = underLoad(
            bus, "/org/scopevisor1/program/p0", [] { std::this_thread::sleep_for(std::chrono::seconds(1)); },
            &idleMs);
        printf("Idle daemon, property reads for %.0f ms: p50 %.3f ms, p99 %.3f ms, max %.3f ms (%zu reads)\n", idleMs,
               idle.pct(50), idle.pct(99), idle.max(), idle.v.size());

        auto sigConn = bus.connect();
        Counter counter(*sigConn);
        sigConn->enterEventLoopAsync();

        double startMs = 0, stopMs = 0;
        Stats duringStart = underLoad(bus, "/org/scopevisor1/program/p0", [&] { mgr.StartAll(); }, &startMs);
        bool ok = true;
        auto waitCount = [&](const std::string& st) {
            for (int i = 0; i < 500 && counter.count(st) < size_t(n); ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            if (counter.count(st) != size_t(n)) {
                fprintf(stderr, "%zu PropertiesChanged with State=%s, expected %d\n", counter.count(st), st.c_str(), n);
                ok = false;
            }
        };
        waitCount("STARTING");
        waitCount("RUNNING");
        printf("StartAll, %d programs (%d state changes signalled): %.1f ms; property reads meanwhile: "
               "p50 %.3f ms, p99 %.3f ms, max %.3f ms (%zu reads)\n",
               n, 2 * n, startMs, duringStart.pct(50), duringStart.pct(99), duringStart.max(), duringStart.v.size());

        Stats duringStop = underLoad(bus, "/org/scopevisor1/program/p0", [&] { mgr.StopAll(); }, &stopMs);
        waitCount("STOPPING");
        waitCount("STOPPED");
        printf("StopAll, %d programs (%d state changes signalled): %.1f ms; property reads meanwhile: "
               "p50 %.3f ms, p99 %.3f ms, max %.3f ms (%zu reads)\n",
               n, 2 * n, stopMs, duringStop.pct(50), duringStop.pct(99), duringStop.max(), duringStop.v.size());
        sigConn->leaveEventLoop();
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        fprintf(stderr, "bench_dbus: %s\n", e.what());
        return 1;
    }
}
