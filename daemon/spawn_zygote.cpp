// SPDX-License-Identifier: LGPL-2.1-or-later
#include "spawn_zygote.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "exit_watcher.h"
#include "logging.h"

namespace scopevisor {

namespace {

using spawnwire::kMaxFds;
using spawnwire::kMaxMessage;

struct Reply {
    int32_t pid;
    int32_t error;
};

constexpr size_t kMaxPointers = 1 << 16;
constexpr size_t kChildStack = 256 << 10;
constexpr int kReplyTimeoutMs = 10000;

void* mapOrDie(size_t size) {
    void* m = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        ::_exit(1);
    return m;
}

void sendReply(int sock, pid_t pid, int error, int pidfd) {
    Reply r{pid, error};
    struct iovec iov {&r, sizeof r};
    struct msghdr mh {};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
    if (pidfd >= 0) {
        mh.msg_control = ctl;
        mh.msg_controllen = sizeof ctl;
        struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &pidfd, sizeof(int));
    }
    while (::sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
}

// The spawner's life: one child per message until the daemon hangs up.
// System calls only (see the top of spawn_zygote.h).
[[noreturn]] void serve(int sock) {
    char* msg = static_cast<char*>(mapOrDie(kMaxMessage + 1));
    char** ptrs = static_cast<char**>(mapOrDie(kMaxPointers * sizeof(char*)));
    // The children start on a copy of this stack (no CLONE_VM), so one
    // serves them all.
    const size_t page = size_t(::sysconf(_SC_PAGESIZE));
    char* stack = static_cast<char*>(mapOrDie(kChildStack + page));
    ::mprotect(stack, page, PROT_NONE);
    char* stackTop = stack + page + kChildStack;

    for (;;) {
        struct iovec iov {msg, kMaxMessage + 1};
        alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * kMaxFds)];
        struct msghdr mh {};
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = ctl;
        mh.msg_controllen = sizeof ctl;
        ssize_t n = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        if (n == 0)
            ::_exit(0); // the daemon is gone or done
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ::_exit(1);
        }
        int fds[kMaxFds];
        size_t nfds = 0;
        for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            const size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < k; ++i) {
                int fd;
                std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                if (nfds < kMaxFds)
                    fds[nfds++] = fd;
                else
                    ::close(fd);
            }
        }
        spawnplan::ChildPlan plan;
        int error = (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
                        ? EMSGSIZE
                        : spawnwire::decode(msg, size_t(n), fds, nfds, ptrs, kMaxPointers, plan);
        pid_t pid = -1;
        int pidfd = -1;
        if (!error) {
            // CLONE_PARENT: the daemon's child, not ours. The exit signal is
            // then ours (SIGCHLD), whatever the flags say.
            pid = ::clone(spawnplan::childMain, stackTop, CLONE_PARENT | CLONE_PIDFD | SIGCHLD, &plan, &pidfd);
            if (pid < 0)
                error = errno;
        }
        for (size_t i = 0; i < nfds; ++i)
            ::close(fds[i]);
        sendReply(sock, pid, error, pidfd);
        if (pidfd >= 0)
            ::close(pidfd);
    }
}

[[noreturn]] void spawnerMain(int sock, pid_t daemon) {
    // Die with the daemon; it may already be gone.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != daemon)
        ::_exit(0);
    ::prctl(PR_SET_NAME, "scopevisor-fork");
    // Not in the daemon's session: a Ctrl-C at its terminal is for the
    // daemon, which then closes our socket.
    ::setsid();
    // Default dispositions, everything blocked: no handler of the daemon
    // ever runs here, and the children start blocked too until runChild has
    // reset their dispositions (it unblocks them itself).
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig)
        ::sigaction(sig, &dfl, nullptr);
    sigset_t all;
    ::sigfillset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    // Only the socket: the daemon's pipes and connections must not be held
    // open here (EOF would never come), nor copied into every child. 0-2
    // stay (the daemon's stdio, where a child's early failure could go).
    if (sock != 3) {
        if (::dup3(sock, 3, O_CLOEXEC) < 0)
            ::_exit(1);
        sock = 3;
    }
    long maxFd = ::sysconf(_SC_OPEN_MAX);
    spawnplan::closeRange(4, ~0u, maxFd > 0 && maxFd < 65536 ? int(maxFd) : 65536);
    sendReply(sock, 0, 0, -1); // ready
    serve(sock);
}

// The process's umask without changing it (umask(2) can only set it, and
// another thread may create a file meanwhile). -1 if unknown.
int currentUmask() {
    int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char* u = std::strstr(buf, "\nUmask:");
    if (!u)
        return -1;
    char* end = nullptr;
    long v = std::strtol(u + 7, &end, 8);
    return end != u + 7 && v >= 0 && v <= 0777 ? int(v) : -1;
}

} // namespace

std::unique_ptr<SpawnZygote> SpawnZygote::start(std::string* why) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        *why = std::string("socketpair: ") + std::strerror(errno);
        return nullptr;
    }
    // Room for the biggest plan in one message (FORCE needs CAP_NET_ADMIN;
    // without it the system's maximum applies and bigger plans are forked).
    int size = int(kMaxMessage + 65536);
    if (::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
        ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    const pid_t daemon = ::getpid();
    sigset_t all, old;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    const pid_t pid = ::fork();
    if (pid == 0)
        spawnerMain(sv[1], daemon);
    const int e = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    ::close(sv[1]);
    if (pid < 0) {
        ::close(sv[0]);
        *why = std::string("fork: ") + std::strerror(e);
        return nullptr;
    }
    std::unique_ptr<SpawnZygote> z(new SpawnZygote(pid, sv[0]));
    // Wait until it has let go of everything it inherited, so that nothing
    // of the daemon's is held open by it from here on.
    struct pollfd pfd {sv[0], POLLIN, 0};
    int r;
    while ((r = ::poll(&pfd, 1, kReplyTimeoutMs)) < 0 && errno == EINTR) {
    }
    Reply hello{-1, 0};
    if (r <= 0 || ::recv(sv[0], &hello, sizeof hello, 0) != ssize_t(sizeof hello) || hello.pid != 0) {
        *why = r == 0 ? "the spawner did not start within 10 s" : "the spawner exited at start";
        ::kill(pid, SIGKILL);
        return nullptr; // the destructor reaps it
    }
    return z;
}

SpawnZygote::~SpawnZygote() {
    if (sock_ >= 0)
        ::close(sock_);
    if (pid_ > 0)
        reap(pid_);
}

void SpawnZygote::lost(const char* why) {
    log::warn(std::string("spawner process (pid ") + std::to_string(pid_) + ") " + why +
              "; programs are forked by the daemon itself from now on");
    ::close(sock_);
    sock_ = -1;
    ::kill(pid_, SIGKILL);
    reap(pid_);
    pid_ = -1;
}

SpawnZygote::Made SpawnZygote::spawn(const spawnplan::ChildPlan& plan) {
    Made m;
    m.retry = true;
    if (sock_ < 0)
        return m;
    std::string buf;
    std::vector<int> fds;
    spawnplan::ChildPlan p = plan;
    // A program without a umask of its own inherits the daemon's as it is
    // now, not as it was when the spawner was forked.
    if (p.umask < 0)
        p.umask = currentUmask();
    spawnwire::encode(p, buf, fds);
    if (buf.size() > kMaxMessage)
        return m;

    struct iovec iov {buf.data(), buf.size()};
    alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
    struct msghdr mh {};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    ssize_t n;
    while ((n = ::sendmsg(sock_, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
    if (n < 0) {
        // Too big for the socket: this plan is forked, the spawner stays.
        if (errno != EMSGSIZE && errno != ENOBUFS && errno != ENOMEM)
            lost("does not take requests");
        return m; // no child exists: forking instead is safe
    }

    // From here a child may exist even if no answer comes: forking another
    // one on the same pipes would make two programs. Such a spawn fails.
    m.retry = false;
    struct pollfd pfd {sock_, POLLIN, 0};
    int r;
    while ((r = ::poll(&pfd, 1, kReplyTimeoutMs)) < 0 && errno == EINTR) {
    }
    Reply reply{};
    int pidfd = -1;
    if (r > 0) {
        alignas(struct cmsghdr) char rctl[CMSG_SPACE(sizeof(int))];
        struct iovec riov {&reply, sizeof reply};
        struct msghdr rh {};
        rh.msg_iov = &riov;
        rh.msg_iovlen = 1;
        rh.msg_control = rctl;
        rh.msg_controllen = sizeof rctl;
        while ((n = ::recvmsg(sock_, &rh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
        }
        for (struct cmsghdr* rc = CMSG_FIRSTHDR(&rh); n > 0 && rc; rc = CMSG_NXTHDR(&rh, rc))
            if (rc->cmsg_level == SOL_SOCKET && rc->cmsg_type == SCM_RIGHTS && rc->cmsg_len >= CMSG_LEN(sizeof(int)))
                std::memcpy(&pidfd, CMSG_DATA(rc), sizeof(int));
    }
    if (r <= 0 || n != ssize_t(sizeof reply)) {
        if (pidfd >= 0)
            ::close(pidfd);
        lost(r == 0 ? "did not answer within 10 s" : "exited");
        m.error = ECHILD;
        return m;
    }
    if (reply.pid > 0) {
        m.pid = reply.pid;
        m.pidfd = pidfd;
        return m;
    }
    if (pidfd >= 0)
        ::close(pidfd);
    // Refused before any child was made: a plan it could not read is forked.
    m.retry = reply.error == EMSGSIZE || reply.error == EINVAL || reply.error == E2BIG;
    m.error = reply.error;
    return m;
}

} // namespace scopevisor
