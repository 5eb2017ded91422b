// SPDX-License-Identifier: LGPL-2.1-or-later
//
// REQTailFile: follows a file from its end, one reply per new line, until
// MethodTimeout (0 = until the adapter stops, as Steward). Data[0] of the
// form "program:<namespec>" follows a managed program's log instead, with
// an optional Data[1] of "stdout" (default), "stderr" or "all".
#include <chrono>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node.h"
#include "scopevisor/text.h"

namespace steward {

namespace {

constexpr auto kPoll = std::chrono::milliseconds(200);

bool expired(std::chrono::steady_clock::time_point deadline, bool forever) {
    return !forever && std::chrono::steady_clock::now() >= deadline;
}

} // namespace

void Node::methodTailFile(const Message& m, const std::atomic<bool>& cancel) {
    if (m.data.empty() || m.data[0].empty()) {
        errorLog("error: methodREQTailFile: no file in Data: " + goFormat(m));
        return;
    }
    const std::string& path = m.data[0];
    if (path.rfind("program:", 0) == 0)
        return methodTailProgram(m, path.substr(8), cancel);
    const bool forever = m.methodTimeout <= 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(forever ? 0 : m.methodTimeout);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        errorLog("error: methodREQTailFile: open " + path + ": " + scopevisor::errnoText(errno));
        return;
    }
    struct stat st{};
    fstat(fd, &st);
    off_t pos = st.st_size; // from the end: older content is not sent
    ino_t ino = st.st_ino;
    std::string partial;
    char buf[65536];
    while (!cancel && !expired(deadline, forever)) {
        ssize_t n = pread(fd, buf, sizeof buf, pos);
        if (n > 0) {
            pos += n;
            partial.append(buf, static_cast<size_t>(n));
            size_t start = 0;
            for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1)
                sendReply(m, partial.substr(start, nl - start + 1));
            partial.erase(0, start);
            continue;
        }
        std::this_thread::sleep_for(kPoll);
        // Truncated, or replaced (log rotation): start over at its beginning.
        struct stat now{};
        if (::stat(path.c_str(), &now) == 0 && (now.st_ino != ino || now.st_size < pos)) {
            int nfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (nfd >= 0) {
                ::close(fd);
                fd = nfd;
                ino = now.st_ino;
                pos = 0;
                partial.clear();
            }
        }
    }
    ::close(fd);
    if (!cancel)
        errorLog("info: method timeout reached, canceling: " + goFormat(m));
}

void Node::methodTailProgram(const Message& m, const std::string& name, const std::atomic<bool>& cancel) {
    std::string err;
    const std::string namespec = canonicalProgram(name, &err);
    if (namespec.empty()) {
        errorLog("error: methodREQTailFile: " + name + ": " + err);
        return;
    }
    const std::string which = m.data.size() > 1 ? m.data[1] : "stdout";
    auto stream = scopevisor::parseStream(which);
    if (!stream) {
        errorLog("error: methodREQTailFile: Data[1] must be stdout, stderr or all, not '" + which + "'");
        return;
    }
    auto& c = host_.control();
    auto read = [&](uint64_t first, uint32_t max) {
        return scopevisor::await<scopevisor::Result<scopevisor::LogLines>>(
            [&](auto cb) { c.readLog(namespec, *stream, first, max, cb); });
    };
    auto r = read(0, 1);
    if (!r) {
        errorLog("error: methodREQTailFile: " + namespec + ": " + r.error().message);
        return;
    }
    uint64_t next = r->newestAvailable + 1;
    const bool forever = m.methodTimeout <= 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(forever ? 0 : m.methodTimeout);
    while (!cancel && !expired(deadline, forever)) {
        r = read(next, 1000);
        if (!r) {
            errorLog("error: methodREQTailFile: " + namespec + ": " + r.error().message);
            return;
        }
        if (r->oldestAvailable > next)
            next = r->oldestAvailable; // the buffer moved on while we slept
        for (auto& line : r->lines)
            sendReply(m, line + "\n");
        if (!r->lines.empty()) {
            next = r->last + 1;
            continue;
        }
        std::this_thread::sleep_for(kPoll);
    }
    if (!cancel)
        errorLog("info: method timeout reached, canceling: " + goFormat(m));
}

} // namespace steward
