// SPDX-License-Identifier: LGPL-2.1-or-later
#include "logging.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string>

#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

namespace scopevisor::log {
namespace {

std::atomic<Level> gLevel{Level::Info};
std::mutex gMutex;
std::function<void(Level, std::string_view)> gSink;

const char* kNames[] = {"CRIT", "ERRO", "WARN", "INFO", "DEBG", "TRAC", "BLAT"};
const int kPriorities[] = {2, 3, 4, 6, 7, 7, 7};

// True when stderr is connected to journald (systemd sets JOURNAL_STREAM to
// the device:inode of that stream): then the journal adds its own timestamp
// and takes "<N>" priority prefixes.
bool stderrIsJournal() {
    static const bool is = [] {
        const char* e = std::getenv("JOURNAL_STREAM");
        if (!e)
            return false;
        unsigned long long dev = 0, ino = 0;
        if (std::sscanf(e, "%llu:%llu", &dev, &ino) != 2)
            return false;
        struct stat st {};
        return fstat(STDERR_FILENO, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
    }();
    return is;
}

std::string timestamp() {
    struct timeval tv {};
    gettimeofday(&tv, nullptr);
    struct tm tm {};
    localtime_r(&tv.tv_sec, &tm);
    char buf[64];
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ",%03d", int(tv.tv_usec / 1000));
    return buf;
}

} // namespace

bool parseLevel(std::string_view s, Level& out) {
    static const std::pair<const char*, Level> names[] = {
        {"critical", Level::Critical}, {"error", Level::Error}, {"warn", Level::Warn},
        {"info", Level::Info},         {"debug", Level::Debug}, {"trace", Level::Trace},
        {"blather", Level::Blather},
    };
    for (auto& [n, l] : names)
        if (s == n) {
            out = l;
            return true;
        }
    return false;
}

void setLevel(Level l) { gLevel = l; }
Level level() { return gLevel; }
bool enabled(Level l) { return int(l) <= int(gLevel.load()); }

void setSink(std::function<void(Level, std::string_view)> sink) {
    std::lock_guard lock(gMutex);
    gSink = std::move(sink);
}

void write(Level l, std::string_view msg) {
    if (!enabled(l))
        return;
    std::string line = timestamp() + " " + kNames[int(l)] + " " + std::string(msg);
    std::lock_guard lock(gMutex);
    if (stderrIsJournal())
        std::fprintf(stderr, "<%d>%.*s\n", kPriorities[int(l)], int(msg.size()), msg.data());
    else
        std::fprintf(stderr, "%s\n", line.c_str());
    if (gSink)
        gSink(l, line);
}

} // namespace scopevisor::log
