// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The child side of a spawn (spawn_plan.h): everything that runs between
// clone/fork and exec, on a plan made in the parent. Only async-signal-safe
// calls here: the daemon has threads, and the child may share its memory.
#include "spawn_plan.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sched.h>
#include <linux/close_range.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace scopevisor {
using spawnplan::ChildPlan;
using spawnplan::kNotSpawnedExit;
namespace {
// A message assembled without allocating (the child may not malloc).
class Msg {
public:
    Msg& add(const char* s) {
        while (s && *s && n_ < sizeof(buf_) - 1)
            buf_[n_++] = *s++;
        return *this;
    }
    Msg& err(int e) {
        const char* d = strerrordesc_np(e);
        return d ? add(d) : add("Unknown error ").num(e);
    }
    Msg& errName(int e) {
        const char* d = strerrorname_np(e);
        return d ? add(d) : num(e);
    }
    Msg& num(long v) {
        char tmp[24];
        int i = 0;
        unsigned long u = v < 0 ? 0ul - static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
        do {
            tmp[i++] = static_cast<char>('0' + u % 10);
            u /= 10;
        } while (u);
        if (v < 0)
            tmp[i++] = '-';
        while (i > 0 && n_ < sizeof(buf_) - 1)
            buf_[n_++] = tmp[--i];
        return *this;
    }
    const char* data() const { return buf_; }
    size_t size() const { return n_; }

private:
    char buf_[4096];
    size_t n_ = 0;
};

void writeAll(int fd, const char* p, size_t n) {
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= static_cast<size_t>(w);
    }
}

// Report a failure in the child and exit. `why` goes to the daemon through
// the error pipe; once fds 0-2 are the program's, `compat` (supervisord's
// text for the same failure, or `why` when it has none) goes to the
// program's stderr followed by supervisord's closing line, so that a log
// reader sees what supervisord would have logged.
[[noreturn]] void childFail(int errorFd, const Msg& why, const Msg* compat, bool stdioReady) {
    writeAll(errorFd, why.data(), why.size());
    if (stdioReady) {
        const Msg& c = compat ? *compat : why;
        writeAll(2, "supervisor: ", 12);
        writeAll(2, c.data(), c.size());
        writeAll(2, "\n", 1);
        static const char kNotSpawned[] = "supervisor: child process was not spawned\n";
        writeAll(2, kNotSpawned, sizeof(kNotSpawned) - 1);
    }
    ::_exit(kNotSpawnedExit);
}


// The credential calls of one thread: the kernel's, not libc's, which
// would apply them to every thread libc knows of (see runChild).
#if defined(SYS_setuid32)
constexpr long kSysSetuid = SYS_setuid32, kSysSetgid = SYS_setgid32, kSysSetgroups = SYS_setgroups32;
#else
constexpr long kSysSetuid = SYS_setuid, kSysSetgid = SYS_setgid, kSysSetgroups = SYS_setgroups;
#endif
int rawSetuid(uid_t uid) { return int(::syscall(kSysSetuid, uid)); }
int rawSetgid(gid_t gid) { return int(::syscall(kSysSetgid, gid)); }
int rawSetgroups(const gid_t* groups, size_t n) {
    return int(::syscall(kSysSetgroups, n, groups));
}

} // namespace

namespace spawnplan {

void closeRange(unsigned first, unsigned last, int maxFd) {
    if (first > last)
        return;
    if (::syscall(SYS_close_range, first, last, 0) == 0)
        return;
    unsigned end = std::min(last, static_cast<unsigned>(maxFd));
    for (unsigned fd = first; fd <= end; ++fd)
        ::close(static_cast<int>(fd));
}

// Only async-signal-safe calls from here on (see the top of spawn.h).
[[noreturn]] void runChild(const ChildPlan& p) {
    int errorFd = p.errorFd;
    auto fail = [&](Msg& m, bool stdioReady) { childFail(errorFd, m, nullptr, stdioReady); };

    if (p.sharedFilesBelow >= 0) {
        // Copy only fds 0 to sharedFilesBelow-1 into a table of our own
        // (the kernel copies nothing above the range's start): the daemon's
        // thousands of pipes are neither copied nor closed here. Kernels
        // before 5.9 lack the flag: copy the whole table then, and close
        // the rest below like after fork().
        if (::syscall(SYS_close_range, unsigned(p.sharedFilesBelow), ~0u, CLOSE_RANGE_UNSHARE) < 0 &&
            ::unshare(CLONE_FILES) < 0) {
            Msg m;
            m.add("couldn't make a file descriptor table: ").err(errno);
            fail(m, false);
        }
    }

    // Own session, hence own process group (pgid == sid == pid): the program
    // is one unit for group signals and is detached from the daemon's
    // controlling terminal.
    if (::setsid() < 0) {
        Msg m;
        m.add("couldn't create a session: ").err(errno);
        fail(m, false);
    }

    // The daemon blocks the signals it handles through sd-event and may
    // ignore others (SIGPIPE); ignored dispositions and the mask survive
    // execve(), so the program would inherit them. Dispositions first, then
    // the mask, so no daemon handler can run here.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig)
        ::sigaction(sig, &dfl, nullptr); // SIGKILL, SIGSTOP and libc's own fail: fine
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);

    // Move every fd we keep above 2 first: if the daemon runs with 0, 1 or 2
    // closed, a pipe end may sit on one of the target numbers, and dup2()
    // onto itself would keep O_CLOEXEC.
    auto lift = [&](int fd) {
        if (fd < 0)
            return -1;
        int n = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (n < 0) {
            Msg m;
            m.add("couldn't set up the standard fds: ").err(errno);
            fail(m, false);
        }
        return n;
    };
    errorFd = lift(errorFd);
    int in = lift(p.in), out = lift(p.out), err = lift(p.err), rel = lift(p.releaseFd);
    if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err >= 0 ? err : out, 2) < 0) {
        Msg m;
        m.add("couldn't set up the standard fds: ").err(errno);
        fail(m, false);
    }

    if (p.keepPipesAlive) {
        // A read-write open of the pipe through /proc gives the child a
        // reader and a writer of each of its own pipes, so they stay intact
        // while no daemon holds the other end (docs/architecture.md §5).
        static const char* const kSelf[] = {"/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/2"};
        for (int fd = 0; fd < 3; ++fd) {
            int n = ::open(kSelf[fd], O_RDWR | O_CLOEXEC);
            if (n < 0 || ::dup2(n, fd) < 0) {
                Msg m;
                m.add("couldn't reopen ").add(kSelf[fd]).add(" read-write: ").err(errno);
                fail(m, true);
            }
            ::close(n);
        }
    }

    // Close everything else: fds the daemon leaked without O_CLOEXEC must
    // not reach the program, and a held child must not keep the pipes of
    // programs spawned after it open. Keep only the error pipe and the
    // release socket (both O_CLOEXEC).
    {
        int keep[2] = {errorFd, rel};
        if (keep[1] < keep[0])
            std::swap(keep[0], keep[1]);
        unsigned next = 3;
        for (int k : keep) {
            if (k < 0)
                continue;
            if (static_cast<unsigned>(k) > next)
                closeRange(next, static_cast<unsigned>(k) - 1, p.maxFd);
            next = static_cast<unsigned>(k) + 1;
        }
        closeRange(next, ~0u, p.maxFd);
    }

    if (p.hold) {
        // Wait for the backend: one byte means go, EOF means give up (the
        // scope could not be created, or the daemon died).
        char b;
        ssize_t r;
        do
            r = ::read(rel, &b, 1);
        while (r < 0 && errno == EINTR);
        if (r != 1)
            ::_exit(kNotSpawnedExit);
        ::close(rel);
    }

    if (p.changeUser) {
        int e = 0;
        const char* compatWhy = nullptr;
        const char* step = nullptr;
        // Raw system calls: the child shares the daemon's memory until it
        // execs (spawnShared), so libc still believes it has the daemon's
        // threads, and its setuid() would change their credentials too.
        if (rawSetgroups(p.groups, p.ngroups) < 0) {
            e = errno;
            compatWhy = "Could not set groups of effective user";
            step = "couldn't set supplementary groups: ";
        } else if (rawSetgid(p.gid) < 0) {
            e = errno;
            compatWhy = "Could not set group id of effective user";
            step = "couldn't setgid: ";
        } else if (rawSetuid(p.uid) < 0) {
            e = errno;
        }
        if (e) {
            Msg m, c;
            m.add("couldn't setuid to ").add(p.uidText).add(": ").add(step).err(e);
            c.add("couldn't setuid to ").add(p.uidText).add(": ");
            if (compatWhy)
                c.add(compatWhy);
            else
                c.err(e);
            childFail(errorFd, m, &c, true);
        }
    }

    if (p.directory && ::chdir(p.directory) < 0) {
        Msg m;
        m.add("couldn't chdir to ").add(p.directory).add(": ").err(errno);
        fail(m, true);
    }

    if (p.umask >= 0)
        ::umask(static_cast<mode_t>(p.umask));

    if (p.nofileSoft >= 0) {
        // Lowering the soft limit needs no privilege; it can only fail if
        // the hard limit is now below it, and then the hard limit is what
        // the program may have.
        struct rlimit rl {};
        if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
            rl.rlim_cur = std::min<rlim_t>(static_cast<rlim_t>(p.nofileSoft), rl.rlim_max);
            ::setrlimit(RLIMIT_NOFILE, &rl);
        }
    }

    ::execve(p.path, p.argv, p.envp);
    int e = errno;
    // supervisord names argv[0] and the errno symbol ("ENOENT") in the
    // program's log; the daemon gets the resolved path and the text.
    Msg m, c;
    m.add("couldn't exec ").add(p.path).add(": ").err(e);
    c.add("couldn't exec ").add(p.argv0).add(": ").errName(e);
    childFail(errorFd, m, &c, true);
}

int childMain(void* plan) { runChild(*static_cast<const ChildPlan*>(plan)); }

} // namespace spawnplan

} // namespace scopevisor
