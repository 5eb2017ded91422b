// SPDX-License-Identifier: LGPL-2.1-or-later
//
// An in-memory Control and AdapterHost for the unit tests and the fuzz
// targets: a few programs whose state changes at once, answered on the
// calling thread.
#pragma once

#include <map>
#include <set>
#include <string>

#include "scopevisor/adapter.h"
#include "scopevisor/control.h"

namespace scopevisor::xmlrpc::test {

class FakeControl final : public Control {
public:
    struct Prog {
        std::string group, name;
        ProcessState state = ProcessState::Stopped;
        std::string out, err;
        bool missing = false; // command not found
    };
    std::map<std::string, Prog> progs; // by namespec
    DaemonState daemon = DaemonState::Running;
    std::string mainLog = "2024-01-01 00:00:00,000 INFO started\n";
    int shutdowns = 0;

    FakeControl() {
        progs["a"] = Prog{"a", "a", ProcessState::Running, "hello\n", "oops\n"};
        progs["b"] = Prog{"b", "b", ProcessState::Stopped};
        progs["g:x"] = Prog{"g", "x", ProcessState::Running};
        progs["g:y"] = Prog{"g", "y", ProcessState::Stopped};
        progs["nofile"] = Prog{"nofile", "nofile", ProcessState::Stopped, "", "", true};
    }

    static std::string spec(const Prog& p) { return p.group == p.name ? p.name : p.group + ":" + p.name; }
    Prog* find(const std::string& ns) {
        auto c = ns.find(':');
        std::string key = c != std::string::npos && ns.substr(0, c) == ns.substr(c + 1) ? ns.substr(0, c) : ns;
        auto it = progs.find(key);
        return it == progs.end() ? nullptr : &it->second;
    }
    ProgramInfo info(const Prog& p) {
        ProgramInfo i;
        i.namespec = spec(p);
        i.name = p.name;
        i.group = p.group;
        i.state = p.state;
        i.pid = p.state == ProcessState::Running ? 4242 : 0;
        i.description = p.state == ProcessState::Running ? "pid 4242, uptime 0:00:01" : "Not started";
        return i;
    }
    Status gateOk() {
        if (daemon != DaemonState::Running)
            return Error{ErrorCode::ShuttingDown, "shutting down"};
        return okStatus();
    }
    Status doStart(Prog& p) {
        if (p.missing)
            return Error{ErrorCode::NoFile, "can't find command '/missing'"};
        if (isRunningState(p.state))
            return Error{ErrorCode::AlreadyStarted, spec(p)};
        p.state = ProcessState::Running;
        return okStatus();
    }
    Status doStop(Prog& p) {
        if (!isRunningState(p.state))
            return Error{ErrorCode::NotRunning, spec(p)};
        p.state = ProcessState::Stopped;
        return okStatus();
    }
    MultiResult multi(const std::string& group, bool start) {
        MultiResult r;
        for (auto& [k, p] : progs)
            if (group.empty() || p.group == group) {
                if (start == isRunningState(p.state))
                    continue;
                Status st = start ? doStart(p) : doStop(p);
                r.push_back(ProgramResult{spec(p), p.name, p.group, st ? Error{} : st.error()});
            }
        return r;
    }
    bool hasGroup(const std::string& g) {
        for (auto& [k, p] : progs)
            if (p.group == g)
                return true;
        return false;
    }
    static LogBytes bytes(const std::string& s, int64_t off, int64_t len) {
        LogBytes b;
        b.end = s.size();
        int64_t start = off < 0 ? std::max<int64_t>(0, int64_t(s.size()) + off) : off;
        if (start < int64_t(s.size()))
            b.data = s.substr(size_t(start), len > 0 ? size_t(len) : std::string::npos);
        return b;
    }

    void daemonInfo(Callback<DaemonInfo> done) override {
        done(DaemonInfo{"0.0-test", "direct", "supervisor", daemon, 77, progs.size()});
    }
    void listPrograms(Callback<std::vector<ProgramInfo>> done) override {
        std::vector<ProgramInfo> v;
        for (auto& [k, p] : progs)
            v.push_back(info(p));
        done(v);
    }
    void getProgram(std::string ns, Callback<Result<ProgramInfo>> done) override {
        Prog* p = find(ns);
        if (!p)
            return done(Error{ErrorCode::NoSuchProgram, ns});
        done(info(*p));
    }
    void listConfig(Callback<std::vector<ConfigInfo>> done) override {
        std::vector<ConfigInfo> v;
        for (auto& [k, p] : progs) {
            ConfigInfo c;
            c.name = p.name;
            c.group = p.group;
            c.exitcodes = {0};
            v.push_back(c);
        }
        done(v);
    }
    void start(std::string ns, bool, Callback<Status> done) override {
        if (auto g = gateOk(); !g)
            return done(g);
        Prog* p = find(ns);
        if (!p)
            return done(Error{ErrorCode::NoSuchProgram, ns});
        done(doStart(*p));
    }
    void stop(std::string ns, bool, Callback<Status> done) override {
        if (auto g = gateOk(); !g)
            return done(g);
        Prog* p = find(ns);
        if (!p)
            return done(Error{ErrorCode::NoSuchProgram, ns});
        done(doStop(*p));
    }
    void restart(std::string ns, bool w, Callback<Status> done) override { start(ns, w, done); }
    void signal(std::string ns, int sig, Callback<Status> done) override {
        Prog* p = find(ns);
        if (!p)
            return done(Error{ErrorCode::NoSuchProgram, ns});
        if (sig <= 0 || sig >= 65)
            return done(Error{ErrorCode::BadSignal, "bad"});
        if (!isSignallableState(p->state))
            return done(Error{ErrorCode::NotRunning, ns});
        done(okStatus());
    }
    void startGroup(std::string g, bool, Callback<Result<MultiResult>> done) override {
        if (!hasGroup(g))
            return done(Error{ErrorCode::NoSuchGroup, g});
        done(multi(g, true));
    }
    void stopGroup(std::string g, bool, Callback<Result<MultiResult>> done) override {
        if (!hasGroup(g))
            return done(Error{ErrorCode::NoSuchGroup, g});
        done(multi(g, false));
    }
    void signalGroup(std::string g, int sig, Callback<Result<MultiResult>> done) override {
        if (!hasGroup(g))
            return done(Error{ErrorCode::NoSuchGroup, g});
        MultiResult r;
        for (auto& [k, p] : progs)
            if (p.group == g && isSignallableState(p.state))
                r.push_back(ProgramResult{spec(p), p.name, p.group,
                                          sig <= 0 ? Error{ErrorCode::BadSignal, "bad"} : Error{}});
        done(r);
    }
    void startAll(bool, Callback<MultiResult> done) override { done(multi("", true)); }
    void stopAll(bool, Callback<MultiResult> done) override { done(multi("", false)); }
    void signalAll(int, Callback<MultiResult> done) override { done(MultiResult{}); }
    void sendInput(std::string ns, std::string data, Callback<Status> done) override {
        Prog* p = find(ns);
        if (!p)
            return done(Error{ErrorCode::NoSuchProgram, ns});
        if (p->state != ProcessState::Running)
            return done(Error{ErrorCode::NotRunning, ns});
        p->out += data;
        done(okStatus());
    }
    void readLog(std::string, Stream, uint64_t, uint32_t, Callback<Result<LogLines>> done) override {
        done(LogLines{});
    }
    void readBytes(std::string ns, Stream s, int64_t off, int64_t len, Callback<Result<LogBytes>> done) override {
        Prog* p = find(ns);
        if (!p)
            return done(Error{ErrorCode::NoSuchProgram, ns});
        if ((off < 0 && len != 0) || len < 0)
            return done(Error{ErrorCode::BadArguments, "bad"});
        done(bytes(s == Stream::Stderr ? p->err : p->out, off, len));
    }
    void tailBytes(std::string ns, Stream s, int64_t off, int64_t len, Callback<Result<LogBytes>> done) override {
        readBytes(ns, s, off, len, done);
    }
    void clearLog(std::string ns, Callback<Status> done) override {
        Prog* p = find(ns);
        if (!p)
            return done(Error{ErrorCode::NoSuchProgram, ns});
        done(okStatus());
    }
    void clearAllLogs(Callback<MultiResult> done) override { done(MultiResult{}); }
    void readMainLog(int64_t off, int64_t len, Callback<Result<LogBytes>> done) override {
        if ((off < 0 && len != 0) || len < 0)
            return done(Error{ErrorCode::BadArguments, "bad"});
        done(bytes(mainLog, off, len));
    }
    void clearMainLog(Callback<Status> done) override { done(okStatus()); }
    void rereadConfig(Callback<Result<ConfigDiff>> done) override { done(ConfigDiff{{"new"}, {}, {}}); }
    void reload(Callback<Result<ReloadResult>> done) override { done(ReloadResult{}); }
    void addGroup(std::string g, Callback<Status> done) override {
        if (hasGroup(g))
            return done(Error{ErrorCode::AlreadyAdded, g});
        done(Error{ErrorCode::NoSuchGroup, g});
    }
    void removeGroup(std::string g, Callback<Status> done) override {
        if (!hasGroup(g))
            return done(Error{ErrorCode::NoSuchGroup, g});
        done(Error{ErrorCode::StillRunning, g});
    }
    void shutdown(Callback<Status> done) override {
        ++shutdowns;
        done(okStatus());
    }
    void restartDaemon(Callback<Status> done) override { done(okStatus()); }
    void addListener(Listener*) override {}
    void removeListener(Listener*) override {}
};

class FakeHost final : public AdapterHost {
public:
    FakeControl ctl;
    Role role = Role::Admin;
    bool polkitAllows = false;
    // What polkit was asked about, and the programs it refuses even when
    // it allows the rest.
    std::vector<std::string> asked;
    std::set<std::string> polkitDenies;
    Control& control() override { return ctl; }
    void log(LogLevel, std::string_view) override {}
    Role roleFor(std::string_view) override { return role; }
    void authorizeLocal(const UnixPeer&, Verb, const std::string& program,
                        std::function<void(bool, std::string)> done) override {
        asked.push_back(program);
        const bool ok = polkitAllows && !polkitDenies.count(program);
        done(ok, ok ? "" : "not authorized");
    }
    int takeListenFd(std::string_view) override { return -1; }
    std::string stateDirectory() override { return "/tmp"; }
};

} // namespace scopevisor::xmlrpc::test
