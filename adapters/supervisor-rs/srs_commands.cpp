// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The commands: start, restart, stop, trystart, check, info, kill, help,
// as supervisor-rs 0.8.5 answers them, turned into Control API calls.
#include <algorithm>
#include <ctime>
#include <future>
#include <set>

#include <fcntl.h>
#include <unistd.h>

#include "scopevisor/await.h"
#include "srs_adapter.h"

namespace srs {

using scopevisor::ErrorCode;
using scopevisor::LogLevel;
using scopevisor::ProcessState;
using scopevisor::ProgramInfo;
using scopevisor::Status;

namespace {

constexpr const char* kNoAnswer = "the daemon did not answer in time";

// A Control answer, waited for from an adapter thread (scopevisor::awaitFor).
template <typename T, typename F>
std::optional<T> await(F&& call) {
    return scopevisor::awaitFor<T>(std::forward<F>(call), std::chrono::seconds(600));
}

// supervisor-rs's table holds a child while its process exists.
bool running(const ProgramInfo& p) {
    return p.pid > 0 && (p.state == ProcessState::Starting || p.state == ProcessState::Running ||
                         p.state == ProcessState::Stopping);
}

std::string localTime(uint64_t us, const char* fmt) {
    time_t t = time_t(us / 1000000);
    tm tmv{};
    localtime_r(&t, &tmv);
    char buf[64];
    strftime(buf, sizeof buf, fmt, &tmv);
    return buf;
}

std::string outputText(const std::optional<OutputFile>& f) {
    if (!f)
        return "none";
    return "path: " + f->path + ", mode: " + (f->append ? "append" : "create");
}

// Rust's {:?} of a Vec<String>.
std::string debugList(const std::vector<std::string>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i)
        s += (i ? ", \"" : "\"") + v[i] + "\"";
    return s + "]";
}

void truncateCreateOutputs(const ChildYml& c) {
    for (const auto* o : {&c.stdoutFile, &c.stderrFile})
        if (*o && !(*o)->append) {
            // The daemon's log writer opens with O_APPEND, so it goes on
            // at the new end of the file.
            int fd = ::open((*o)->path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
            if (fd >= 0)
                ::close(fd);
        }
}

} // namespace

Outcome SrsAdapter::execute(const Command& c, const Caller& who) {
    std::lock_guard lock(commandMutex_);
    if (!who.internal && (c.op == Op::Start || c.op == Op::Stop || c.op == Op::Restart || c.op == Op::TryStart ||
                          c.op == Op::Kill)) {
        // The log names the program as the daemon does (its namespec),
        // not as the client spelled it; an unknown name is quoted safely.
        std::string target = c.child;
        scopevisor::Error err;
        if (c.hasChild && c.child != "all")
            if (auto p = program(c.child, &err))
                target = p->namespec;
        host_.log(LogLevel::Info, std::string(opName(c.op)) + " " + printable(target) + " requested by " +
                                      (who.identity.empty() ? std::string("an anonymous client") : "'" + printable(who.identity) + "'"));
    }
    switch (c.op) {
    case Op::Start: return start(c.child);
    case Op::Restart: return restart(c.child);
    case Op::Stop: return stopOne(c.child, who);
    case Op::TryStart: return tryStart(c.child, who);
    case Op::Check: return check(c.child);
    case Op::Info: return info(c.child);
    case Op::Help: return {reply::help(localTime(uint64_t(time(nullptr)) * 1000000, "%Y-%m-%d %H:%M:%S"))};
    case Op::Kill: return {reply::kill(""), true};
    }
    return {reply::kNoLegalOp};
}

std::optional<ProgramInfo> SrsAdapter::program(const std::string& name, scopevisor::Error* err) {
    auto r = await<scopevisor::Result<ProgramInfo>>([&](auto cb) { host_.control().getProgram(name, cb); });
    if (!r) {
        *err = {ErrorCode::Failed, kNoAnswer};
        return std::nullopt;
    }
    if (!*r) {
        *err = r->error();
        return std::nullopt;
    }
    return r->value();
}

std::optional<ChildYml> SrsAdapter::childConfig(const std::string& name) {
    if (settings_.serverYmlPath.empty())
        return std::nullopt;
    // Re-read at every use, as the original: a changed repeat or hook takes
    // effect at the next start without a reload.
    std::string error;
    std::string file = findChildFile(settings_.server, name, &error);
    ChildYml c;
    if (file.empty() || !loadChildYml(file, &c, &error)) {
        if (!error.empty())
            host_.log(LogLevel::Warn, "child " + printable(name) + ": " + printable(error));
        return std::nullopt;
    }
    for (const auto& w : c.warnings)
        host_.log(LogLevel::Warn, w);
    std::lock_guard lock(cacheMutex_);
    children_[name] = c;
    return c;
}

std::string SrsAdapter::runHook(const std::string& hook) {
    const size_t sp = hook.find(' ');
    const std::string op = hook.substr(0, sp), target = sp == std::string::npos ? "" : hook.substr(sp + 1);
    auto parsed = parseOp(op);
    if (!parsed || (*parsed != Op::Start && *parsed != Op::Restart && *parsed != Op::Stop))
        return {}; // other verbs are ignored, as in the original
    scopevisor::Error err;
    auto p = program(target, &err);
    const bool up = p && running(*p);
    if (*parsed == Op::Start) {
        if (up)
            return "Cannot start child " + target + ", it already exist.";
        auto st = await<Status>([&](auto cb) { host_.control().start(target, true, cb); });
        return st && *st ? std::string() : reply::cannotStart(target);
    }
    if (!up)
        return reply::notRunning(target);
    auto st = await<Status>([&](auto cb) {
        if (*parsed == Op::Stop)
            host_.control().stop(target, true, cb);
        else
            host_.control().restart(target, true, cb);
    });
    return st && *st ? std::string() : reply::cannotStart(target);
}

std::string SrsAdapter::runPrehooks(const std::string& name, bool* had) {
    *had = false;
    auto cfg = childConfig(name);
    if (!cfg || cfg->prehook.empty())
        return {};
    *had = true;
    // Follow the chain (the prehook child's own prehook, ...), refusing a
    // cycle or a hook child without a config, then run it deepest first.
    std::vector<std::string> chain;
    std::set<std::string> seen{name};
    for (std::string hook = cfg->prehook; !hook.empty();) {
        const size_t sp = hook.find(' ');
        const std::string target = sp == std::string::npos ? "" : hook.substr(sp + 1);
        auto next = childConfig(target);
        if (target.empty() || !seen.insert(target).second || !next)
            return reply::recursiveCheck(name);
        chain.push_back(hook);
        hook = next->prehook;
    }
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        std::string e = runHook(*it);
        host_.log(LogLevel::Info, "prehook of " + name + " \"" + printable(*it) + "\": " + (e.empty() ? "done" : printable(e)));
        if (!e.empty())
            return e;
    }
    return {};
}

std::string SrsAdapter::startChild(const std::string& name, std::string* suffix) {
    auto cfg = childConfig(name);
    if (cfg)
        truncateCreateOutputs(*cfg);
    auto st = await<Status>([&](auto cb) { host_.control().start(name, true, cb); });
    if (!st)
        return kNoAnswer;
    if (!*st) {
        if (st->error().code == ErrorCode::NoSuchProgram)
            return reply::noConfig(name);
        // The reply is the original's; the cause goes to the log.
        host_.log(LogLevel::Warn, "cannot start child " + name + ": " + st->error().message);
        return reply::cannotStart(name);
    }
    suffix->clear();
    if (cfg && cfg->repeat) {
        scopevisor::Error err;
        auto p = program(name, &err);
        Task t;
        t.text = cfg->repeatAction + " " + name;
        // The timer acts for the adapter with operator rights, whatever its
        // action says (a repeated `kill` is refused).
        t.caller = Caller{"", scopevisor::Role::Operator, true};
        t.child = name;
        t.startedAtUs = p ? p->startedAtUs : 0;
        schedule(std::chrono::steady_clock::now() + std::chrono::seconds(cfg->repeatSeconds), std::move(t));
        *suffix = reply::repeatSuffix(cfg->repeatAction, cfg->repeatSeconds);
    }
    return {};
}

std::string SrsAdapter::stopChild(const std::string& name, pid_t pid) {
    auto st = await<Status>([&](auto cb) { host_.control().stop(name, true, cb); });
    if (st && *st)
        return {};
    return "Cannot kill child " + name + ", id is " + std::to_string(pid) + ", err is " +
           (st ? st->error().message : kNoAnswer);
}

void SrsAdapter::queuePosthook(const std::string& name, const Caller& who, std::string* hook) {
    auto cfg = childConfig(name);
    hook->clear();
    if (!cfg || cfg->posthook.empty())
        return; // the original panicked here when the child had other hooks
    *hook = cfg->posthook;
    // As the original's self-connection: it runs after this command, with
    // the rights of the request that stopped the child.
    Task t;
    t.text = cfg->posthook;
    t.caller = who;
    t.caller.internal = true;
    schedule(std::chrono::steady_clock::now(), std::move(t));
}

std::optional<ProgramInfo> SrsAdapter::startable(const std::string& name, std::string* refusal) {
    if (name == "all" || name == "on") {
        *refusal = reply::reserved(name);
        return std::nullopt;
    }
    scopevisor::Error err;
    auto p = program(name, &err);
    if (!p)
        *refusal = err.code == ErrorCode::NoSuchProgram ? reply::noConfig(name) : err.message;
    return p;
}

Outcome SrsAdapter::start(const std::string& name) {
    std::string refusal;
    auto p = startable(name, &refusal);
    if (!p)
        return {refusal};
    if (running(*p))
        return {reply::alreadyRunning(name)};
    bool had = false;
    if (std::string e = runPrehooks(name, &had); !e.empty())
        return {e};
    std::string suffix;
    if (std::string e = startChild(name, &suffix); !e.empty())
        return {e};
    return {reply::startOk(name, suffix, had)};
}

Outcome SrsAdapter::restart(const std::string& name) {
    std::string refusal;
    auto p = startable(name, &refusal);
    if (!p)
        return {refusal};
    // As the original, the prehooks run before the check that the child runs.
    bool had = false;
    if (std::string e = runPrehooks(name, &had); !e.empty())
        return {"This child, " + name + ", cannot pass pre-check"};
    scopevisor::Error err;
    p = program(name, &err);
    if (!p || !running(*p))
        return {reply::notRunning(name)};
    if (std::string e = stopChild(name, p->pid); !e.empty())
        return {e};
    std::string suffix;
    if (std::string e = startChild(name, &suffix); !e.empty())
        return {e};
    return {reply::restartOk(name, suffix)};
}

Outcome SrsAdapter::stopOne(const std::string& name, const Caller& who) {
    if (name == "all") {
        // Every running program, as the original stops every child.
        if (!await<scopevisor::MultiResult>([&](auto cb) { host_.control().stopAll(true, cb); }))
            return {kNoAnswer};
        return {reply::kStopAll};
    }
    scopevisor::Error err;
    auto p = program(name, &err);
    if (!p || !running(*p))
        return {reply::notRunning(name)};
    if (std::string e = stopChild(name, p->pid); !e.empty())
        return {e};
    std::string hook;
    queuePosthook(name, who, &hook);
    return {reply::stopOk(name)};
}

Outcome SrsAdapter::tryStart(const std::string& name, const Caller& who) {
    std::string refusal;
    auto p = startable(name, &refusal);
    if (!p)
        return {refusal};
    bool had = false;
    if (std::string e = runPrehooks(name, &had); !e.empty())
        return {e};
    scopevisor::Error err;
    p = program(name, &err);
    const bool wasRunning = p && running(*p);
    std::string hook;
    if (wasRunning) {
        if (std::string e = stopChild(name, p->pid); !e.empty())
            return {e};
        queuePosthook(name, who, &hook);
    }
    std::string suffix;
    if (std::string e = startChild(name, &suffix); !e.empty())
        return {e};
    return {wasRunning ? reply::tryStartAgain(name, suffix, hook) : reply::tryStartFresh(name, suffix)};
}

Outcome SrsAdapter::check(const std::string& name) {
    auto all = await<std::vector<ProgramInfo>>([&](auto cb) { host_.control().listPrograms(cb); });
    if (!all)
        return {kNoAnswer};
    std::string out = "==Check Results Below==\n";
    // Formatted under the cache lock rather than from a copy: a child's
    // command line may be long, and the reply holds it once already.
    std::lock_guard lock(cacheMutex_);
    const auto& children = children_;
    for (const auto& p : *all) {
        if (!running(p) || (!name.empty() && name != "all" && name != p.namespec))
            continue;
        auto c = children.find(p.namespec);
        const bool imported = c != children.end();
        const std::string pid = std::to_string(p.pid);
        out += "child name: " + p.namespec + "\nprocessing id: " + pid + "\nconfig detail:\n";
        out += "  config location is: " + (imported ? c->second.dir : std::string()) + "\n";
        out += "  command is: " + (imported ? c->second.command : p.command) + "\n";
        if (imported) {
            out += "  stdout is: " + outputText(c->second.stdoutFile) + "\n";
            out += "  stderr is: " + outputText(c->second.stderrFile) + "\n";
        } else {
            out += "  stdout is: " + (p.stdoutLogfile.empty() ? "none" : "path: " + p.stdoutLogfile + ", mode: append") + "\n";
            out += "  stderr is: " + (p.stderrLogfile.empty() ? "none" : "path: " + p.stderrLogfile + ", mode: append") + "\n";
        }
        out += "  child id is: " + pid + "\n";
        out += "  start time: \"" + localTime(p.startedAtUs, "%Y-%m-%d %H:%M:%S") + "\"\n";
        if (imported && c->second.repeat)
            out += "  repeat is: action is " + c->second.repeatAction + ", interval is " +
                   std::to_string(c->second.repeatSeconds) + " seconds\n";
        else
            out += "  repeat is: false\n";
        out += "  hooks are:\n";
        if (imported && c->second.hasHooks && (!c->second.prehook.empty() || !c->second.posthook.empty())) {
            if (!c->second.prehook.empty())
                out += "    prehook: " + c->second.prehook + "\n";
            if (!c->second.posthook.empty())
                out += "    posthook: " + c->second.posthook + "\n";
        } else {
            out += "    none\n";
        }
        out += "=======================\n";
    }
    out.shrink_to_fit(); // it may wait long for a slow reader: not twice its size
    return {std::move(out)};
}

Outcome SrsAdapter::info(const std::string& name) {
    if (!name.empty())
        return {reply::infoEmpty()};
    auto all = await<std::vector<ProgramInfo>>([&](auto cb) { host_.control().listPrograms(cb); });
    if (!all)
        return {kNoAnswer};
    std::string names;
    for (const auto& p : *all)
        if (running(p))
            names += p.namespec + " ";
    return {"==Server Info Below==\nServer config path:\n" + settings_.serverYmlPath +
            "\nChildren are running (use 'check' command to see child detail):\n[" + names +
            "]\nServer configs:\nLoad paths: " + debugList(settings_.server.loadpaths) + "\nEncrypt mode: \"" +
            (settings_.encrypt ? "on" : "off") + "\"\n=======================\n"};
}

} // namespace srs
