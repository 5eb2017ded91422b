// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A Backend that starts nothing: it records spawns and signals, and the test
// decides when (and how) each "process" exits.
#pragma once

#include <csignal>
#include <map>
#include <string>
#include <vector>

#include <sys/wait.h>

#include "backend.h"

namespace scopevisor::test {

class FakeBackend final : public Backend {
public:
    struct Spawn {
        std::string namespec;
        pid_t pid;
    };
    struct Kill {
        pid_t pid;
        int sig;
        bool tree;
    };

    const char* name() const override { return "fake"; }

    void spawn(const SpawnSpec& spec, SpawnDone done, ExitFn exited) override {
        if (failNext > 0) {
            --failNext;
            spawns.push_back({spec.namespec, 0});
            done(Error{ErrorCode::SpawnFailed, "couldn't exec " + spec.path + ": Permission denied"});
            return;
        }
        pid_t pid = nextPid++;
        spawns.push_back({spec.namespec, pid});
        live[pid] = std::move(exited);
        byName[spec.namespec] = pid;
        Child c;
        c.pid = pid;
        done(std::move(c));
    }

    int kill(const Child& c, int sig, bool tree) override {
        kills.push_back({c.pid, sig, tree});
        if (killErrno)
            return killErrno;
        if (!live.count(c.pid))
            return ESRCH;
        // Processes obey every signal but those listed as ignored.
        if (obeys(sig) && exitOnSignal)
            pendingSignalExits.push_back({c.pid, sig});
        return 0;
    }

    void cleanup(const Child& c) override { cleanups.push_back(c.pid); }

    // Make the process exit now with exit code `code`.
    void exitCode(pid_t pid, int code) { finish(pid, W_EXITCODE(code, 0)); }
    void exitSignal(pid_t pid, int sig) { finish(pid, W_EXITCODE(0, sig) | sig); }
    // Deliver the exits caused by signals sent so far.
    void deliverSignals() {
        auto v = std::move(pendingSignalExits);
        pendingSignalExits.clear();
        for (auto& [pid, sig] : v)
            if (live.count(pid))
                exitSignal(pid, sig);
    }
    pid_t pidOf(const std::string& namespec) const {
        auto it = byName.find(namespec);
        return it == byName.end() ? 0 : it->second;
    }
    size_t spawnCount(const std::string& namespec) const {
        size_t n = 0;
        for (auto& s : spawns)
            n += s.namespec == namespec;
        return n;
    }

    int failNext = 0;
    int killErrno = 0;
    bool exitOnSignal = true;
    std::vector<int> ignoredSignals;
    std::vector<Spawn> spawns;
    std::vector<Kill> kills;
    std::vector<pid_t> cleanups;

private:
    bool obeys(int sig) const {
        for (int s : ignoredSignals)
            if (s == sig)
                return false;
        return true;
    }
    void finish(pid_t pid, int status) {
        auto it = live.find(pid);
        if (it == live.end())
            return;
        auto fn = std::move(it->second);
        live.erase(it);
        fn(status, true);
    }
    pid_t nextPid = 1000;
    std::map<pid_t, ExitFn> live;
    std::map<std::string, pid_t> byName;
    std::vector<std::pair<pid_t, int>> pendingSignalExits;
};

} // namespace scopevisor::test
