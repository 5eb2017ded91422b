// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The listening sockets of [unix_http_server] and [inet_http_server], made
// as supervisord makes them (declared in http_server.h).
#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "http_server.h"
#include "scopevisor/tcp_listener.h"
#include "scopevisor/text.h"

namespace scopevisor::xmlrpc {

namespace {

bool fillUnixAddr(const std::string& path, sockaddr_un* addr, std::string* error) {
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    if (path.size() >= sizeof addr->sun_path) {
        *error = "socket path too long: " + path;
        return false;
    }
    memcpy(addr->sun_path, path.c_str(), path.size() + 1);
    return true;
}

// Someone answers on `path`?
bool socketInUse(const std::string& path) {
    sockaddr_un addr;
    std::string err;
    if (!fillUnixAddr(path, &addr, &err))
        return false;
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    const bool used = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return used;
}

bool resolveOwner(const std::string& spec, uid_t* uid, gid_t* gid, std::string* error) {
    std::string user = spec, group;
    if (auto c = spec.find(':'); c != std::string::npos) {
        user = spec.substr(0, c);
        group = spec.substr(c + 1);
    }
    char buf[16384];
    struct passwd pw, *pres = nullptr;
    if (getpwnam_r(user.c_str(), &pw, buf, sizeof buf, &pres) == 0 && pres) {
        *uid = pres->pw_uid;
        *gid = pres->pw_gid;
    } else if (!user.empty() && user.find_first_not_of("0123456789") == std::string::npos) {
        *uid = uid_t(std::stoul(user));
        *gid = gid_t(-1);
    } else {
        *error = "chown: no such user '" + user + "'";
        return false;
    }
    if (!group.empty()) {
        struct group gr, *gres = nullptr;
        if (getgrnam_r(group.c_str(), &gr, buf, sizeof buf, &gres) == 0 && gres)
            *gid = gres->gr_gid;
        else if (group.find_first_not_of("0123456789") == std::string::npos)
            *gid = gid_t(std::stoul(group));
        else {
            *error = "chown: no such group '" + group + "'";
            return false;
        }
    }
    return true;
}

} // namespace

int listenUnix(const std::string& path, mode_t mode, const std::string& chown, std::string* error) {
    sockaddr_un addr;
    const std::string tmp = path + "." + std::to_string(getpid());
    if (!fillUnixAddr(tmp, &addr, error))
        return -1;
    struct stat st;
    if (lstat(path.c_str(), &st) == 0) {
        if (socketInUse(path)) {
            *error = "another program is already listening on " + path +
                     " (shut it down first, or choose another [unix_http_server] file)";
            return -1;
        }
        if (unlink(path.c_str()) != 0 && errno != ENOENT) {
            *error = "cannot remove the stale socket " + path + ": " + errnoText(errno);
            return -1;
        }
    }
    uid_t uid = uid_t(-1);
    gid_t gid = gid_t(-1);
    if (!chown.empty() && !resolveOwner(chown, &uid, &gid, error))
        return -1;
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *error = "socket: " + errnoText(errno);
        return -1;
    }
    unlink(tmp.c_str());
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        *error = "cannot bind " + tmp + ": " + errnoText(errno);
        ::close(fd);
        return -1;
    }
    auto fail = [&](const std::string& what) {
        *error = what + ": " + errnoText(errno);
        unlink(tmp.c_str());
        ::close(fd);
        return -1;
    };
    if (chmod(tmp.c_str(), mode) != 0)
        return fail("chmod " + tmp);
    if (::listen(fd, 1024) != 0)
        return fail("listen on " + tmp);
    if (link(tmp.c_str(), path.c_str()) != 0)
        return fail("cannot link " + tmp + " to " + path);
    unlink(tmp.c_str());
    if (!chown.empty() && lchown(path.c_str(), uid, gid) != 0) {
        *error = "chown " + path + " to " + chown + ": " + errnoText(errno);
        unlink(path.c_str());
        ::close(fd);
        return -1;
    }
    return fd;
}

int listenInet(const std::string& spec, std::string* error) {
    std::string host, port = spec;
    if (auto c = spec.rfind(':'); c != std::string::npos) {
        host = spec.substr(0, c);
        port = spec.substr(c + 1);
    }
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    if (host == "*")
        host.clear();
    if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535) {
        *error = "invalid port '" + spec + "'";
        return -1;
    }
    addrinfo* res = nullptr;
    int rc = resolveListenAddress(host.empty() ? nullptr : host.c_str(), port, host.empty() ? AF_INET : AF_UNSPEC, &res);
    if (rc != 0) {
        *error = "cannot resolve '" + host + "': " + gai_strerror(rc);
        return -1;
    }
    std::string lastErr;
    // The system's IPV6_V6ONLY default stands, as in supervisord.
    const int fd = listenOnFirst(res, false, 1024, &lastErr);
    freeaddrinfo(res);
    if (fd < 0)
        *error = "cannot listen on " + spec + ": " + lastErr;
    return fd;
}

} // namespace scopevisor::xmlrpc
