// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A private session bus (its own dbus-daemon) and a real scopevisord on it,
// for the D-Bus API tests and the benchmark.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include <sdbus-c++/sdbus-c++.h>

#include "manager_proxy.h"
#include "program_proxy.h"

namespace scopevisor::test {

class PrivateBus {
public:
    PrivateBus();  // starts dbus-daemon --session
    ~PrivateBus(); // kills it
    const std::string& address() const { return address_; }
    std::unique_ptr<sdbus::IConnection> connect() const;

private:
    pid_t pid_ = -1;
    std::string address_;
};

class Daemon {
public:
    // Writes `config` to a file of its own and runs
    // scopevisord --user -c FILE --backend direct on `bus`; returns once the
    // daemon owns org.scopevisor1.
    Daemon(const PrivateBus& bus, const std::string& config);
    ~Daemon(); // SIGTERM, then waits
    void rewriteConfig(const std::string& config);
    pid_t pid() const { return pid_; }
    const std::string& dir() const { return dir_; }
    std::string log() const;
    int stop(); // SIGTERM and wait; the exit status
    // True once the daemon has exited by itself, with its wait status.
    bool exited(int* status);

private:
    pid_t pid_ = -1;
    std::string dir_;
};

// Proxies that call methods only (no signal subscriptions).
class ManagerClient final : public sdbus::ProxyInterfaces<org::scopevisor1::Manager_proxy, sdbus::Properties_proxy> {
public:
    explicit ManagerClient(sdbus::IConnection& c) : ProxyInterfaces(c, "org.scopevisor1", "/org/scopevisor1") {}

private:
    void onProgramNew(const std::string&, const sdbus::ObjectPath&) override {}
    void onProgramRemoved(const std::string&, const sdbus::ObjectPath&) override {}
    void onProgramStateChanged(const std::string&, const std::string&, const std::string&) override {}
    void onPropertiesChanged(const std::string&, const std::map<std::string, sdbus::Variant>&,
                             const std::vector<std::string>&) override {}
};

class ProgramClient final : public sdbus::ProxyInterfaces<org::scopevisor1::Program_proxy, sdbus::Properties_proxy> {
public:
    ProgramClient(sdbus::IConnection& c, const std::string& path) : ProxyInterfaces(c, "org.scopevisor1", path) {}

private:
    void onPropertiesChanged(const std::string&, const std::map<std::string, sdbus::Variant>&,
                             const std::vector<std::string>&) override {}
};

// Where the daemon binary is: $SCOPEVISORD, else build/daemon/scopevisord.
std::string daemonPath();

} // namespace scopevisor::test
