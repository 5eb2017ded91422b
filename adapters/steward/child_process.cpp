// SPDX-License-Identifier: LGPL-2.1-or-later
#include "child_process.h"

#include <cerrno>
#include <csignal>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scopevisor/text.h"

namespace steward {

namespace {

void closeFd(int& fd) {
    if (fd >= 0)
        ::close(fd);
    fd = -1;
}

// Splits `buf` into lines for `cb`, keeping an unfinished last line.
void emitLines(std::string& buf, const std::function<void(std::string_view)>& cb, bool flush) {
    size_t start = 0;
    for (size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1)
        cb(std::string_view(buf).substr(start, nl - start + 1));
    buf.erase(0, start);
    if (flush && !buf.empty()) {
        cb(buf + "\n");
        buf.clear();
    }
}

} // namespace

std::string describeWaitStatus(int status) {
    if (WIFEXITED(status))
        return "exit status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const char* d = sigdescr_np(WTERMSIG(status));
        std::string s = d ? d : "signal " + std::to_string(WTERMSIG(status));
        for (auto& c : s)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return "signal: " + s;
    }
    return "unknown status";
}

RunResult runCommand(const std::vector<std::string>& argv, const RunOptions& o) {
    RunResult r;
    if (argv.empty() || argv[0].empty()) {
        r.startError = "empty command";
        return r;
    }
    int outp[2] = {-1, -1}, errp[2] = {-1, -1};
    if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
        r.startError = "pipe: " + scopevisor::errnoText(errno);
        for (int* p : {outp, errp})
            closeFd(p[0]), closeFd(p[1]);
        return r;
    }
    // Everything the child needs is prepared before fork: after it, only
    // async-signal-safe calls are allowed in a threaded process.
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    // With a placement the child waits on this pipe until it is in its
    // scope: no instruction of the command runs outside it.
    int hold[2] = {-1, -1};
    if (o.placement && pipe2(hold, O_CLOEXEC) < 0) {
        r.startError = "pipe: " + scopevisor::errnoText(errno);
        for (int* p : {outp, errp})
            closeFd(p[0]), closeFd(p[1]);
        closeFd(devnull);
        return r;
    }

    pid_t pid = fork();
    if (pid < 0) {
        r.startError = "fork: " + scopevisor::errnoText(errno);
        for (int* p : {outp, errp, hold})
            closeFd(p[0]), closeFd(p[1]);
        closeFd(devnull);
        return r;
    }
    if (pid == 0) {
        setpgid(0, 0);
        // The daemon blocks signals for its event loop; a command must not
        // inherit that mask or any handler.
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        for (int s = 1; s < NSIG; ++s)
            signal(s, SIG_DFL);
        dup2(devnull >= 0 ? devnull : 0, 0);
        dup2(outp[1], 1);
        dup2(errp[1], 2);
        if (hold[0] >= 0) {
            char go = 0;
            ssize_t n;
            while ((n = read(hold[0], &go, 1)) < 0 && errno == EINTR) {
            }
            if (n != 1) // the parent gave up on it
                _exit(127);
        }
        syscall(SYS_close_range, 3u, ~0u, 0u);
        execvp(args[0], args.data());
        // Reported like a shell would, through the command's own stderr.
        const char* msg = strerror(errno);
        (void)!write(2, "exec: ", 6);
        (void)!write(2, msg, strlen(msg));
        _exit(127);
    }
    setpgid(pid, pid); // also from the parent: no race with an early kill
    closeFd(devnull);
    closeFd(outp[1]);
    closeFd(errp[1]);
    closeFd(hold[0]);
    if (o.placement) {
        std::string placeError;
        if (!o.placement->place(pid, argv, &r.unit, &placeError)) {
            ::kill(pid, SIGKILL);
            while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
            }
            for (int* p : {outp, errp, hold})
                closeFd(p[0]), closeFd(p[1]);
            r.startError = placeError;
            return r;
        }
        (void)!write(hold[1], "x", 1);
        closeFd(hold[1]);
    }
    r.started = true;

    const auto deadline = std::chrono::steady_clock::now() + o.timeout;
    std::string outBuf, errBuf;
    int fds[2] = {outp[0], errp[0]};
    // The process group at once; then the scope, which also holds what left
    // the group, and is waited for until it is gone.
    auto killGroup = [&] {
        ::kill(-pid, SIGKILL);
        if (!r.unit.empty())
            o.placement->killScope(r.unit, &r.killError);
    };
    char buf[65536];
    while (fds[0] >= 0 || fds[1] >= 0) {
        if (o.cancel && o.cancel->load()) {
            r.cancelled = true;
            killGroup();
            break;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            r.timedOut = true;
            killGroup();
            break;
        }
        pollfd p[2];
        int n = 0;
        int which[2];
        for (int i = 0; i < 2; ++i)
            if (fds[i] >= 0) {
                p[n] = {fds[i], POLLIN, 0};
                which[n++] = i;
            }
        int rc = poll(p, static_cast<nfds_t>(n), static_cast<int>(std::min<int64_t>(left.count(), 200)));
        if (rc < 0 && errno != EINTR)
            break;
        for (int k = 0; k < n && rc > 0; ++k) {
            if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            int i = which[k];
            ssize_t got = ::read(fds[i], buf, sizeof buf);
            if (got <= 0) {
                if (got < 0 && errno == EINTR)
                    continue;
                closeFd(fds[i]);
                continue;
            }
            std::string& acc = i == 0 ? outBuf : errBuf;
            const auto& cb = i == 0 ? o.onStdoutLine : o.onStderrLine;
            if (cb) {
                acc.append(buf, static_cast<size_t>(got));
                emitLines(acc, cb, false);
            } else {
                std::string& dst = i == 0 ? r.out : r.err;
                size_t room = o.maxOutput > dst.size() ? o.maxOutput - dst.size() : 0;
                dst.append(buf, std::min(room, static_cast<size_t>(got)));
                if (static_cast<size_t>(got) > room)
                    r.outTruncated = true;
            }
        }
    }
    closeFd(fds[0]);
    closeFd(fds[1]);
    if (o.onStdoutLine && !r.timedOut && !r.cancelled)
        emitLines(outBuf, o.onStdoutLine, true);
    if (o.onStderrLine)
        emitLines(errBuf, o.onStderrLine, true);
    // Both pipes are closed; the direct child may still run (it closed its
    // output), so the deadline still holds for it.
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR))
            break;
        if (!r.timedOut && !r.cancelled) {
            if (o.cancel && o.cancel->load())
                r.cancelled = true;
            else if (std::chrono::steady_clock::now() >= deadline)
                r.timedOut = true;
            if (r.timedOut || r.cancelled)
                killGroup();
        }
        usleep(10000);
    }
    r.waitStatus = status;
    return r;
}

} // namespace steward
