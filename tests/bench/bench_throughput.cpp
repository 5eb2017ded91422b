// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Output throughput of the real engine, in process: the sd-event loop, the
// direct backend and the Engine, with a configuration parsed by the real
// loader, run one program `seq 1 N` whose stdout goes to the in-memory log
// buffer only (stdout_logfile=NONE, default buffer bounds). The loop runs
// until the program is EXITED and its stdout and stderr pipes reached EOF
// (the engine has closed them). Prints lines/s into the buffer and checks
// the result exactly: the buffer's last line number is N and its text is
// "N", and the byte count is that of "1\n" ... "N\n", so no line was lost
// and the numbering has no gap. No timing assertion: the figure is for
// people to read.
//
// What the time covers: from Engine::begin() (which forks and execs seq)
// to the moment both pipes are closed: process creation, every read(2) of
// the pipe and every append to the buffer, on the engine's one thread.
// seq writes its output much faster than that on its own (compare
// `seq 1 N > /dev/null`), so the figure is the engine's.
//
//   bench_throughput [LINES]     (default 20000000)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <string_view>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "direct_backend.h"
#include "engine.h"
#include "sd_event_loop.h"

using namespace scopevisor;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kSec = 1000000;

// The pipes this process holds open: fd -> "pipe:[inode]".
std::map<int, std::string> openPipes() {
    std::map<int, std::string> out;
    if (DIR* d = opendir("/proc/self/fd")) {
        while (dirent* e = readdir(d)) {
            if (e->d_name[0] == '.')
                continue;
            char link[64];
            std::string path = std::string("/proc/self/fd/") + e->d_name;
            ssize_t n = readlink(path.c_str(), link, sizeof link - 1);
            if (n > 5 && std::string_view(link, 5) == "pipe:")
                out.emplace(std::atoi(e->d_name), std::string(link, size_t(n)));
        }
        closedir(d);
    }
    return out;
}

// Bytes of "1\n" ... "N\n".
uint64_t seqBytes(uint64_t n) {
    uint64_t total = 0, lo = 1, digits = 1;
    while (lo <= n) {
        uint64_t hi = lo * 10 - 1;
        uint64_t top = hi < n ? hi : n;
        total += (top - lo + 1) * (digits + 1);
        lo *= 10;
        ++digits;
    }
    return total;
}

double cpuSeconds(const rusage& r) {
    return double(r.ru_utime.tv_sec + r.ru_stime.tv_sec) + double(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

} // namespace

int main(int argc, char** argv) {
    const uint64_t total = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20000000;
    if (total == 0) {
        std::fprintf(stderr, "usage: bench_throughput [LINES>0]\n");
        return 2;
    }

    char tmpl[] = "/tmp/scopevisor-bench-XXXXXX";
    if (!mkdtemp(tmpl)) {
        std::perror("mkdtemp");
        return 1;
    }
    const std::string dir = tmpl;
    const std::string confPath = dir + "/bench.conf";
    std::ofstream(confPath) << "[supervisord]\n"
                            << "childlogdir = " << dir << "\n"
                            << "[scopevisord]\n"
                            << "state_dir = " << dir << "/state\n"
                            << "[program:seq]\n"
                            << "command = seq 1 " << total << "\n"
                            << "startsecs = 0\n"
                            << "autorestart = false\n"
                            << "stdout_logfile = NONE\n"
                            << "stderr_logfile = NONE\n";

    SdEventLoop loop;
    DirectBackend backend(loop);
    EngineOptions opts;
    opts.configPath = confPath;
    opts.loadContext = config::LoadContext::fromProcess();
    opts.version = "bench";
    config::Config cfg = config::load(confPath, opts.loadContext);
    const uint64_t bufLines = cfg.daemon.logBufferLines, bufBytes = cfg.daemon.logBufferBytes;
    auto engine = std::make_unique<Engine>(loop, backend, std::move(cfg), opts);

    const auto pipesBefore = openPipes();
    rusage ru0{};
    getrusage(RUSAGE_SELF, &ru0);
    const auto t0 = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point tExit{};

    engine->begin();
    Program* p = engine->findProgram("seq");
    if (!p) {
        std::fprintf(stderr, "bench_throughput: program 'seq' not found\n");
        return 1;
    }
    // The direct backend has forked and exec'd by now: the pipes that are
    // new since then are the program's (stdin, stdout, stderr).
    std::map<int, std::string> programPipes;
    for (auto& [fd, name] : openPipes())
        if (!pipesBefore.count(fd) || pipesBefore.at(fd) != name)
            programPipes.emplace(fd, name);
    // Done when EXITED and the engine has closed every pipe of the program
    // (it closes stdout and stderr at EOF). Looked at only after the exit.
    auto pipesClosed = [&] {
        auto now = openPipes();
        for (auto& [fd, name] : programPipes) {
            auto it = now.find(fd);
            if (it != now.end() && it->second == name)
                return false;
        }
        return true;
    };
    bool ok = loop.runUntil(
        [&] {
            ProcessState s = p->state();
            if (s != ProcessState::Exited && s != ProcessState::Fatal && s != ProcessState::Backoff)
                return false;
            if (tExit == std::chrono::steady_clock::time_point{})
                tExit = std::chrono::steady_clock::now();
            return pipesClosed();
        },
        120 * kSec);
    const auto t1 = std::chrono::steady_clock::now();
    rusage ru1{};
    getrusage(RUSAGE_SELF, &ru1);

    const ProcessState finalState = p->state();
    const LogBuffer& out = p->log().stdoutBuf();
    const double secs = std::chrono::duration<double>(t1 - t0).count();
    const double toExit = std::chrono::duration<double>(tExit - t0).count();
    const uint64_t wantBytes = seqBytes(total);

    std::printf("pipes watched:   %zu (closed at the end: %s)\n", programPipes.size(), ok ? "yes" : "NO");
    std::printf("program:         seq 1 %llu (stdout_logfile=NONE; buffer bounds %llu lines, %llu bytes)\n",
                static_cast<unsigned long long>(total), static_cast<unsigned long long>(bufLines),
                static_cast<unsigned long long>(bufBytes));
    std::printf("final state:     %s%s\n", stateName(finalState), ok ? "" : " (TIMED OUT waiting for EOF)");
    std::printf("time:            %.3f s from begin() to EOF (%.3f s to EXITED)\n", secs, toExit);
    std::printf("throughput:      %.2f M lines/s, %.1f MB/s into the buffer\n", double(total) / secs / 1e6,
                double(out.bytesEnd()) / secs / 1e6);
    const double cpu = cpuSeconds(ru1) - cpuSeconds(ru0);
    std::printf("engine CPU:      %.3f s (user+sys of this process: %.1f M lines per CPU second)\n", cpu,
                cpu > 0 ? double(total) / cpu / 1e6 : 0.0);
    std::printf("received:        lines up to %llu, %llu bytes (expected %llu lines, %llu bytes)\n",
                static_cast<unsigned long long>(out.lastLine()), static_cast<unsigned long long>(out.bytesEnd()),
                static_cast<unsigned long long>(total), static_cast<unsigned long long>(wantBytes));

    const std::string lastText(out.line(out.lastLine()));
    bool exact = ok && finalState == ProcessState::Exited && out.lastLine() == total && out.nextLine() == total + 1 &&
                 lastText == std::to_string(total) && out.bytesEnd() == wantBytes &&
                 p->log().nextSeq() == total + 1;
    // Every line still held carries its own number as text.
    for (uint64_t k = out.firstLine(); exact && k && k <= out.lastLine(); ++k)
        exact = out.line(k) == std::to_string(k);
    std::printf("last line:       #%llu = \"%s\"\n", static_cast<unsigned long long>(out.lastLine()),
                lastText.c_str());
    std::printf("lines lost:      %s\n", exact ? "0 (numbering exact)" : "SOME (numbering WRONG)");

    // Stop cleanly (nothing is running) and remove the temporary directory.
    bool down = false;
    engine->setOnShutdown([&] { down = true; });
    engine->requestShutdown();
    loop.runUntil([&] { return down; }, 30 * kSec);
    engine.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
    return exact ? 0 : 1;
}
