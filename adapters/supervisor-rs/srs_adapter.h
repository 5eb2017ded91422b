// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The supervisor-rs adapter: a TCP server speaking supervisor-rs 0.8.5's
// command protocol, one command per connection, with the repeat timers and
// hooks of its child configs. Commands run one at a time, as under the
// original's global lock; the connections are served by srs_server.h (one
// epoll thread and a small worker pool), the timers (and posthooks) by one
// more thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "scopevisor/adapter.h"
#include "srs_command.h"
#include "srs_keys.h"
#include "srs_server.h"
#include "srs_settings.h"

namespace srs {

// Who sent a command: the key name in encrypted mode, "" (anonymous) in
// plain mode, and the role that gives.
struct Caller {
    std::string identity;
    scopevisor::Role role = scopevisor::Role::None;
    bool internal = false; // a repeat timer or a posthook
};

struct Outcome {
    std::string reply;
    bool shutdownAfter = false; // kill: ask the daemon to exit once the reply is out
};

class SrsAdapter final : public scopevisor::Adapter {
public:
    SrsAdapter(scopevisor::AdapterHost& host, Settings settings);
    ~SrsAdapter() override;
    bool start(std::string* error) override;
    void stop() override;

    // One raw message as read from a connection; the reply after the
    // encrypted mode's banner.
    Outcome handleMessage(const std::string& raw);
    // One parsed command (the role already checked or internal).
    Outcome execute(const Command& c, const Caller& who);

private:
    struct Task {
        std::string text;   // "<op> <child>"
        Caller caller;
        std::string child;  // repeat: the child whose start armed the timer
        uint64_t startedAtUs = 0; // repeat: a no-op once the child was started again
    };

    void timerLoop();
    void schedule(std::chrono::steady_clock::time_point at, Task t);
    void runTask(const Task& t);

    std::optional<scopevisor::ProgramInfo> program(const std::string& name, scopevisor::Error* err);
    std::optional<ChildYml> childConfig(const std::string& name);
    // The prehook chain of `name`, run deepest first; "" or the error reply.
    std::string runPrehooks(const std::string& name, bool* had);
    std::string runHook(const std::string& hook);
    // Start a stopped child: truncate create-mode outputs, start, arm the
    // repeat timer. "" on success with *suffix set; the error reply otherwise.
    std::string startChild(const std::string& name, std::string* suffix);
    // Stop a running child; "" or the error reply.
    std::string stopChild(const std::string& name, pid_t pid);
    void queuePosthook(const std::string& name, const Caller& who, std::string* hook);

    // The program a start, restart or trystart may act on, or nullopt with
    // the refusal (reserved name, no such program).
    std::optional<scopevisor::ProgramInfo> startable(const std::string& name, std::string* refusal);
    Outcome start(const std::string& name);
    Outcome restart(const std::string& name);
    Outcome stopOne(const std::string& name, const Caller& who);
    Outcome tryStart(const std::string& name, const Caller& who);
    Outcome check(const std::string& name);
    Outcome info(const std::string& name);

    scopevisor::AdapterHost& host_;
    Settings settings_;
    ReplayGuard replay_;
    std::mutex commandMutex_; // commands one at a time
    std::mutex cacheMutex_;
    std::map<std::string, ChildYml> children_; // the child configs last read

    int listenFd_ = -1;
    std::unique_ptr<ConnectionServer> server_;
    std::atomic<bool> stopping_{false};

    std::thread timerThread_;
    std::mutex timerMutex_;
    std::condition_variable timerCv_;
    std::multimap<std::chrono::steady_clock::time_point, Task> tasks_;
};

} // namespace srs
