// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A burst of signals waits in the daemon, not in its bus socket: whatever
// the kernel holds unread by dbus-daemon, a reply sent next waits behind.
// dbus-daemon is stopped (SIGSTOP) while a StartAll of many programs runs,
// and the daemon's socket, borrowed with pidfd_getfd(), is watched with
// SIOCOUTQ.
#include <atomic>
#include <chrono>
#include <csignal>
#include <dirent.h>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bus_harness.h"

using namespace scopevisor::test;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kPrograms = 300;

pid_t peerPid(int fd) {
    ucred cred{};
    socklen_t len = sizeof cred;
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : -1;
}

// The daemon's end of its connection to `busPid`, as a descriptor of ours.
int borrowBusSocket(pid_t daemon, pid_t busPid) {
    int pidfd = int(syscall(SYS_pidfd_open, daemon, 0));
    if (pidfd < 0)
        return -1;
    int found = -1;
    DIR* d = opendir(("/proc/" + std::to_string(daemon) + "/fd").c_str());
    while (dirent* e = d ? readdir(d) : nullptr) {
        if (e->d_name[0] == '.')
            continue;
        int fd = int(syscall(SYS_pidfd_getfd, pidfd, atoi(e->d_name), 0));
        if (fd < 0)
            continue;
        int type = 0;
        socklen_t len = sizeof type;
        if (found < 0 && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM &&
            peerPid(fd) == busPid) {
            found = fd;
            continue;
        }
        close(fd);
    }
    if (d)
        closedir(d);
    close(pidfd);
    return found;
}

// Children of any of its threads (the direct backend spawns from one).
size_t childCount(pid_t pid) {
    size_t n = 0;
    const std::string dir = "/proc/" + std::to_string(pid) + "/task";
    DIR* d = opendir(dir.c_str());
    while (dirent* e = d ? readdir(d) : nullptr) {
        if (e->d_name[0] == '.')
            continue;
        std::ifstream f(dir + "/" + e->d_name + "/children");
        for (std::string s; f >> s;)
            ++n;
    }
    if (d)
        closedir(d);
    return n;
}

} // namespace

TEST(SignalPacing, ABurstOfSignalsWaitsInTheDaemonNotInItsSocket) {
    std::string conf;
    for (int i = 0; i < kPrograms; ++i)
        conf += "[program:p" + std::to_string(i) + "]\ncommand = sleep 100000\nstartsecs = 0\nautostart = false\n";
    PrivateBus bus;
    Daemon daemon(bus, conf);
    auto conn = bus.connect();
    const pid_t busPid = peerPid(conn->getEventLoopPollData().fd);
    ASSERT_GT(busPid, 0);
    const int sock = borrowBusSocket(daemon.pid(), busPid);
    ASSERT_GE(sock, 0) << "cannot find the daemon's bus socket (pidfd_getfd needs ptrace rights over it)";

    auto callConn = bus.connect();
    callConn->setMethodCallTimeout(std::chrono::seconds(300));
    ManagerClient mgr(*callConn);
    std::thread starter([&] { mgr.StartAll(); });
    // Stopped once the daemon has the call and is spawning.
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (childCount(daemon.pid()) == 0 && Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ASSERT_EQ(kill(busPid, SIGSTOP), 0);
    struct Resume {
        pid_t pid;
        ~Resume() { kill(pid, SIGCONT); }
    } resume{busPid};

    // Every program started means every state change was made (and its
    // signals were built) while dbus-daemon read nothing.
    int maxQueued = 0;
    while (Clock::now() < deadline) {
        int queued = 0;
        if (ioctl(sock, SIOCOUTQ, &queued) == 0)
            maxQueued = std::max(maxQueued, queued);
        if (childCount(daemon.pid()) >= size_t(kPrograms))
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200)); // the last signals of the burst
    int queued = 0;
    if (ioctl(sock, SIOCOUTQ, &queued) == 0)
        maxQueued = std::max(maxQueued, queued);
    EXPECT_EQ(childCount(daemon.pid()), size_t(kPrograms));
    // The 32 KiB the daemon asks for, doubled by the kernel, and one message
    // past it; an unpaced burst of 300 programs fills megabytes.
    EXPECT_LE(maxQueued, 80 * 1024);
    EXPECT_GT(maxQueued, 0) << "no signal reached the socket at all";

    kill(busPid, SIGCONT);
    starter.join();
    ProgramClient last(*conn, "/org/scopevisor1/program/p" + std::to_string(kPrograms - 1));
    EXPECT_EQ(last.State(), "RUNNING");
    close(sock);
}
