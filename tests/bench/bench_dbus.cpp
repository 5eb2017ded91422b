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
    double maxAt = 0; // when the slowest began, ms after the operation did
    std::vector<std::pair<uint64_t, double>> slow; // (CLOCK_MONOTONIC µs at the call, ms) past slowMs
};

// BENCH_DBUS_SLOW=MS lists every call slower than MS, stamped with
// CLOCK_MONOTONIC, to line them up with a trace of the daemon (strace -tt
// prints the wall clock; perf uses the monotonic one).
double slowMs() {
    const char* e = getenv("BENCH_DBUS_SLOW");
    return e ? atof(e) : 0;
}

uint64_t monotonicUs(Clock::time_point t) {
    return uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}

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

// Calls `call` in a loop on a connection of its own while `busy` is set;
// notes when the slowest call began (ms after `origin`).
template <typename Call>
Stats probe(const PrivateBus& bus, Call call, std::atomic<bool>& busy, Clock::time_point origin) {
    auto c = bus.connect();
    Stats s;
    auto once = call(*c);
    while (busy) {
        auto t0 = Clock::now();
        once();
        const double d = ms(Clock::now() - t0);
        if (s.v.empty() || d > s.max())
            s.maxAt = ms(t0 - origin);
        s.v.push_back(d);
        if (slowMs() > 0 && d > slowMs())
            s.slow.emplace_back(monotonicUs(t0), d);
    }
    return s;
}

// A read of the Program property: through dbus-daemon to scopevisord and back.
auto daemonCall(const std::string& path) {
    return [path](sdbus::IConnection& c) {
        auto p = std::make_shared<ProgramClient>(c, path);
        return [p] { (void)p->StateCode(); };
    };
}

// The control: dbus-daemon's own GetId, the same way, at the same time. What
// it suffers (scheduling on a loaded machine, dbus-daemon busy routing
// signals) is not scopevisord's doing; what the daemon probe suffers beyond
// it is.
auto busCall() {
    return [](sdbus::IConnection& c) {
        std::shared_ptr<sdbus::IProxy> p = sdbus::createProxy(c, "org.freedesktop.DBus", "/org/freedesktop/DBus");
        return [p] {
            std::string id;
            p->callMethod("GetId").onInterface("org.freedesktop.DBus").storeResultsTo(id);
        };
    };
}

struct Probed {
    Stats daemon, bus;
    double opMs = 0;
};

// Run `op` on a connection of its own while both probes run.
template <typename Op>
Probed underLoad(const PrivateBus& bus, const std::string& probePath, Op op) {
    std::atomic<bool> busy{true};
    Probed r;
    const auto origin = Clock::now() + std::chrono::milliseconds(50);
    std::thread daemonProber([&] { r.daemon = probe(bus, daemonCall(probePath), busy, origin); });
    std::thread busProber([&] { r.bus = probe(bus, busCall(), busy, origin); });
    std::this_thread::sleep_until(origin);
    op();
    r.opMs = ms(Clock::now() - origin);
    busy = false;
    daemonProber.join();
    busProber.join();
    return r;
}

void report(const char* what, Probed& r) {
    printf("%s: %.1f ms\n", what, r.opMs);
    printf("  property reads (scopevisord): p50 %.3f ms, p99 %.3f ms, max %.3f ms at %+.0f ms (%zu reads)\n",
           r.daemon.pct(50), r.daemon.pct(99), r.daemon.max(), r.daemon.maxAt, r.daemon.v.size());
    printf("  GetId (dbus-daemon alone):    p50 %.3f ms, p99 %.3f ms, max %.3f ms at %+.0f ms (%zu calls)\n",
           r.bus.pct(50), r.bus.pct(99), r.bus.max(), r.bus.maxAt, r.bus.v.size());
    for (auto [who, st] : {std::pair{"scopevisord", &r.daemon}, std::pair{"dbus-daemon", &r.bus}})
        for (auto [at, d] : st->slow)
            printf("  slow %s call at %llu us: %.3f ms\n", who, (unsigned long long)at, d);
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

        // The same probes while the daemon has nothing to do: what the
        // machine itself (scheduling, dbus-daemon) adds to the figures below.
        Probed idle = underLoad(bus, "/org/scopevisor1/program/p0",
                                [] { std::this_thread::sleep_for(std::chrono::seconds(1)); });
        report("Idle daemon, probes for", idle);

        auto sigConn = bus.connect();
        Counter counter(*sigConn);
        sigConn->enterEventLoopAsync();

        bool ok = true;
        auto waitCount = [&](const std::string& st) {
            for (int i = 0; i < 500 && counter.count(st) < size_t(n); ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            if (counter.count(st) != size_t(n)) {
                fprintf(stderr, "%zu PropertiesChanged with State=%s, expected %d\n", counter.count(st), st.c_str(), n);
                ok = false;
            }
        };
        Probed start = underLoad(bus, "/org/scopevisor1/program/p0", [&] { mgr.StartAll(); });
        waitCount("STARTING");
        waitCount("RUNNING");
        const std::string startWhat =
            "StartAll, " + std::to_string(n) + " programs (" + std::to_string(2 * n) + " state changes signalled)";
        report(startWhat.c_str(), start);

        Probed stop = underLoad(bus, "/org/scopevisor1/program/p0", [&] { mgr.StopAll(); });
        waitCount("STOPPING");
        waitCount("STOPPED");
        const std::string stopWhat =
            "StopAll, " + std::to_string(n) + " programs (" + std::to_string(2 * n) + " state changes signalled)";
        report(stopWhat.c_str(), stop);
        sigConn->leaveEventLoop();
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        fprintf(stderr, "bench_dbus: %s\n", e.what());
        return 1;
    }
}
