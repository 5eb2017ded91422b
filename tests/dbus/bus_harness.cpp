// SPDX-License-Identifier: LGPL-2.1-or-later
#include "bus_harness.h"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace scopevisor::test {
namespace {

void waitExit(pid_t pid, int* status) {
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
    }
}

} // namespace

std::string daemonPath() {
    const char* p = getenv("SCOPEVISORD");
    return p ? p : "build/daemon/scopevisord";
}

PrivateBus::PrivateBus() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
        dup2(fds[1], 3); // dup2 clears O_CLOEXEC on the copy
        const char* argv[] = {"dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=3", nullptr};
        execvp(argv[0], const_cast<char**>(argv));
        _exit(127);
    }
    close(fds[1]);
    std::string line;
    char c;
    while (read(fds[0], &c, 1) == 1 && c != '\n')
        line += c;
    close(fds[0]);
    if (line.empty())
        throw std::runtime_error("dbus-daemon gave no address (is dbus-daemon installed?)");
    address_ = line;
}

PrivateBus::~PrivateBus() {
    if (pid_ > 0) {
        kill(pid_, SIGTERM);
        int st;
        waitExit(pid_, &st);
    }
}

std::unique_ptr<sdbus::IConnection> PrivateBus::connect() const {
    return sdbus::createSessionBusConnectionWithAddress(address_);
}

Daemon::Daemon(const PrivateBus& bus, const std::string& config) {
    char tmpl[] = "/tmp/scopevisor-dbus-XXXXXX";
    if (!mkdtemp(tmpl))
        throw std::runtime_error("mkdtemp");
    dir_ = tmpl;
    rewriteConfig(config);
    const std::string conf = dir_ + "/test.conf", log = dir_ + "/daemon.log", exe = daemonPath();
    pid_ = fork();
    if (pid_ == 0) {
        int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        setenv("DBUS_SESSION_BUS_ADDRESS", bus.address().c_str(), 1);
        unsetenv("NOTIFY_SOCKET");
        const char* argv[] = {exe.c_str(), "--user", "-c", conf.c_str(), "--backend", "direct", nullptr};
        execv(argv[0], const_cast<char**>(argv));
        _exit(127);
    }
    // Ready when the name is owned and the objects are there.
    auto conn = bus.connect();
    auto driver = sdbus::createProxy(*conn, "org.freedesktop.DBus", "/org/freedesktop/DBus");
    for (int i = 0; i < 500; ++i) {
        bool has = false;
        driver->callMethod("NameHasOwner").onInterface("org.freedesktop.DBus").withArguments(std::string("org.scopevisor1")).storeResultsTo(has);
        if (has)
            return;
        int st;
        if (waitpid(pid_, &st, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("scopevisord exited at start:\n" + this->log());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("scopevisord did not take org.scopevisor1:\n" + this->log());
}

Daemon::~Daemon() {
    stop();
    std::string cmd = "rm -rf '" + dir_ + "'";
    (void)!system(cmd.c_str());
}

int Daemon::stop() {
    if (pid_ <= 0)
        return -1;
    kill(pid_, SIGTERM);
    int st = 0;
    waitExit(pid_, &st);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

bool Daemon::exited(int* status) {
    if (pid_ <= 0)
        return true;
    if (waitpid(pid_, status, WNOHANG) != pid_)
        return false;
    pid_ = -1;
    return true;
}

void Daemon::rewriteConfig(const std::string& config) {
    std::ofstream(dir_ + "/test.conf") << "[supervisord]\nchildlogdir = " << dir_ << "\n" << config;
}

std::string Daemon::log() const {
    std::ifstream f(dir_ + "/daemon.log");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

} // namespace scopevisor::test
