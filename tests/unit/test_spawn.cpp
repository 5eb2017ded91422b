// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Spawning and the direct backend, with real processes.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "direct_backend.h"
#include "sd_event_loop.h"
#include "spawn.h"
#include "spawn_zygote.h"
#include "state_file.h"

using namespace scopevisor;

namespace {

SpawnSpec makeSpec(std::vector<std::string> argv) {
    SpawnSpec s;
    s.namespec = "test";
    s.path = argv.at(0);
    s.argv = std::move(argv);
    s.env = {"PATH=/usr/bin:/bin"};
    return s;
}

SpawnSpec shell(const std::string& script) { return makeSpec({"/bin/sh", "-c", script}); }

void closeFd(int& fd) {
    if (fd >= 0)
        ::close(fd);
    fd = -1;
}

void closeChildFds(Child& c) {
    closeFd(c.pidfd);
    closeFd(c.stdinFd);
    closeFd(c.stdoutFd);
    closeFd(c.stderrFd);
}

// Read the given fds until EOF on all of them (or the timeout).
std::vector<std::string> drain(std::vector<int> fds, int timeoutMs = 10000) {
    std::vector<std::string> out(fds.size());
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    for (;;) {
        std::vector<pollfd> pfds;
        std::vector<size_t> idx;
        for (size_t i = 0; i < fds.size(); ++i)
            if (fds[i] >= 0) {
                pfds.push_back({fds[i], POLLIN, 0});
                idx.push_back(i);
            }
        if (pfds.empty())
            break;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            ADD_FAILURE() << "timeout reading child output";
            break;
        }
        ::poll(pfds.data(), pfds.size(), static_cast<int>(left.count()));
        for (size_t k = 0; k < pfds.size(); ++k) {
            if (!pfds[k].revents)
                continue;
            char buf[4096];
            ssize_t n = ::read(pfds[k].fd, buf, sizeof buf);
            if (n > 0)
                out[idx[k]].append(buf, static_cast<size_t>(n));
            else if (n == 0 || (errno != EAGAIN && errno != EINTR))
                fds[idx[k]] = -1;
        }
    }
    return out;
}

int waitFor(pid_t pid) {
    int status = -1;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

struct Outcome {
    std::string spawnError; // parent-side error or the child's message
    std::string out, err;
    int status = -1;
};

// The three ways a child is made: sharing the daemon's memory until it
// execs (the direct backend), held and forked from the daemon, held and made
// by the spawner process (the systemd backend).
enum class Way { Shared, HeldFork, HeldSpawner };

std::string wayName(const testing::TestParamInfo<Way>& w) {
    return w.param == Way::Shared ? "Shared" : w.param == Way::HeldFork ? "HeldFork" : "HeldSpawner";
}

// One spawner for the whole test program, started on first use.
SpawnZygote* testSpawner() {
    static std::unique_ptr<SpawnZygote> z = [] {
        std::string why;
        auto s = SpawnZygote::start(&why);
        EXPECT_TRUE(s) << why;
        return s;
    }();
    return z.get();
}

// forkChild the given way; a held child is released at once.
Result<Forked> make(const SpawnSpec& spec, Way way) {
    if (way == Way::Shared)
        return forkChild(spec, false);
    auto f = forkChild(spec, true, way == Way::HeldSpawner ? testSpawner() : nullptr);
    if (f) {
        releaseChild(f->releaseFd);
        f->releaseFd = -1;
    }
    return f;
}

// Spawn, feed `input` to stdin (then close it), collect everything, reap.
Outcome run(const SpawnSpec& spec, const std::string& input = {}, Way way = Way::Shared) {
    Outcome o;
    auto f = make(spec, way);
    if (!f) {
        o.spawnError = f.error().message;
        return o;
    }
    Child& c = f->child;
    o.spawnError = readSpawnError(f->errorFd, true);
    closeFd(f->errorFd);
    if (!input.empty()) {
        int fl = ::fcntl(c.stdinFd, F_GETFL);
        ::fcntl(c.stdinFd, F_SETFL, fl & ~O_NONBLOCK);
        EXPECT_EQ(::write(c.stdinFd, input.data(), input.size()), static_cast<ssize_t>(input.size()));
    }
    closeFd(c.stdinFd);
    auto res = drain({c.stdoutFd, c.stderrFd});
    o.out = res[0];
    o.err = res[1];
    o.status = waitFor(c.pid);
    closeChildFds(c);
    return o;
}

bool exitedWith(int status, int code) { return WIFEXITED(status) && WEXITSTATUS(status) == code; }

std::string readLink(const std::string& p) {
    char buf[4096];
    ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
    return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

std::string realPath(const std::string& p) {
    char* r = ::realpath(p.c_str(), nullptr);
    std::string s = r ? r : "";
    std::free(r);
    return s;
}

struct ProcStat {
    char state = '?';
    pid_t pgrp = 0;
    pid_t session = 0;
};

std::optional<ProcStat> procStat(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(f, line))
        return std::nullopt;
    auto close = line.rfind(')');
    if (close == std::string::npos)
        return std::nullopt;
    std::istringstream rest(line.substr(close + 2));
    ProcStat st;
    pid_t ppid;
    rest >> st.state >> ppid >> st.pgrp >> st.session;
    return st;
}

// Live (non-zombie) processes whose process group is `pgid`.
std::vector<pid_t> groupMembers(pid_t pgid) {
    std::vector<pid_t> pids;
    DIR* d = ::opendir("/proc");
    if (!d)
        return pids;
    while (dirent* e = ::readdir(d)) {
        char* end;
        long pid = std::strtol(e->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        auto st = procStat(static_cast<pid_t>(pid));
        if (st && st->pgrp == pgid && st->state != 'Z' && st->state != 'X')
            pids.push_back(static_cast<pid_t>(pid));
    }
    ::closedir(d);
    return pids;
}

template <typename Pred>
bool eventually(Pred pred, int timeoutMs = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline)
            return pred();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

class TempDir {
public:
    TempDir() {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/scopevisor-spawn-XXXXXX";
        if (::mkdtemp(tmpl.data()))
            path_ = tmpl;
    }
    ~TempDir() { (void)!std::system(("rm -rf '" + path_ + "'").c_str()); }
    const std::string& path() const { return path_; }
    std::string file(const std::string& name, const std::string& content, mode_t mode) const {
        std::string p = path_ + "/" + name;
        std::ofstream(p) << content;
        ::chmod(p.c_str(), mode);
        return p;
    }

private:
    std::string path_;
};

bool isRoot() { return ::geteuid() == 0; }

} // namespace

// ---------------------------------------------------------------- resolveExecutable

TEST(ResolveExecutable, SearchesPath) {
    auto r = resolveExecutable("true", "/nonexistent:/usr/bin:/bin");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r.value(), "/usr/bin/true");
}

TEST(ResolveExecutable, EmptyPathUsesSupervisordDefault) {
    auto r = resolveExecutable("sh", "");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r.value(), "/bin/sh");
}

TEST(ResolveExecutable, NameWithSlashIsUsedAsIs) {
    auto r = resolveExecutable("/bin/true", "/nonexistent");
    ASSERT_TRUE(r);
    EXPECT_EQ(r.value(), "/bin/true");
}

TEST(ResolveExecutable, RelativeNameIsCheckedInDirectory) {
    TempDir d;
    d.file("prog", "#!/bin/sh\n", 0755);
    auto r = resolveExecutable("./prog", "", d.path());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r.value(), "./prog"); // the child resolves it after its chdir
    EXPECT_FALSE(resolveExecutable("./prog", "", "/nonexistent"));
}

TEST(ResolveExecutable, MissingIsNoFile) {
    auto r = resolveExecutable("no-such-command-xyz", "/usr/bin:/bin");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::NoFile);
    EXPECT_EQ(r.error().message, "can't find command 'no-such-command-xyz'");

    r = resolveExecutable("/nonexistent/prog", "");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::NoFile);
    EXPECT_EQ(r.error().message, "can't find command '/nonexistent/prog'");
}

TEST(ResolveExecutable, NotExecutable) {
    TempDir d;
    std::string f = d.file("data", "x\n", 0644);
    auto r = resolveExecutable(f, "");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::NotExecutable);
    EXPECT_EQ(r.error().message, "command at '" + f + "' is not executable");

    // The first match on PATH wins, executable or not (as supervisord).
    auto onPath = resolveExecutable("data", d.path() + ":/usr/bin");
    ASSERT_FALSE(onPath);
    EXPECT_EQ(onPath.error().code, ErrorCode::NotExecutable);
}

TEST(ResolveExecutable, DirectoryIsNotExecutable) {
    TempDir d;
    auto r = resolveExecutable(d.path(), "");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::NotExecutable);
    EXPECT_EQ(r.error().message, "command at '" + d.path() + "' is a directory");
}

TEST(ResolveExecutable, EmptyCommand) {
    auto r = resolveExecutable("", "");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::NotExecutable);
}

// ---------------------------------------------------------------- buildEnvironment

TEST(BuildEnvironment, SupervisordOrderAndOverrides) {
    config::DaemonConfig daemon;
    daemon.environment = {{"FROM_DAEMON_SECTION", "d"}, {"SHARED", "daemon-section"}};
    config::ProcessConfig prog;
    prog.name = "web_01";
    prog.group = "web";
    prog.environment = {{"SHARED", "program"}, {"PROG", "p"}, {"HOME", "/srv"}};
    std::vector<std::pair<std::string, std::string>> base = {{"HOME", "/root"}, {"PATH", "/usr/bin"}};

    auto env = buildEnvironment(base, daemon, prog, "unix:///run/scopevisor/supervisor.sock");
    std::vector<std::string> want = {
        "HOME=/srv", // overridden in place: order is first appearance
        "PATH=/usr/bin",
        "SUPERVISOR_ENABLED=1",
        "SUPERVISOR_SERVER_URL=unix:///run/scopevisor/supervisor.sock",
        "SUPERVISOR_PROCESS_NAME=web_01",
        "SUPERVISOR_GROUP_NAME=web",
        "FROM_DAEMON_SECTION=d",
        "SHARED=program",
        "PROG=p",
    };
    EXPECT_EQ(env, want);
}

TEST(BuildEnvironment, ServerUrl) {
    config::DaemonConfig daemon;
    config::ProcessConfig prog;
    prog.name = prog.group = "x";

    auto has = [](const std::vector<std::string>& env, const std::string& kv) {
        return std::find(env.begin(), env.end(), kv) != env.end();
    };
    auto noUrl = [](const std::vector<std::string>& env) {
        return std::none_of(env.begin(), env.end(),
                            [](const std::string& e) { return e.rfind("SUPERVISOR_SERVER_URL=", 0) == 0; });
    };

    EXPECT_TRUE(noUrl(buildEnvironment({}, daemon, prog, ""))); // AUTO and no listener
    EXPECT_TRUE(has(buildEnvironment({}, daemon, prog, "http://127.0.0.1:9001"),
                    "SUPERVISOR_SERVER_URL=http://127.0.0.1:9001"));
    prog.serverurl = "auto";
    EXPECT_TRUE(has(buildEnvironment({}, daemon, prog, "http://a"), "SUPERVISOR_SERVER_URL=http://a"));
    prog.serverurl = "http://elsewhere:9001";
    EXPECT_TRUE(has(buildEnvironment({}, daemon, prog, "http://a"), "SUPERVISOR_SERVER_URL=http://elsewhere:9001"));
    EXPECT_TRUE(has(buildEnvironment({}, daemon, prog, ""), "SUPERVISOR_SERVER_URL=http://elsewhere:9001"));
}

TEST(BuildEnvironment, CurrentEnvironment) {
    ::setenv("SCOPEVISOR_TEST_VAR", "a=b", 1);
    auto env = currentEnvironment();
    EXPECT_NE(std::find(env.begin(), env.end(), std::make_pair(std::string("SCOPEVISOR_TEST_VAR"), std::string("a=b"))),
              env.end());
    ::unsetenv("SCOPEVISOR_TEST_VAR");
}

// ---------------------------------------------------------------- forkChild

class SpawnWays : public testing::TestWithParam<Way> {};
INSTANTIATE_TEST_SUITE_P(, SpawnWays, testing::Values(Way::Shared, Way::HeldFork, Way::HeldSpawner), wayName);

TEST_P(SpawnWays, ExitCodes) {
    auto t = run(makeSpec({"/bin/true"}), {}, GetParam());
    EXPECT_EQ(t.spawnError, "");
    EXPECT_TRUE(exitedWith(t.status, 0));

    auto f = run(makeSpec({"/bin/false"}), {}, GetParam());
    EXPECT_EQ(f.spawnError, "");
    EXPECT_TRUE(exitedWith(f.status, 1));

    auto s = run(shell("exit 3"), {}, GetParam());
    EXPECT_TRUE(exitedWith(s.status, 3));
}

TEST_P(SpawnWays, ArgvZeroAsWritten) {
    SpawnSpec s = makeSpec({"mysh", "-c", "echo $0"});
    s.path = "/bin/sh";
    auto o = run(s, {}, GetParam());
    EXPECT_EQ(o.out, "mysh\n");
}

TEST_P(SpawnWays, ExecOfMissingFile) {
    auto o = run(makeSpec({"/nonexistent/prog"}), {}, GetParam());
    EXPECT_EQ(o.spawnError, "couldn't exec /nonexistent/prog: No such file or directory");
    EXPECT_TRUE(exitedWith(o.status, 127));
    // What supervisord writes to the program's log.
    EXPECT_EQ(o.err, "supervisor: couldn't exec /nonexistent/prog: ENOENT\n"
                     "supervisor: child process was not spawned\n");
}

TEST(Spawn, ExecOfNonExecutableFile) {
    TempDir d;
    std::string f = d.file("data", "x\n", 0644);
    auto o = run(makeSpec({f}));
    EXPECT_EQ(o.spawnError, "couldn't exec " + f + ": Permission denied");
    EXPECT_TRUE(exitedWith(o.status, 127));
    EXPECT_NE(o.err.find("couldn't exec " + f + ": EACCES"), std::string::npos);
}

TEST_P(SpawnWays, BadDirectory) {
    SpawnSpec s = makeSpec({"/bin/true"});
    s.directory = "/nonexistent/dir";
    auto o = run(s, {}, GetParam());
    EXPECT_EQ(o.spawnError, "couldn't chdir to /nonexistent/dir: No such file or directory");
    EXPECT_TRUE(exitedWith(o.status, 127));
    EXPECT_EQ(o.err, "supervisor: couldn't chdir to /nonexistent/dir: No such file or directory\n"
                     "supervisor: child process was not spawned\n");
}

TEST_P(SpawnWays, Directory) {
    TempDir d;
    SpawnSpec s = makeSpec({"/bin/pwd"});
    s.directory = d.path();
    EXPECT_EQ(run(s, {}, GetParam()).out, realPath(d.path()) + "\n");
}

TEST_P(SpawnWays, Umask) {
    SpawnSpec s = shell("umask");
    s.umask = 077;
    EXPECT_EQ(run(s, {}, GetParam()).out, "0077\n");

    mode_t old = ::umask(022);
    s.umask = -1; // inherited
    EXPECT_EQ(run(s, {}, GetParam()).out, "0022\n");
    ::umask(old);
}

TEST_P(SpawnWays, EnvironmentIsExactlyTheSpec) {
    SpawnSpec s = makeSpec({"/usr/bin/env"});
    s.env = {"A=1", "B=two words", "EMPTY="};
    EXPECT_EQ(run(s, {}, GetParam()).out, "A=1\nB=two words\nEMPTY=\n");

    s = shell("echo \"$GREETING\"");
    s.env.push_back("GREETING=hello there");
    EXPECT_EQ(run(s, {}, GetParam()).out, "hello there\n");
}

TEST_P(SpawnWays, StdinToStdout) {
    auto o = run(makeSpec({"/bin/cat"}), "line one\nline two\n", GetParam());
    EXPECT_EQ(o.out, "line one\nline two\n");
    EXPECT_EQ(o.err, "");
    EXPECT_TRUE(exitedWith(o.status, 0));
}

TEST_P(SpawnWays, StderrSeparate) {
    auto o = run(shell("echo out; echo err >&2"), {}, GetParam());
    EXPECT_EQ(o.out, "out\n");
    EXPECT_EQ(o.err, "err\n");
}

TEST_P(SpawnWays, RedirectStderr) {
    SpawnSpec s = shell("echo out; echo err >&2");
    s.redirectStderr = true;
    auto f = make(s, GetParam());
    ASSERT_TRUE(f);
    EXPECT_EQ(f->child.stderrFd, -1);
    EXPECT_EQ(readSpawnError(f->errorFd, true), "");
    closeFd(f->errorFd);
    EXPECT_EQ(drain({f->child.stdoutFd})[0], "out\nerr\n");
    waitFor(f->child.pid);
    closeChildFds(f->child);
}

TEST(Spawn, DaemonEndsAreNonBlockingCloexecAndBig) {
    auto f = forkChild(makeSpec({"/bin/true"}), false);
    ASSERT_TRUE(f);
    const Child& c = f->child;
    for (int fd : {c.stdinFd, c.stdoutFd, c.stderrFd, f->errorFd, c.pidfd}) {
        ASSERT_GE(fd, 0);
        EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC) << fd;
    }
    for (int fd : {c.stdinFd, c.stdoutFd, c.stderrFd, f->errorFd})
        EXPECT_TRUE(::fcntl(fd, F_GETFL) & O_NONBLOCK) << fd;
    if (isRoot()) {
        EXPECT_EQ(::fcntl(c.stdoutFd, F_GETPIPE_SZ), 1 << 20);
        EXPECT_EQ(::fcntl(c.stderrFd, F_GETPIPE_SZ), 1 << 20);
    }
    EXPECT_EQ(f->releaseFd, -1);
    readSpawnError(f->errorFd, true);
    waitFor(c.pid);
    closeFd(f->errorFd);
    closeChildFds(f->child);
}

TEST_P(SpawnWays, OwnSessionAndProcessGroup) {
    auto f = make(makeSpec({"/bin/sleep", "10"}), GetParam());
    ASSERT_TRUE(f);
    EXPECT_EQ(readSpawnError(f->errorFd, true), "");
    auto st = procStat(f->child.pid);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->pgrp, f->child.pid);
    EXPECT_EQ(st->session, f->child.pid);
    ::kill(f->child.pid, SIGKILL);
    waitFor(f->child.pid);
    closeFd(f->errorFd);
    closeChildFds(f->child);
}

// The start time comes with the child (backend.h): the engine must not read
// /proc/<pid>/stat itself, where it waits while the program execs (issue 4,
// replies held up 8 to 30 ms during a mass start).
TEST_P(SpawnWays, StartTimeComesWithTheChild) {
    auto f = make(makeSpec({"/bin/sleep", "10"}), GetParam());
    ASSERT_TRUE(f);
    EXPECT_EQ(readSpawnError(f->errorFd, true), "");
    EXPECT_NE(f->child.startTicks, 0u);
    EXPECT_EQ(f->child.startTicks, processStartTicks(f->child.pid));
    ::kill(f->child.pid, SIGKILL);
    waitFor(f->child.pid);
    closeFd(f->errorFd);
    closeChildFds(f->child);
}

TEST_P(SpawnWays, SignalsAreReset) {
    // The daemon blocks signals for sd-event and ignores some; none of that
    // may reach the program.
    sigset_t block, old;
    ::sigemptyset(&block);
    ::sigaddset(&block, SIGTERM);
    ::sigaddset(&block, SIGCHLD);
    ::pthread_sigmask(SIG_BLOCK, &block, &old);
    struct sigaction ign {}, oldUsr1 {}, oldPipe {};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGUSR1, &ign, &oldUsr1);
    ::sigaction(SIGPIPE, &ign, &oldPipe);

    auto o = run(makeSpec({"/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"}), {}, GetParam());

    ::sigaction(SIGUSR1, &oldUsr1, nullptr);
    ::sigaction(SIGPIPE, &oldPipe, nullptr);
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    EXPECT_EQ(o.out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

TEST_P(SpawnWays, OnlyStandardFdsAreInherited) {
    int leaked = ::open("/dev/null", O_RDONLY); // no O_CLOEXEC on purpose
    ASSERT_GE(leaked, 0);
    auto o = run(makeSpec({"/bin/ls", "/proc/self/fd"}), {}, GetParam());
    ::close(leaked);
    EXPECT_EQ(o.out, "0\n1\n2\n3\n"); // 3: ls's own directory handle
}

TEST_P(SpawnWays, DaemonWithClosedStandardFds) {
    // With fd 0 closed the first pipe lands on 0; the child must still end
    // up with the right pipes on 0/1/2.
    int saved = ::dup(0);
    ::close(0);
    auto o = run(makeSpec({"/bin/cat"}), "through\n", GetParam());
    ::dup2(saved, 0);
    ::close(saved);
    EXPECT_EQ(o.out, "through\n");
    EXPECT_TRUE(exitedWith(o.status, 0));
}

// Without keepPipesAlive a program whose stdout reader is gone dies of SIGPIPE
// at its next write; with it the program has its own reader and carries on.
TEST(Spawn, WithoutKeepPipesAliveTheWriterGetsSigpipe) {
    auto f = forkChild(shell("sleep 0.2; echo x; echo ok >&2"), false);
    ASSERT_TRUE(f);
    ASSERT_EQ(readSpawnError(f->errorFd, true), "");
    closeFd(f->errorFd);
    closeFd(f->child.stdoutFd); // the daemon goes away, as far as stdout goes
    auto err = drain({f->child.stderrFd})[0];
    int status = waitFor(f->child.pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE) << status;
    EXPECT_EQ(err, "");
    closeChildFds(f->child);
}

TEST(Spawn, KeepPipesAliveSurvivesTheReadersDeparture) {
    SpawnSpec s = shell("sleep 0.2; echo x; echo ok >&2");
    s.keepPipesAlive = true;
    auto f = forkChild(s, false);
    ASSERT_TRUE(f);
    ASSERT_EQ(readSpawnError(f->errorFd, true), "");
    closeFd(f->errorFd);
    closeFd(f->child.stdoutFd);
    auto err = drain({f->child.stderrFd})[0];
    int status = waitFor(f->child.pid);
    EXPECT_TRUE(exitedWith(status, 0)) << status;
    EXPECT_EQ(err, "ok\n");
    closeChildFds(f->child);
}

TEST(Spawn, KeepPipesAliveLetsANewDaemonReopenThePipes) {
    SpawnSpec s = shell("while read l; do echo \"got $l\"; done");
    s.keepPipesAlive = true;
    auto f = forkChild(s, false);
    ASSERT_TRUE(f);
    ASSERT_EQ(readSpawnError(f->errorFd, true), "");
    closeFd(f->errorFd);
    // The old daemon's ends go away entirely...
    closeFd(f->child.stdinFd);
    closeFd(f->child.stdoutFd);
    closeFd(f->child.stderrFd);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(procStat(f->child.pid)) << "the program must not have seen EOF or SIGPIPE";
    ASSERT_NE(procStat(f->child.pid)->state, 'Z');

    // ...and a new one gets them back through /proc.
    std::string proc = "/proc/" + std::to_string(f->child.pid) + "/fd/";
    int in = ::open((proc + "0").c_str(), O_WRONLY | O_CLOEXEC);
    int out = ::open((proc + "1").c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    ASSERT_GE(in, 0);
    ASSERT_GE(out, 0);
    ASSERT_EQ(::write(in, "hi\n", 3), 3);
    std::string got;
    eventually([&] {
        char buf[64];
        ssize_t n = ::read(out, buf, sizeof buf);
        if (n > 0)
            got.append(buf, static_cast<size_t>(n));
        return got.find('\n') != std::string::npos;
    });
    EXPECT_EQ(got, "got hi\n");
    ::close(in);
    ::close(out);
    ::kill(f->child.pid, SIGKILL);
    waitFor(f->child.pid);
    closeChildFds(f->child);
}

TEST(Spawn, HoldWaitsForRelease) {
    auto f = forkChild(makeSpec({"/bin/sleep", "10"}), true);
    ASSERT_TRUE(f);
    ASSERT_GE(f->releaseFd, 0);
    const std::string exe = "/proc/" + std::to_string(f->child.pid) + "/exe";
    const std::string self = readLink("/proc/self/exe");

    // Not exec'd while held: still a copy of this test binary, and the error
    // pipe has neither a message nor EOF.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(readLink(exe), self);
    pollfd pfd{f->errorFd, POLLIN, 0};
    EXPECT_EQ(::poll(&pfd, 1, 0), 0);
    // Already in its own process group, so a scope can take it as it is.
    EXPECT_EQ(procStat(f->child.pid)->pgrp, f->child.pid);

    releaseChild(f->releaseFd);
    EXPECT_EQ(readSpawnError(f->errorFd, true), "");
    EXPECT_EQ(readLink(exe), realPath("/bin/sleep"));

    ::kill(f->child.pid, SIGKILL);
    waitFor(f->child.pid);
    closeFd(f->errorFd);
    closeChildFds(f->child);
}

TEST(Spawn, HoldAbortedByClosingTheReleaseFd) {
    auto f = forkChild(makeSpec({"/bin/sleep", "10"}), true);
    ASSERT_TRUE(f);
    ::close(f->releaseFd);
    EXPECT_EQ(readSpawnError(f->errorFd, true), "");
    EXPECT_TRUE(exitedWith(waitFor(f->child.pid), 127));
    closeFd(f->errorFd);
    closeChildFds(f->child);
}

TEST(Spawn, HoldNonBlockingErrorRead) {
    SpawnSpec s = makeSpec({"/bin/true"});
    s.directory = "/nonexistent/dir";
    auto f = forkChild(s, true);
    ASSERT_TRUE(f);
    releaseChild(f->releaseFd);
    pollfd pfd{f->errorFd, POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, 5000), 1);
    EXPECT_EQ(readSpawnError(f->errorFd, false), "couldn't chdir to /nonexistent/dir: No such file or directory");
    waitFor(f->child.pid);
    closeFd(f->errorFd);
    closeChildFds(f->child);
}

TEST(Spawn, UnknownUser) {
    SpawnSpec s = makeSpec({"/bin/true"});
    s.user = "no-such-user-xyz";
    auto f = forkChild(s, false);
    ASSERT_FALSE(f);
    EXPECT_EQ(f.error().code, ErrorCode::SpawnFailed);
    EXPECT_EQ(f.error().message, "no such user 'no-such-user-xyz'");

    s.user = "3999999999";
    f = forkChild(s, false);
    ASSERT_FALSE(f);
    EXPECT_EQ(f.error().message, "no such user '3999999999'");

    s.user = "4294967296"; // would wrap around to 0 (root) if truncated
    f = forkChild(s, false);
    ASSERT_FALSE(f);
    EXPECT_EQ(f.error().message, "no such user '4294967296'");
}

TEST_P(SpawnWays, SwitchesUser) {
    if (!isRoot())
        GTEST_SKIP() << "needs root";
    struct passwd* pw = ::getpwnam("nobody");
    if (!pw)
        GTEST_SKIP() << "no user nobody";
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    std::vector<gid_t> groups(256);
    int n = 256;
    ASSERT_GE(::getgrouplist("nobody", gid, groups.data(), &n), 0);
    groups.resize(static_cast<size_t>(n));
    std::set<gid_t> want(groups.begin(), groups.end());

    // Give the "daemon" supplementary groups that the child must not keep.
    std::vector<gid_t> savedGroups(static_cast<size_t>(::getgroups(0, nullptr)));
    savedGroups.resize(static_cast<size_t>(::getgroups(static_cast<int>(savedGroups.size()), savedGroups.data())));
    const gid_t extra[] = {0, 4, 27};
    ASSERT_EQ(::setgroups(3, extra), 0);

    for (std::string user : {std::string("nobody"), std::to_string(uid)}) {
        SpawnSpec s = shell("id -u; id -g; id -G");
        s.user = user;
        auto o = run(s, {}, GetParam());
        ASSERT_EQ(o.spawnError, "") << user;
        std::istringstream lines(o.out);
        std::string u, g, gs;
        std::getline(lines, u);
        std::getline(lines, g);
        std::getline(lines, gs);
        EXPECT_EQ(u, std::to_string(uid)) << user;
        EXPECT_EQ(g, std::to_string(gid)) << user;
        std::set<gid_t> got;
        std::istringstream gl(gs);
        for (gid_t x; gl >> x;)
            got.insert(x);
        EXPECT_EQ(got, want) << "the daemon's supplementary groups must be gone: " << gs;
    }
    ::setgroups(savedGroups.size(), savedGroups.data());
}

// What systemd hands the daemon about the daemon itself.
const char* const kDaemonOnly[] = {"NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC", "LISTEN_FDS",
                                   "LISTEN_PID",    "LISTEN_FDNAMES", "INVOCATION_ID", "JOURNAL_STREAM"};

TEST(BuildEnvironment, DaemonOnlyVariablesAreNotPassedOn) {
    std::vector<std::pair<std::string, std::string>> base = {{"PATH", "/usr/bin"}, {"TRIGGER_UNIT", "x.path"}};
    for (const char* v : kDaemonOnly)
        base.emplace_back(v, "1");
    config::DaemonConfig daemon;
    config::ProcessConfig prog;
    prog.name = prog.group = "p";
    auto env = buildEnvironment(base, daemon, prog, "");
    EXPECT_EQ(env[0], "PATH=/usr/bin");
    for (const std::string& e : env) {
        EXPECT_FALSE(isDaemonOnlyVariable(e.substr(0, e.find('=')))) << e;
        EXPECT_NE(e.rfind("TRIGGER_", 0), 0u) << e;
    }
    // Set by the configuration, it is the administrator's choice.
    prog.environment = {{"LISTEN_FDS", "0"}};
    env = buildEnvironment(base, daemon, prog, "");
    EXPECT_EQ(env.back(), "LISTEN_FDS=0");
}

TEST(BuildEnvironment, AUserProgramDoesNotGetTheDaemonsHome) {
    std::vector<std::pair<std::string, std::string>> base = {{"HOME", "/root"}, {"USER", "root"}, {"LANG", "C"}};
    config::DaemonConfig daemon;
    config::ProcessConfig prog;
    prog.name = prog.group = "p";
    prog.user = "app";
    prog.environment = {{"SHELL", "/bin/zsh"}};
    const auto env = buildEnvironment(base, daemon, prog, "");
    EXPECT_EQ(env.front(), "LANG=C");
    EXPECT_EQ(std::count(env.begin(), env.end(), "HOME=/root"), 0);
    EXPECT_EQ(env.back(), "SHELL=/bin/zsh");
    // Without user= the daemon's values stay, as supervisord's.
    prog.user.clear();
    EXPECT_EQ(buildEnvironment(base, daemon, prog, "").front(), "HOME=/root");
}

TEST_P(SpawnWays, TheDaemonsSystemdVariablesNeverReachTheProgram) {
    for (const char* v : kDaemonOnly)
        ::setenv(v, "42", 1);
    config::DaemonConfig daemon;
    config::ProcessConfig prog;
    prog.name = prog.group = "p";
    SpawnSpec s = makeSpec({"/usr/bin/env"});
    s.env = buildEnvironment(currentEnvironment(), daemon, prog, "");
    for (const char* v : kDaemonOnly)
        ::unsetenv(v);
    const auto o = run(s, {}, GetParam());
    ASSERT_EQ(o.spawnError, "");
    EXPECT_NE(o.out.find("SUPERVISOR_ENABLED=1\n"), std::string::npos) << o.out;
    for (const char* v : kDaemonOnly)
        EXPECT_EQ(o.out.find(std::string(v) + "="), std::string::npos) << v << " in\n" << o.out;
}

TEST_P(SpawnWays, AUserProgramGetsItsUsersVariables) {
    if (!isRoot())
        GTEST_SKIP() << "needs root";
    struct passwd* pw = ::getpwnam("nobody");
    if (!pw)
        GTEST_SKIP() << "no user nobody";
    const std::string home = pw->pw_dir, shellPath = *pw->pw_shell ? pw->pw_shell : "/bin/sh";
    config::DaemonConfig daemon;
    config::ProcessConfig prog;
    prog.name = prog.group = "p";
    prog.user = "nobody";
    SpawnSpec s = shell("echo \"$HOME|$USER|$LOGNAME|$SHELL\"");
    s.user = "nobody";
    s.env = buildEnvironment({{"HOME", "/root"}, {"USER", "root"}, {"LOGNAME", "root"}, {"SHELL", "/bin/bash"}},
                             daemon, prog, "");
    auto o = run(s, {}, GetParam());
    ASSERT_EQ(o.spawnError, "");
    EXPECT_EQ(o.out, home + "|nobody|nobody|" + shellPath + "\n");
    // environment= wins over the user database.
    prog.environment = {{"HOME", "/srv/app"}};
    s.env = buildEnvironment({}, daemon, prog, "");
    o = run(s, {}, GetParam());
    EXPECT_EQ(o.out, "/srv/app|nobody|nobody|" + shellPath + "\n");
}

TEST_P(SpawnWays, ProgramsGetTheOpenFilesSoftLimitTheDaemonStartedWith) {
    // As the daemon does in main(): raise the soft limit after start-up.
    // Where soft and hard are the same (and raising the hard one is not
    // allowed here), lower it instead: the child must get the start value
    // back either way.
    struct rlimit start {};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &start), 0);
    struct rlimit raised = start;
    raised.rlim_cur = start.rlim_max > start.rlim_cur ? start.rlim_max : start.rlim_cur / 2;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &raised), 0);
    const auto o = run(shell("ulimit -n; ulimit -Hn"), {}, GetParam());
    ::setrlimit(RLIMIT_NOFILE, &start);
    ASSERT_EQ(o.spawnError, "");
    EXPECT_EQ(o.out, std::to_string(start.rlim_cur) + "\n" + std::to_string(raised.rlim_max) + "\n");
}

TEST(Spawn, NonRootCannotSwitchUser) {
    if (!isRoot())
        GTEST_SKIP() << "needs root to become another user for the test";
    struct passwd* pw = ::getpwnam("nobody");
    if (!pw)
        GTEST_SKIP() << "no user nobody";
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    // A daemon running as nobody, in a child process of its own.
    pid_t helper = ::fork();
    ASSERT_GE(helper, 0);
    if (helper == 0) {
        if (::setgroups(0, nullptr) || ::setgid(gid) || ::setuid(uid))
            ::_exit(2);
        SpawnSpec s = makeSpec({"/bin/true"});
        s.user = "root";
        auto f = forkChild(s, false);
        if (f)
            ::_exit(3);
        if (f.error().message != "couldn't setuid to 0: can't drop privilege as nonroot user")
            ::_exit(4);
        s.user = "nobody"; // its own user is fine
        auto g = forkChild(s, false);
        if (!g)
            ::_exit(5);
        if (!readSpawnError(g->errorFd, true).empty())
            ::_exit(6);
        int st = waitFor(g->child.pid);
        ::_exit(exitedWith(st, 0) ? 0 : 7);
    }
    EXPECT_TRUE(exitedWith(waitFor(helper), 0));
}

// ---------------------------------------------------------------- the spawner

namespace {

std::string comm(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/comm");
    std::string c;
    std::getline(f, c);
    return c;
}

std::vector<std::string> fdsOf(pid_t pid) {
    std::vector<std::string> out;
    const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d))
            if (e->d_name[0] != '.')
                out.push_back(e->d_name);
        ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

// A held child through `z`: its first line of output and its exit status.
std::pair<std::string, int> heldThrough(SpawnZygote* z, const SpawnSpec& spec, std::string* maker = nullptr) {
    auto f = forkChild(spec, true, z);
    if (!f)
        return {"spawn failed: " + f.error().message, -1};
    if (maker) // who made it, seen before it execs: the spawner's name or ours
        *maker = comm(f->child.pid);
    releaseChild(f->releaseFd);
    std::string err = readSpawnError(f->errorFd, true);
    closeFd(f->errorFd);
    closeFd(f->child.stdinFd);
    auto out = drain({f->child.stdoutFd, f->child.stderrFd});
    int st = waitFor(f->child.pid); // ours, whoever made it
    closeChildFds(f->child);
    return {err.empty() ? out[0] : err, st};
}

} // namespace

TEST(Spawner, HoldsOnlyItsSocketAndMakesTheDaemonsChildren) {
    int leaked = ::open("/dev/null", O_RDONLY); // no O_CLOEXEC: must not reach it
    std::string why;
    auto z = SpawnZygote::start(&why);
    ::close(leaked);
    ASSERT_TRUE(z) << why;
    EXPECT_EQ(comm(z->pid()), "scopevisor-fork");
    EXPECT_EQ(fdsOf(z->pid()), (std::vector<std::string>{"0", "1", "2", "3"}));
    EXPECT_EQ(procStat(z->pid())->session, z->pid()); // out of our terminal's reach

    std::string maker;
    auto [out, st] = heldThrough(z.get(), shell("echo $PPID"), &maker);
    EXPECT_EQ(maker, "scopevisor-fork");
    EXPECT_EQ(out, std::to_string(::getpid()) + "\n"); // CLONE_PARENT
    EXPECT_TRUE(exitedWith(st, 0));
}

TEST(Spawner, ExitsAndIsReapedWithItsOwner) {
    std::string why;
    auto z = SpawnZygote::start(&why);
    ASSERT_TRUE(z) << why;
    const pid_t pid = z->pid();
    z.reset();
    EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1); // reaped already
    EXPECT_EQ(errno, ECHILD);
}

TEST(Spawner, ItsLossFallsBackToFork) {
    std::string why;
    auto z = SpawnZygote::start(&why);
    ASSERT_TRUE(z) << why;
    ASSERT_EQ(::kill(z->pid(), SIGKILL), 0);
    ASSERT_TRUE(eventually([&] { return procStat(z->pid()) && procStat(z->pid())->state == 'Z'; }));
    std::string maker;
    auto [out, st] = heldThrough(z.get(), shell("echo still"), &maker);
    EXPECT_EQ(out, "still\n");
    EXPECT_TRUE(exitedWith(st, 0));
    EXPECT_NE(maker, "scopevisor-fork");
    EXPECT_FALSE(z->alive());
}

TEST(Spawner, APlanTooBigForAMessageIsForked) {
    std::string why;
    auto z = SpawnZygote::start(&why);
    ASSERT_TRUE(z) << why;
    // One string may hold 128 KiB (MAX_ARG_STRLEN), all of them 2 MiB.
    SpawnSpec big = shell("echo ${#H0} ${#H9}");
    for (int i = 0; i < 10; ++i)
        big.env.push_back("H" + std::to_string(i) + "=" + std::string(spawnwire::kMaxMessage / 9, 'x'));
    std::string maker;
    auto [out, st] = heldThrough(z.get(), big, &maker);
    const std::string len = std::to_string(spawnwire::kMaxMessage / 9);
    EXPECT_EQ(out, len + " " + len + "\n");
    EXPECT_NE(maker, "scopevisor-fork");
    // The spawner is still there for the next one.
    EXPECT_TRUE(z->alive());
    auto [out2, st2] = heldThrough(z.get(), shell("echo small"), &maker);
    EXPECT_EQ(out2, "small\n");
    EXPECT_EQ(maker, "scopevisor-fork");
}

TEST(SpawnWire, RoundTrip) {
    const char* argv[] = {"prog", "-x", "", nullptr};
    const char* envp[] = {"A=1", "B=", nullptr};
    const gid_t groups[] = {10, 20, 30};
    spawnplan::ChildPlan p;
    p.path = "/bin/prog";
    p.argv = const_cast<char* const*>(argv);
    p.envp = const_cast<char* const*>(envp);
    p.argv0 = "prog";
    p.directory = "/srv";
    p.umask = 027;
    p.hold = true;
    p.keepPipesAlive = true;
    p.changeUser = true;
    p.uid = 1000;
    p.gid = 1001;
    p.groups = groups;
    p.ngroups = 3;
    p.uidText = "1000";
    p.maxFd = 4096;
    p.nofileSoft = 1024;
    p.in = 10, p.out = 11, p.errorFd = 12, p.releaseFd = 13, p.err = 14;
    std::string msg;
    std::vector<int> fds;
    spawnwire::encode(p, msg, fds);
    EXPECT_EQ(fds, (std::vector<int>{10, 11, 12, 13, 14}));
    const int got[] = {20, 21, 22, 23, 24}; // the numbers the receiver sees
    char* ptrs[16];
    spawnplan::ChildPlan q;
    std::vector<char> buf(msg.begin(), msg.end());
    ASSERT_EQ(spawnwire::decode(buf.data(), buf.size(), got, 5, ptrs, 16, q), 0);
    EXPECT_STREQ(q.path, "/bin/prog");
    EXPECT_STREQ(q.argv0, "prog");
    ASSERT_TRUE(q.argv[0] && q.argv[1] && q.argv[2]);
    EXPECT_STREQ(q.argv[1], "-x");
    EXPECT_STREQ(q.argv[2], "");
    EXPECT_EQ(q.argv[3], nullptr);
    EXPECT_STREQ(q.envp[0], "A=1");
    EXPECT_STREQ(q.envp[1], "B=");
    EXPECT_EQ(q.envp[2], nullptr);
    EXPECT_STREQ(q.directory, "/srv");
    EXPECT_EQ(q.umask, 027);
    EXPECT_TRUE(q.hold && q.keepPipesAlive && q.changeUser);
    EXPECT_EQ(q.uid, 1000u);
    EXPECT_EQ(q.gid, 1001u);
    ASSERT_EQ(q.ngroups, 3u);
    EXPECT_EQ(q.groups[2], 30u);
    EXPECT_STREQ(q.uidText, "1000");
    EXPECT_EQ(q.maxFd, 4096);
    EXPECT_EQ(q.nofileSoft, 1024);
    EXPECT_EQ(q.in, 20);
    EXPECT_EQ(q.out, 21);
    EXPECT_EQ(q.errorFd, 22);
    EXPECT_EQ(q.releaseFd, 23);
    EXPECT_EQ(q.err, 24);

    // No directory, no release fd, stderr merged: fewer fds, nullptr back.
    p.directory = nullptr;
    p.releaseFd = -1;
    p.err = -1;
    spawnwire::encode(p, msg, fds);
    EXPECT_EQ(fds, (std::vector<int>{10, 11, 12}));
    buf.assign(msg.begin(), msg.end());
    ASSERT_EQ(spawnwire::decode(buf.data(), buf.size(), got, 3, ptrs, 16, q), 0);
    EXPECT_EQ(q.directory, nullptr);
    EXPECT_EQ(q.releaseFd, -1);
    EXPECT_EQ(q.err, -1);
}

TEST(SpawnWire, MalformedMessagesAreRefused) {
    const char* argv[] = {"prog", nullptr};
    const char* envp[] = {nullptr};
    spawnplan::ChildPlan p;
    p.path = "/bin/prog";
    p.argv = const_cast<char* const*>(argv);
    p.envp = const_cast<char* const*>(envp);
    p.argv0 = "prog";
    p.in = 3, p.out = 4, p.errorFd = 5;
    std::string msg;
    std::vector<int> fds;
    spawnwire::encode(p, msg, fds);
    const int got[] = {3, 4, 5, 6};
    char* ptrs[4];
    spawnplan::ChildPlan q;
    auto decode = [&](std::string m, size_t nfds = 3, size_t nptrs = 4) {
        std::vector<char> b(m.begin(), m.end());
        return spawnwire::decode(b.data(), b.size(), got, nfds, ptrs, nptrs, q);
    };
    EXPECT_EQ(decode(msg), 0);
    EXPECT_EQ(decode(msg.substr(0, 10)), EINVAL);               // shorter than the header
    EXPECT_EQ(decode(msg.substr(0, msg.size() - 1)), EINVAL);   // last string unterminated
    EXPECT_EQ(decode(msg + "extra" + '\0'), EINVAL);            // bytes after the last string
    EXPECT_EQ(decode(msg, 4), EINVAL);                          // an fd too many
    EXPECT_EQ(decode(msg, 2), EINVAL);                          // an fd too few
    EXPECT_EQ(decode(msg, 3, 2), E2BIG);                        // no room for argv and envp
    std::string bad = msg;
    bad[0] ^= 1;
    EXPECT_EQ(decode(bad), EINVAL); // not our magic
}

// ---------------------------------------------------------------- DirectBackend

namespace {

struct Spawned {
    bool done = false;
    std::optional<Error> error;
    Child child;
    bool exited = false;
    int status = -1;
    bool known = false;
};

constexpr uint64_t kTimeout = 10'000'000;

// Spawn and turn the loop until `done` has run: the backend reports the exec
// (or its failure) from the loop, once the child's error pipe is closed.
void spawnInto(SdEventLoop& loop, DirectBackend& b, const SpawnSpec& spec, Spawned& s,
               std::function<void()> onExit = {}) {
    b.spawn(
        spec,
        [&s](Result<Child> r) {
            s.done = true;
            if (r)
                s.child = r.value();
            else
                s.error = r.error();
        },
        [&s, onExit](int status, bool known) {
            s.exited = true;
            s.status = status;
            s.known = known;
            if (onExit)
                onExit();
        });
    loop.runUntil([&s] { return s.done; }, kTimeout);
}

} // namespace

TEST(DirectBackend, ExitStatuses) {
    SdEventLoop loop;
    DirectBackend b(loop);
    EXPECT_STREQ(b.name(), "direct");
    Spawned t, f;
    spawnInto(loop, b, makeSpec({"/bin/true"}), t, [&] { b.cleanup(t.child); });
    spawnInto(loop, b, makeSpec({"/bin/false"}), f, [&] { b.cleanup(f.child); });
    ASSERT_TRUE(t.done && f.done) << "done runs once the child has exec'd";
    ASSERT_FALSE(t.error);
    ASSERT_FALSE(f.error);
    EXPECT_GT(t.child.pid, 0);
    EXPECT_EQ(t.child.unit, "");
    ASSERT_TRUE(loop.runUntil([&] { return t.exited && f.exited; }, kTimeout));
    EXPECT_TRUE(t.known && exitedWith(t.status, 0));
    EXPECT_TRUE(f.known && exitedWith(f.status, 1));
    // Reaped: no zombie left behind.
    EXPECT_TRUE(eventually([&] { return !procStat(t.child.pid) && !procStat(f.child.pid); }));
    for (Spawned* s : {&t, &f}) {
        s->child.pidfd = -1; // closed by cleanup()
        closeChildFds(s->child);
    }
}

TEST(DirectBackend, SpawnErrors) {
    SdEventLoop loop;
    DirectBackend b(loop);
    Spawned s;
    spawnInto(loop, b, makeSpec({"/nonexistent/prog"}), s);
    ASSERT_TRUE(s.done);
    ASSERT_TRUE(s.error);
    EXPECT_EQ(s.error->code, ErrorCode::SpawnFailed);
    EXPECT_EQ(s.error->message, "couldn't exec /nonexistent/prog: No such file or directory");

    Spawned d;
    SpawnSpec spec = makeSpec({"/bin/true"});
    spec.directory = "/nonexistent/dir";
    spawnInto(loop, b, spec, d);
    ASSERT_TRUE(d.error);
    EXPECT_EQ(d.error->message, "couldn't chdir to /nonexistent/dir: No such file or directory");

    Spawned u;
    spec = makeSpec({"/bin/true"});
    spec.user = "no-such-user-xyz";
    spawnInto(loop, b, spec, u);
    ASSERT_TRUE(u.error);
    EXPECT_EQ(u.error->message, "no such user 'no-such-user-xyz'");
    EXPECT_FALSE(loop.runUntil([&] { return s.exited || d.exited || u.exited; }, 100'000))
        << "a failed spawn never reports an exit";
}

TEST(DirectBackend, KillMainProcess) {
    SdEventLoop loop;
    DirectBackend b(loop);
    Spawned s;
    spawnInto(loop, b, makeSpec({"/bin/sleep", "100"}), s, [&] { b.cleanup(s.child); });
    ASSERT_FALSE(s.error);
    EXPECT_EQ(b.kill(s.child, SIGTERM, false), 0);
    ASSERT_TRUE(loop.runUntil([&] { return s.exited; }, kTimeout));
    EXPECT_TRUE(s.known);
    EXPECT_TRUE(WIFSIGNALED(s.status) && WTERMSIG(s.status) == SIGTERM) << s.status;
    s.child.pidfd = -1;
    closeChildFds(s.child);
}

TEST(DirectBackend, KillRefusesPidZero) {
    SdEventLoop loop;
    DirectBackend b(loop);
    Child nobody;
    EXPECT_EQ(b.kill(nobody, 0, true), ESRCH);
    EXPECT_EQ(b.kill(nobody, 0, false), ESRCH);
}

TEST(DirectBackend, TreeKillReachesTheWholeGroup) {
    SdEventLoop loop;
    DirectBackend b(loop);
    Spawned s;
    spawnInto(loop, b, shell("sleep 100 & sleep 100 & wait"), s, [&] { b.cleanup(s.child); });
    ASSERT_FALSE(s.error);
    ASSERT_TRUE(eventually([&] { return groupMembers(s.child.pid).size() == 3; }));
    EXPECT_EQ(b.kill(s.child, SIGKILL, true), 0);
    ASSERT_TRUE(loop.runUntil([&] { return s.exited; }, kTimeout));
    EXPECT_TRUE(WIFSIGNALED(s.status) && WTERMSIG(s.status) == SIGKILL);
    EXPECT_TRUE(eventually([&] { return groupMembers(s.child.pid).empty(); }));
    s.child.pidfd = -1;
    closeChildFds(s.child);
}

TEST(DirectBackend, CleanupKillsTheLeftovers) {
    SdEventLoop loop;
    DirectBackend b(loop);
    Spawned s;
    size_t leftAtExit = 0;
    spawnInto(loop, b, shell("sleep 100 & sleep 100 & wait"), s, [&] {
        leftAtExit = groupMembers(s.child.pid).size();
        b.cleanup(s.child);
    });
    ASSERT_FALSE(s.error);
    ASSERT_TRUE(eventually([&] { return groupMembers(s.child.pid).size() == 3; }));
    // Only the main process gets the signal; its children stay behind...
    EXPECT_EQ(b.kill(s.child, SIGTERM, false), 0);
    ASSERT_TRUE(loop.runUntil([&] { return s.exited; }, kTimeout));
    EXPECT_TRUE(WIFSIGNALED(s.status) && WTERMSIG(s.status) == SIGTERM);
    EXPECT_EQ(leftAtExit, 2u);
    // ...until cleanup() takes the whole group down.
    EXPECT_TRUE(eventually([&] { return groupMembers(s.child.pid).empty(); }))
        << groupMembers(s.child.pid).size() << " processes left";
    s.child.pidfd = -1;
    closeChildFds(s.child);
}

TEST(DirectBackend, CleanupBeforeExitKillsAndReaps) {
    SdEventLoop loop;
    DirectBackend b(loop);
    Spawned s;
    spawnInto(loop, b, makeSpec({"/bin/sleep", "100"}), s);
    ASSERT_FALSE(s.error);
    pid_t pid = s.child.pid;
    b.cleanup(s.child);
    s.child.pidfd = -1;
    // Reaped in the background (no zombie), and `exited` is not called.
    EXPECT_TRUE(loop.runUntil([&] { return !procStat(pid).has_value(); }, kTimeout));
    EXPECT_FALSE(s.exited);
    closeChildFds(s.child);
}

TEST(DirectBackend, OutputFlowsThroughThePipes) {
    SdEventLoop loop;
    DirectBackend b(loop);
    Spawned s;
    spawnInto(loop, b, makeSpec({"/bin/cat"}), s, [&] { b.cleanup(s.child); });
    ASSERT_FALSE(s.error);
    std::string out;
    bool eof = false;
    auto src = loop.addIo(s.child.stdoutFd, EPOLLIN, [&](uint32_t) {
        char buf[256];
        ssize_t n = ::read(s.child.stdoutFd, buf, sizeof buf);
        if (n > 0)
            out.append(buf, static_cast<size_t>(n));
        else if (n == 0)
            eof = true;
    });
    ASSERT_EQ(::write(s.child.stdinFd, "ping\n", 5), 5);
    closeFd(s.child.stdinFd);
    ASSERT_TRUE(loop.runUntil([&] { return s.exited && eof; }, kTimeout));
    src.reset();
    EXPECT_EQ(out, "ping\n");
    EXPECT_TRUE(exitedWith(s.status, 0));
    s.child.pidfd = -1;
    closeChildFds(s.child);
}
