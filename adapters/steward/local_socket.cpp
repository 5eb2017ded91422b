// SPDX-License-Identifier: LGPL-2.1-or-later
#include "local_socket.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "message_json.h"
#include "node.h"
#include "scopevisor/await.h"
#include "scopevisor/text.h"

namespace steward {

namespace {
constexpr size_t kMaxDocument = kMaxMessageJson;
// Read before a user other than root is authorized: a smaller bound, so
// that any user who may connect cannot make the daemon hold 16 MiB.
constexpr size_t kMaxPeerDocument = 1024 * 1024;
constexpr int kReadTimeoutSeconds = 10;
constexpr auto kAuthorizationTimeout = std::chrono::seconds(30);
} // namespace

bool LocalSocket::start(std::string* error) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof addr.sun_path) {
        *error = "socket path too long: " + path_;
        return false;
    }
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
    ::unlink(path_.c_str()); // a stale socket of an earlier run, as Steward
    strcpy(addr.sun_path, path_.c_str());
    listenFd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listenFd_ < 0 || ::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 ||
        ::chmod(path_.c_str(), mode_) < 0 || ::listen(listenFd_, 64) < 0) {
        *error = "steward.sock " + path_ + ": " + scopevisor::errnoText(errno);
        if (listenFd_ >= 0)
            ::close(listenFd_);
        listenFd_ = -1;
        return false;
    }
    wakeFd_ = eventfd(0, EFD_CLOEXEC);
    thread_ = std::thread([this] { serve(); });
    return true;
}

void LocalSocket::stop() {
    if (wakeFd_ >= 0) {
        uint64_t one = 1;
        (void)!::write(wakeFd_, &one, sizeof one);
    }
    if (thread_.joinable())
        thread_.join();
    if (listenFd_ >= 0) {
        ::close(listenFd_);
        ::unlink(path_.c_str());
    }
    if (wakeFd_ >= 0)
        ::close(wakeFd_);
    listenFd_ = wakeFd_ = -1;
}

void LocalSocket::serve() {
    for (;;) {
        pollfd p[2] = {{listenFd_, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (p[1].revents)
            return;
        int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        // One operator at a time, each bounded by a read timeout: the socket
        // is for occasional commands, not for throughput.
        handle(fd);
        ::close(fd);
    }
}

void LocalSocket::handle(int fd) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return;
    timeval tv{kReadTimeoutSeconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const size_t limit = cred.uid == 0 ? kMaxDocument : kMaxPeerDocument;
    std::string doc;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            node_.errorLog("error: steward.sock: read: " + scopevisor::errnoText(errno) + ", input dropped");
            return;
        }
        if (n == 0)
            break;
        doc.append(buf, static_cast<size_t>(n));
        if (doc.size() > limit) {
            node_.errorLog("error: steward.sock: input of uid " + std::to_string(cred.uid) + " over the limit of " +
                           std::to_string(limit) + " bytes dropped" + (cred.uid ? " (16 MiB for root)" : ""));
            return;
        }
    }
    // Steward strips NUL bytes at both ends (its readers pad with them).
    size_t b = doc.find_first_not_of('\0'), e = doc.find_last_not_of('\0');
    doc = b == std::string::npos ? std::string() : doc.substr(b, e - b + 1);
    std::vector<Message> msgs;
    try {
        msgs = parseMessageArray(doc);
    } catch (const std::invalid_argument& ex) {
        node_.errorLog(std::string("error: ") + ex.what());
        return;
    }
    // Each message on its own: a peer allowed to view may still not run
    // commands. Refused messages are dropped, the others sent.
    const scopevisor::UnixPeer peer{cred.pid, cred.uid, cred.gid};
    const std::string who = "uid " + std::to_string(cred.uid) + " (pid " + std::to_string(cred.pid) + ")";
    std::vector<Message> allowed;
    for (auto& m : msgs) {
        std::string what;
        auto answer = scopevisor::awaitFor<std::pair<bool, std::string>>(
            [&](auto done) {
                node_.authorizeLocal(peer, m, &what, [done](bool ok, std::string why) { done({ok, std::move(why)}); });
            },
            kAuthorizationTimeout);
        if (!answer) {
            node_.errorLog("error: steward.sock: authorization of " + who + " for " + what + " timed out");
            return;
        }
        auto [ok, why] = *answer;
        if (!ok) {
            node_.errorLog("error: steward.sock: " + who + " may not " + what + ": " + why +
                           "; message dropped (root may; other users need polkit's consent)");
            continue;
        }
        allowed.push_back(std::move(m));
    }
    if (!allowed.empty())
        node_.sendFromOperator(std::move(allowed));
}

} // namespace steward
