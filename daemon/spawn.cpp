// SPDX-License-Identifier: LGPL-2.1-or-later
#include "spawn.h"
#include "exit_watcher.h"
#include "spawn_plan.h"
#include "spawn_zygote.h"
#include "state_file.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sched.h>
#include <linux/close_range.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>


namespace scopevisor {
using spawnplan::ChildPlan;
using spawnplan::kNotSpawnedExit;
namespace {

// Big pipes let a program run on while nobody reads (a daemon restart) and
// absorb bursts without blocking the program. Pages are only allocated when
// used. stdin keeps the default size: unprivileged users have a budget of
// pipe pages (fs.pipe-user-pages-soft) and stdin carries little.
constexpr int kPipeSizes[] = {1 << 20, 256 << 10};

std::string errnoText(int e) {
    const char* d = strerrordesc_np(e);
    return d ? std::string(d) : "Unknown error " + std::to_string(e);
}

std::string errnoName(int e) {
    const char* n = strerrorname_np(e);
    return n ? std::string(n) : std::to_string(e);
}

// Python's repr() of a str, as supervisord puts names into its messages with
// %r: single quotes unless the text has a single quote and no double quote.
std::string pyRepr(const std::string& s) {
    const char q = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
    std::string out(1, q);
    for (char c : s) {
        if (c == '\\' || c == q)
            out += '\\';
        out += c;
    }
    out += q;
    return out;
}

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        reset(std::exchange(o.fd_, -1));
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    void reset(int fd = -1) {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = fd;
    }
    int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }

private:
    int fd_ = -1;
};

struct Pipe {
    Fd r, w;
};

int makePipe(Pipe& p) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) < 0)
        return errno;
    p.r.reset(fds[0]);
    p.w.reset(fds[1]);
    return 0;
}

void setNonblock(int fd) {
    int fl = ::fcntl(fd, F_GETFL);
    if (fl >= 0)
        ::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void raisePipeSize(int fd) {
    for (int size : kPipeSizes)
        if (::fcntl(fd, F_SETPIPE_SZ, size) >= 0)
            return;
}

bool isNumber(const std::string& s) {
    return !s.empty() && s.size() < 11 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// What the child must do about its user, decided in the parent because the
// lookups need NSS (files, LDAP, sssd...): nothing of that is safe after
// fork() in a process with threads.
struct UserPlan {
    bool change = false;
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups; // supplementary groups, primary group included
    std::string uidText;       // for the child's messages
    std::string variables[4];  // kUserVariables: HOME, USER, LOGNAME, SHELL
};

Result<UserPlan> planUser(const std::string& user) {
    UserPlan plan;
    if (user.empty())
        return plan;

    long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buf(hint > 1024 ? static_cast<size_t>(hint) : 16384);
    struct passwd pw {};
    struct passwd* found = nullptr;
    int rc;
    // (uid_t)-1 is "no change" to setuid() and never a user.
    const bool numeric = isNumber(user);
    if (numeric && std::stoull(user) >= static_cast<uid_t>(-1))
        return Error{ErrorCode::SpawnFailed, "no such user " + pyRepr(user)};
    for (;;) {
        if (numeric)
            rc = ::getpwuid_r(static_cast<uid_t>(std::stoull(user)), &pw, buf.data(), buf.size(), &found);
        else
            rc = ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
        if (rc == ERANGE && buf.size() < (1u << 24)) {
            buf.resize(buf.size() * 2);
            continue;
        }
        break;
    }
    // As supervisord, a numeric uid must exist in the user database too: the
    // child needs its primary group and supplementary groups.
    if (!found) {
        if (rc != 0 && rc != ENOENT && rc != ESRCH && rc != EBADF && rc != EPERM)
            return Error{ErrorCode::SpawnFailed, "couldn't look up user " + pyRepr(user) + ": " + errnoText(rc)};
        return Error{ErrorCode::SpawnFailed, "no such user " + pyRepr(user)};
    }

    plan.uid = pw.pw_uid;
    plan.gid = pw.pw_gid;
    plan.uidText = std::to_string(pw.pw_uid);
    // As systemd's User=: "/" and /bin/sh stand in for an empty field.
    const auto field = [](const char* v, const char* otherwise) { return v && *v ? v : otherwise; };
    plan.variables[0] = field(pw.pw_dir, "/");
    plan.variables[1] = pw.pw_name;
    plan.variables[2] = pw.pw_name;
    plan.variables[3] = field(pw.pw_shell, "/bin/sh");
    // supervisord: running as the configured user already is fine, and then
    // nothing is changed (not even the supplementary groups).
    if (pw.pw_uid == ::getuid())
        return plan;
    if (::getuid() != 0)
        return Error{ErrorCode::SpawnFailed,
                     "couldn't setuid to " + plan.uidText + ": can't drop privilege as nonroot user"};

    int n = 32;
    plan.groups.resize(static_cast<size_t>(n));
    while (::getgrouplist(pw.pw_name, pw.pw_gid, plan.groups.data(), &n) < 0) {
        size_t want = std::max(static_cast<size_t>(n), plan.groups.size() * 2);
        if (want > 65536)
            return Error{ErrorCode::SpawnFailed, "couldn't get the groups of user " + pyRepr(user)};
        plan.groups.resize(want);
        n = static_cast<int>(want);
    }
    plan.groups.resize(static_cast<size_t>(n));
    plan.change = true;
    return plan;
}

} // namespace

namespace {

// Low fd numbers, taken when the daemon starts (before it opens anything
// else) and kept open on /dev/null, where the daemon puts the child's ends
// of its pipes for the time of a spawnShared: the child then needs only the
// fds below them and gets a table of just those (runChild). Taken once, by
// a static initializer; used by the one thread that spawns.
class ChildSlots {
public:
    enum { In, Out, Err, Error, Count };
    ChildSlots() {
        for (int& fd : fd_) {
            fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (fd < 0 || fd >= kMaxSlot)
                ok_ = false;
        }
        // Opened after the slots, so above them: not in a child's table.
        null_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_ < 0)
            ok_ = false;
    }
    // Usable: every slot was opened, low enough to be cheap to copy.
    bool ok() const { return ok_; }
    int below() const { return *std::max_element(std::begin(fd_), std::end(fd_)) + 1; }
    // Put `fd` in slot `i`, or empty the slot with fd -1; returns the slot's
    // number, or -1 (with nothing changed) for fd -1.
    int put(int i, int fd) {
        if (fd < 0) {
            clear(i);
            return -1;
        }
        return ::dup3(fd, fd_[i], O_CLOEXEC) < 0 ? -2 : fd_[i];
    }
    // Back to /dev/null: the slot no longer holds a pipe end open.
    void clear(int i) { ::dup3(null_, fd_[i], O_CLOEXEC); }

private:
    static constexpr int kMaxSlot = 64;
    int fd_[Count] = {-1, -1, -1, -1};
    int null_ = -1; // what an empty slot holds, opened once rather than per spawn
    bool ok_ = true;
};
ChildSlots childSlots;

// The open-files soft limit the daemon started with, read before main()
// (which raises it to the hard limit for the daemon's own pipes). Programs
// get it back: 1024 under systemd, and a program that uses select() breaks
// on fds above 1024 (the soft limit exists for them, systemd.exec(5)).
struct StartNofile {
    bool known = false;
    rlim_t soft = 0;
    StartNofile() {
        struct rlimit rl {};
        if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
            known = true;
            soft = rl.rlim_cur;
        }
    }
};
const StartNofile startNofile;

// The stack of a child made by spawnShared, reused: one child at a time
// runs on it (the spawning thread is suspended until that child execs or
// exits) and only one thread spawns (the direct backend's spawner). A guard page below it turns an
// overflow into a crash of the child instead of a write into the daemon.
constexpr size_t kChildStack = 256 << 10;
char* childStackTop() {
    static char* top = [] {
        const size_t page = size_t(::sysconf(_SC_PAGESIZE));
        void* m = ::mmap(nullptr, kChildStack + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                         -1, 0);
        if (m == MAP_FAILED)
            return static_cast<char*>(nullptr);
        ::mprotect(m, page, PROT_NONE);
        return static_cast<char*>(m) + page + kChildStack;
    }();
    return top;
}

// The child of a program that needs no holding, made the way posix_spawn
// makes one: it shares the daemon's memory (CLONE_VM) and the daemon's
// thread waits (CLONE_VFORK) until it has exec'd or exited. No page tables
// are copied, so a spawn costs the same however big the daemon has grown;
// with a thousand programs fork() took most of a millisecond each, which
// held up D-Bus replies while many programs started. It starts on the
// daemon's fd table too (CLONE_FILES), so that the thousands of fds of a
// big daemon are not copied, and makes a small table of its own before
// anything else (ChildSlots, runChild). Its signal handlers, working
// directory and umask are copies (no CLONE_SIGHAND, CLONE_FS).
// Every signal is blocked around clone(), so no handler of the daemon can
// run in the child on the daemon's memory before runChild resets them.
// Returns -1 with errno when the child could not be made.
pid_t spawnShared(const ChildPlan& plan) {
    char* stack = childStackTop();
    if (!stack)
        return -1;
    sigset_t all, old;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = ::clone(spawnplan::childMain, stack, CLONE_VM | CLONE_FILES | CLONE_VFORK | SIGCHLD, const_cast<ChildPlan*>(&plan));
    const int e = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    errno = e;
    return pid;
}

std::string processLabel(const SpawnSpec& spec) {
    return pyRepr(spec.cfg ? spec.cfg->name : spec.namespec);
}

} // namespace

int pidfdOpen(pid_t pid) {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

int pidfdSendSignal(int pidfd, int sig) {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

Result<Forked> forkChild(const SpawnSpec& spec, bool hold, SpawnZygote* zygote) {
    auto user = planUser(spec.user);
    if (!user)
        return user.error();

    // argv and envp point into strings that the child sees through its copy
    // of the parent's memory; nothing is allocated after fork().
    std::vector<std::string> args = spec.argv.empty() ? std::vector<std::string>{spec.path} : spec.argv;
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env = spec.env;
    if (!spec.user.empty())
        addUserVariables(env, user.value().variables);
    std::vector<char*> envp;
    envp.reserve(env.size() + 1);
    for (auto& e : env)
        envp.push_back(e.data());
    envp.push_back(nullptr);

    Pipe in, out, err, errp;
    Fd relParent, relChild;
    int e = makePipe(in);
    if (!e)
        e = makePipe(out);
    if (!e && !spec.redirectStderr)
        e = makePipe(err);
    if (!e)
        e = makePipe(errp);
    if (!e && hold) {
        // A socket rather than a pipe so that releasing a child that died
        // meanwhile is EPIPE for send(MSG_NOSIGNAL), not SIGPIPE.
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
            e = errno;
        } else {
            relParent.reset(sv[0]);
            relChild.reset(sv[1]);
        }
    }
    if (e) {
        if (e == EMFILE || e == ENFILE)
            return Error{ErrorCode::SpawnFailed, "too many open files to spawn " + processLabel(spec)};
        return Error{ErrorCode::SpawnFailed,
                     "unknown error making dispatchers for " + processLabel(spec) + ": " + errnoName(e)};
    }
    setNonblock(in.w.get());
    setNonblock(out.r.get());
    raisePipeSize(out.r.get());
    if (err.r.get() >= 0) {
        setNonblock(err.r.get());
        raisePipeSize(err.r.get());
    }
    setNonblock(errp.r.get());

    ChildPlan plan;
    plan.path = spec.path.c_str();
    plan.argv = argv.data();
    plan.envp = envp.data();
    plan.argv0 = args[0].c_str();
    plan.directory = spec.directory.empty() ? nullptr : spec.directory.c_str();
    plan.umask = spec.umask;
    plan.hold = hold;
    plan.keepPipesAlive = spec.keepPipesAlive;
    plan.in = in.r.get();
    plan.out = out.w.get();
    plan.err = err.w.get();
    plan.errorFd = errp.w.get();
    plan.releaseFd = relChild.get();
    const UserPlan& u = user.value();
    plan.changeUser = u.change;
    plan.uid = u.uid;
    plan.gid = u.gid;
    plan.groups = u.groups.data();
    plan.ngroups = u.groups.size();
    plan.uidText = u.uidText.c_str();
    struct rlimit rl {};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        plan.maxFd = static_cast<int>(std::min<rlim_t>(rl.rlim_cur, 65536));
    if (startNofile.known && rl.rlim_cur != startNofile.soft)
        plan.nofileSoft = static_cast<int>(std::min<rlim_t>(startNofile.soft, INT_MAX));

    // A held child waits for the backend before it execs, so it cannot
    // share our memory while we wait for its exec: it gets a copy, made by
    // the spawner when there is one (cheap, spawn_zygote.h), else by fork().
    const bool shared = !hold && childSlots.ok();
    pid_t pid = -1;
    int pidfd = -1;
    bool made = false; // by spawnShared or the spawner: no fork() here
    if (shared) {
        made = true;
        plan.sharedFilesBelow = childSlots.below();
        plan.in = childSlots.put(ChildSlots::In, in.r.get());
        plan.out = childSlots.put(ChildSlots::Out, out.w.get());
        plan.err = childSlots.put(ChildSlots::Err, err.w.get());
        plan.errorFd = childSlots.put(ChildSlots::Error, errp.w.get());
        const bool placed = plan.in >= 0 && plan.out >= 0 && plan.err != -2 && plan.errorFd >= 0;
        pid = placed ? spawnShared(plan) : -1;
        const int fe = errno;
        for (int i = 0; i < ChildSlots::Count; ++i)
            childSlots.clear(i);
        errno = placed ? fe : EMFILE;
    } else if (zygote) {
        SpawnZygote::Made m = zygote->spawn(plan);
        if (!m.retry) {
            made = true;
            pid = m.pid;
            pidfd = m.pidfd;
            errno = m.error;
            if (pid < 0 && m.error == ECHILD)
                return Error{ErrorCode::SpawnFailed,
                             "the spawner process exited while making the child of " + processLabel(spec)};
        }
    }
    if (!made)
        pid = ::fork();
    if (pid < 0) {
        int fe = errno;
        if (fe == EAGAIN)
            return Error{ErrorCode::SpawnFailed, "Too many processes in process table to spawn " + processLabel(spec)};
        return Error{ErrorCode::SpawnFailed,
                     "unknown error during fork for " + processLabel(spec) + ": " + errnoName(fe)};
    }
    if (!made && pid == 0)
        spawnplan::runChild(plan);

    // Parent: drop the child's ends, so EOF and EPIPE mean what they should.
    in.r.reset();
    out.w.reset();
    err.w.reset();
    errp.w.reset();
    relChild.reset();

    // The child cannot have been reaped yet (only we wait for it), so the
    // pidfd refers to it even if it has already exited.
    if (pidfd < 0)
        pidfd = pidfdOpen(pid);
    if (pidfd < 0) {
        int pe = errno;
        ::kill(pid, SIGKILL);
        reap(pid);
        return Error{ErrorCode::SpawnFailed,
                     "couldn't open a pidfd for " + processLabel(spec) + ": " + errnoText(pe)};
    }

    Forked f;
    f.child.pid = pid;
    f.child.pidfd = pidfd;
    // Now, on the spawning thread: the kernel holds a process's /proc/<pid>/stat
    // while it execs (the exec's update lock), and a program that is
    // preempted in the middle of its exec kept the engine's thread waiting
    // 8 to 30 ms for it when this was read there. A held child cannot be
    // exec'ing yet; a shared one has exec'd, or this thread waits, not the
    // engine.
    f.child.startTicks = processStartTicks(pid);
    f.child.stdinFd = in.w.release();
    f.child.stdoutFd = out.r.release();
    f.child.stderrFd = err.r.release();
    f.releaseFd = relParent.release();
    f.errorFd = errp.r.release();
    return f;
}

void releaseChild(int releaseFd) {
    if (releaseFd < 0)
        return;
    char go = 1;
    while (::send(releaseFd, &go, 1, MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
    // A failed send means the child is gone; its exit is reported as usual.
    ::close(releaseFd);
}

std::string readSpawnError(int errorFd, bool block) {
    std::string msg;
    char buf[1024];
    for (;;) {
        ssize_t n = ::read(errorFd, buf, sizeof(buf));
        if (n > 0) {
            msg.append(buf, static_cast<size_t>(n));
            continue;
        }
        if (n == 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN && block) {
            struct pollfd pfd {errorFd, POLLIN, 0};
            ::poll(&pfd, 1, -1);
            continue;
        }
        break;
    }
    return msg;
}

Result<std::string> resolveExecutable(const std::string& argv0, const std::string& pathEnv,
                                      const std::string& directory) {
    if (argv0.empty())
        return Error{ErrorCode::NotExecutable, "command is empty"};

    // Where the child will find `p`: relative paths are resolved after its chdir.
    auto where = [&](const std::string& p) {
        return (p[0] != '/' && !directory.empty()) ? directory + "/" + p : p;
    };

    std::string filename = argv0;
    struct stat st {};
    bool found = false;
    if (argv0.find('/') != std::string::npos) {
        found = ::stat(where(argv0).c_str(), &st) == 0;
    } else {
        std::string path = pathEnv.empty() ? "/bin:/usr/bin:/usr/local/bin" : pathEnv;
        size_t pos = 0;
        for (;;) {
            size_t colon = path.find(':', pos);
            std::string dir = path.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
            // os.path.join(dir, name): "" joins to the bare name.
            std::string candidate = dir.empty() ? argv0 : (dir.back() == '/' ? dir + argv0 : dir + "/" + argv0);
            if (::stat(where(candidate).c_str(), &st) == 0) {
                filename = candidate;
                found = true;
                break;
            }
            if (colon == std::string::npos)
                break;
            pos = colon + 1;
        }
    }

    if (!found)
        return Error{ErrorCode::NoFile, "can't find command " + pyRepr(filename)};
    if (S_ISDIR(st.st_mode))
        return Error{ErrorCode::NotExecutable, "command at " + pyRepr(filename) + " is a directory"};
    if (!(st.st_mode & 0111))
        return Error{ErrorCode::NotExecutable, "command at " + pyRepr(filename) + " is not executable"};
    if (::access(where(filename).c_str(), X_OK) != 0)
        return Error{ErrorCode::NotExecutable, "no permission to run command " + pyRepr(filename)};
    return filename;
}

} // namespace scopevisor
