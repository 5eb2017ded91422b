// SPDX-License-Identifier: LGPL-2.1-or-later
#include "srs_net.h"

#include <cerrno>
#include <cstring>

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace srs {

int boundPort(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

int listenTcp(const std::string& address, int port, std::string* error) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    if (int rc = getaddrinfo(address.c_str(), service.c_str(), &hints, &res); rc != 0) {
        *error = "listener_addr '" + address + "': " + gai_strerror(rc);
        return -1;
    }
    int fd = -1;
    std::string why = "no usable address";
    for (addrinfo* ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            why = std::strerror(errno);
            continue;
        }
        int one = 1, zero = 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        // "::" takes IPv4 clients too, whatever the system default.
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
            why = std::strerror(errno);
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        *error = "cannot listen on " + address + " port " + service + ": " + why;
    return fd;
}

std::string readMessage(int fd, int wakeFd, int timeoutMs) {
    char buf[4196]; // "100 command + 4096 key", as the original
    pollfd p[2] = {{fd, POLLIN, 0}, {wakeFd, POLLIN, 0}};
    if (poll(p, 2, timeoutMs) <= 0 || !(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
        return {};
    ssize_t n = read(fd, buf, sizeof buf);
    return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

bool writeAll(int fd, const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        off += size_t(n);
    }
    return true;
}

void closeAfterReply(int fd, int wakeFd) {
    shutdown(fd, SHUT_WR);
    char buf[4096];
    for (int i = 0; i < 16; ++i) {
        pollfd p[2] = {{fd, POLLIN, 0}, {wakeFd, POLLIN, 0}};
        if (poll(p, 2, 1000) <= 0 || !(p[0].revents & (POLLIN | POLLHUP | POLLERR)) || read(fd, buf, sizeof buf) <= 0)
            break;
    }
    close(fd);
}

} // namespace srs
