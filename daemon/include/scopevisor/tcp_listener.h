// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Opening an adapter's listening TCP socket (part of the adapter API,
// docs/architecture.md §7). Each adapter resolves its address as its legacy
// tool did and words its own errors; the socket calls are the same for all.
#pragma once

#include <cerrno>
#include <string>

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scopevisor/text.h"

namespace scopevisor {

// getaddrinfo() for a listening TCP socket: the addresses of `host` (null:
// every address of `family`) with the numeric port `port`. 0, or
// getaddrinfo's error (for gai_strerror). The caller frees *res.
inline int resolveListenAddress(const char* host, const std::string& port, int family, addrinfo** res) {
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    *res = nullptr;
    return getaddrinfo(host, port.c_str(), &hints, res);
}

// Listen on the first address of `addresses` (from getaddrinfo) that binds,
// with SO_REUSEADDR. `dualStack`: an IPv6 socket takes IPv4 clients too
// (IPV6_V6ONLY off), whatever the system default. Returns the fd, or -1 with
// *why set to the last failure (strerror; "no usable address" if none was tried).
inline int listenOnFirst(const addrinfo* addresses, bool dualStack, int backlog, std::string* why) {
    *why = "no usable address";
    for (const addrinfo* ai = addresses; ai; ai = ai->ai_next) {
        const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            *why = errnoText(errno);
            continue;
        }
        int one = 1, zero = 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (dualStack && ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, backlog) == 0)
            return fd;
        *why = errnoText(errno);
        ::close(fd);
    }
    return -1;
}

// The port a TCP socket is bound to (after binding port 0: the one the
// kernel chose); -1 for another kind of socket or on error.
inline int listeningPort(int fd) noexcept {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    return -1;
}

} // namespace scopevisor
