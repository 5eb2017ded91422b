// SPDX-License-Identifier: LGPL-2.1-or-later
#include "srs_net.h"

#include <netdb.h>

#include "scopevisor/tcp_listener.h"

namespace srs {

int listenTcp(const std::string& address, int port, std::string* error) {
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    if (int rc = scopevisor::resolveListenAddress(address.c_str(), service, AF_UNSPEC, &res); rc != 0) {
        *error = "listener_addr '" + address + "': " + gai_strerror(rc);
        return -1;
    }
    std::string why;
    // "::" takes IPv4 clients too, whatever the system default.
    const int fd = scopevisor::listenOnFirst(res, true, SOMAXCONN, &why);
    freeaddrinfo(res);
    if (fd < 0)
        *error = "cannot listen on " + address + " port " + service + ": " + why;
    return fd;
}

} // namespace srs
