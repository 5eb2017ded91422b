// SPDX-License-Identifier: LGPL-2.1-or-later
#include "khanat_adapter.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scopevisor/await.h"
#include "scopevisor/tcp_listener.h"
#include "scopevisor/text.h"

namespace khanat {

using scopevisor::ErrorCode;
using scopevisor::ProcessState;
using scopevisor::ProgramInfo;
using scopevisor::Status;
using scopevisor::Verb;

namespace {

// How long an HTTP thread waits for a Control answer (scopevisor::awaitFor).
constexpr std::chrono::seconds kAnswerLimit{600};

template <typename T, typename F>
std::optional<T> await(F&& call) {
    return scopevisor::awaitFor<T>(std::forward<F>(call), kAnswerLimit);
}

Verb verbFor(Command c) {
    switch (c) {
    case Command::List:
    case Command::Status:
    case Command::StatusAll: return Verb::View;
    case Command::Log: return Verb::ReadLog;
    case Command::Start:
    case Command::Stop:
    case Command::StartAll:
    case Command::StopAll: return Verb::Control;
    case Command::Action: return Verb::SendInput;
    case Command::Shutdown: return Verb::Manage;
    }
    return Verb::Manage;
}

// Khanat's STATUS: "started" while a process exists (poll() is None).
const char* stateWord(ProcessState s) {
    return (s == ProcessState::Starting || s == ProcessState::Running || s == ProcessState::Stopping) ? "started"
                                                                                                      : "stopped";
}

Reply json(std::string body) { return Reply{200, std::move(body), true, false}; }
Reply error(int status, const std::string& message) { return Reply{status, errorHtml(status, message), false, false}; }
Reply timeout() { return error(500, "The daemon did not answer in time"); }

// An engine error for a request that named a program.
Reply engineError(const scopevisor::Error& e) {
    if (e.code == ErrorCode::NoSuchProgram)
        return error(400, "Name unknown");
    if (e.code == ErrorCode::ShuttingDown)
        return error(503, "The daemon is shutting down");
    return error(500, e.message);
}

} // namespace

KhanatAdapter::KhanatAdapter(scopevisor::AdapterHost& host, Settings settings)
    : host_(host), settings_(std::move(settings)) {
    for (size_t i = 0; i < settings_.khanat.programs.size(); ++i) {
        configOrder_[settings_.khanat.programs[i].name] = i;
        logsize_[settings_.khanat.programs[i].name] = settings_.khanat.programs[i].logsize;
    }
}

KhanatAdapter::~KhanatAdapter() { stop(); }

bool KhanatAdapter::start(std::string* error) {
    std::string tlsError;
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || !setupServerContext(*ctx, settings_.tls, &tlsError)) {
        SSL_CTX_free(ctx);
        *error = tlsError.empty() ? "cannot create the TLS context" : tlsError;
        return false;
    }
    int fd = host_.takeListenFd("khanat");
    int port = 0;
    if (fd >= 0) {
        port = scopevisor::listeningPort(fd);
        host_.log(scopevisor::LogLevel::Info, "using the listening socket from systemd (port " + std::to_string(port) + ")");
    } else {
        fd = openListener(settings_.address, settings_.port, &port, error);
        if (fd < 0) {
            SSL_CTX_free(ctx);
            return false;
        }
        host_.log(scopevisor::LogLevel::Info,
                  "HTTPS on " + (settings_.address.empty() ? std::string("*") : settings_.address) + ":" +
                      std::to_string(port) + " (TLS 1.2/1.3, client certificate required)");
    }
    // Every client has a certificate of ca_cert, but a CN that [access]
    // does not list gets default_role: say so when that opens the API to
    // anyone with such a certificate beyond this machine.
    scopevisor::warnIfOpenToAnonymous(host_, fd, "the Khanat HTTPS listener (port " + std::to_string(port) + ")",
                                      "[adapter:khanat] default_role");
    // Headers and body are separate writes: without TCP_NODELAY every reply
    // would wait for the client's delayed ACK (~40 ms). Accepted sockets
    // inherit the option from the listening one on Linux.
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    // One event server per core (at most 4), sharing the listening socket
    // and splitting the limits: a TLS handshake costs a millisecond of CPU
    // on the thread that does it, and new connections should not queue
    // behind one core. Together they keep max_connections and 8 workers.
    const unsigned cores = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
    const unsigned n = unsigned(std::min<size_t>(cores, settings_.limits.maxConnections));
    for (unsigned i = 0; i < n; ++i) {
        ServerLimits limits = settings_.limits;
        limits.maxConnections = settings_.limits.maxConnections / n + (i < settings_.limits.maxConnections % n);
        limits.workers = std::max(1u, settings_.limits.workers / n);
        int sfd = i == 0 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (sfd < 0 || (i > 0 && SSL_CTX_up_ref(ctx) != 1)) {
            *error = "cannot share the listening socket";
            if (sfd >= 0 && i > 0)
                close(sfd);
            break;
        }
        auto server = std::make_unique<EventServer>(
            ctx, sfd, limits, [this](const FramedRequest& req, const std::string& cn) { return handle(req, cn); },
            [](int status, const std::string& reason) {
                HttpReply r;
                r.status = status;
                r.contentType = "text/html;charset=utf-8";
                r.body = errorHtml(status, reason);
                r.close = true;
                return r;
            });
        server->setReport([this](const std::string& what) { host_.log(scopevisor::LogLevel::Warn, what); });
        if (!server->start(error))
            break;
        servers_.push_back(std::move(server));
    }
    if (servers_.size() != n) {
        stop();
        return false;
    }
    return true;
}

void KhanatAdapter::stop() {
    for (auto& s : servers_)
        s->stop();
    servers_.clear();
}

HttpReply KhanatAdapter::handle(const FramedRequest& req, const std::string& identity) {
    HttpInput in;
    in.method = req.method;
    in.path = req.path;
    if (req.contentType)
        in.contentType = *req.contentType;
    in.hasBody = req.hasBody;
    in.body = req.body;
    in.maxBodyBytes = settings_.limits.framing.maxBodyBytes;
    ParseResult pr = parseRequest(in);
    Reply rep;
    if (!pr.request)
        rep = error(pr.error.status, pr.error.message);
    else
        rep = execute(*pr.request, identity);
    HttpReply out;
    out.status = rep.status;
    out.contentType = rep.json ? "application/json" : "text/html;charset=utf-8";
    out.body = std::move(rep.body);
    if (rep.shutdownAfter) {
        // Ask the daemon to exit only once the reply has been written.
        out.close = true;
        out.afterSent = [this] { host_.control().shutdown([](Status) {}); };
    }
    return out;
}

Reply KhanatAdapter::execute(const Request& r, const std::string& identity) {
    const Verb verb = verbFor(r.command);
    const scopevisor::Role role = host_.roleFor(identity);
    if (!scopevisor::roleAllows(role, verb)) {
        std::string who = identity.empty() ? std::string("a client without CN") : "'" + identity + "'";
        // A CN with no role at all is most likely one nobody listed yet:
        // name the keys that would give it one.
        std::string hint;
        if (role == scopevisor::Role::None)
            hint = " (set [access] khanat:" + (identity.empty() ? std::string("<CN>") : identity) +
                   " = <role>, or [adapter:khanat] default_role)";
        host_.log(scopevisor::LogLevel::Warn, std::string("refused ") + commandName(r.command) + " to " + who +
                                                  " (role " + scopevisor::roleName(role) + ", needs " +
                                                  scopevisor::verbName(verb) + ")" + hint);
        return error(403, std::string("Forbidden: role ") + scopevisor::roleName(role) + " may not " +
                              scopevisor::verbName(verb) + hint);
    }
    switch (r.command) {
    case Command::List: return list();
    case Command::StatusAll: return statusAll();
    case Command::StartAll: return startAll();
    case Command::StopAll: return stopAll();
    case Command::Start: return startOne(r.name);
    case Command::Stop: return stopOne(r.name);
    case Command::Status: return statusOne(r.name);
    case Command::Log: return log(r.name, r.firstLine);
    case Command::Action: return action(r.name, r.action);
    case Command::Shutdown: {
        host_.log(scopevisor::LogLevel::Info, "SHUTDOWN requested by '" + identity + "'");
        Reply rep = json(jsonObject({{"shutdown", "ok"}}));
        rep.shutdownAfter = true;
        return rep;
    }
    }
    return error(400, "Path unknown");
}

std::vector<ProgramInfo> KhanatAdapter::programsInOrder() {
    auto all = await<std::vector<ProgramInfo>>([&](auto cb) { host_.control().listPrograms(cb); });
    if (!all)
        return {};
    std::vector<ProgramInfo> v = std::move(*all);
    // listPrograms sorts by group and name; khaganat.cfg's own order comes first.
    std::stable_sort(v.begin(), v.end(), [&](const ProgramInfo& a, const ProgramInfo& b) {
        auto ia = configOrder_.find(a.namespec), ib = configOrder_.find(b.namespec);
        size_t ka = ia == configOrder_.end() ? SIZE_MAX : ia->second;
        size_t kb = ib == configOrder_.end() ? SIZE_MAX : ib->second;
        return ka < kb;
    });
    return v;
}

Reply KhanatAdapter::list() {
    std::vector<std::pair<std::string, std::string>> m;
    size_t i = 0;
    for (const auto& p : programsInOrder())
        m.emplace_back(std::to_string(i++), p.namespec);
    return json(jsonObject(m));
}

Reply KhanatAdapter::statusAll() {
    std::vector<std::pair<std::string, std::string>> m;
    for (const auto& p : programsInOrder())
        m.emplace_back(p.namespec, stateWord(p.state));
    return json(jsonObject(m));
}

namespace {
const char* startWord(const Status& st) {
    if (st)
        return "started";
    if (st.error().code == ErrorCode::AlreadyStarted)
        return "already-started";
    return "crashed";
}
} // namespace

Reply KhanatAdapter::startAll() {
    // Every program is started at once (Khanat went one by one); each answer
    // keeps its place in the reply.
    auto progs = programsInOrder();
    struct Pending {
        std::mutex m;
        std::vector<std::string> words;
        size_t left = 0;
        std::promise<void> done;
    };
    auto pending = std::make_shared<Pending>();
    pending->words.resize(progs.size());
    pending->left = progs.size();
    auto fut = pending->done.get_future();
    if (progs.empty())
        pending->done.set_value();
    for (size_t i = 0; i < progs.size(); ++i)
        host_.control().start(progs[i].namespec, true, [pending, i](Status st) {
            std::lock_guard lock(pending->m);
            pending->words[i] = startWord(st);
            if (--pending->left == 0)
                pending->done.set_value();
        });
    if (fut.wait_for(kAnswerLimit) != std::future_status::ready)
        return timeout();
    std::vector<std::pair<std::string, std::string>> m;
    std::lock_guard lock(pending->m);
    for (size_t i = 0; i < progs.size(); ++i)
        m.emplace_back(progs[i].namespec, pending->words[i]);
    return json(jsonObject(m));
}

Reply KhanatAdapter::stopAll() {
    if (!await<scopevisor::MultiResult>([&](auto cb) { host_.control().stopAll(true, cb); }))
        return timeout();
    std::vector<std::pair<std::string, std::string>> m;
    for (const auto& p : programsInOrder())
        m.emplace_back(p.namespec, stateWord(p.state));
    return json(jsonObject(m));
}

Reply KhanatAdapter::startOne(const std::string& name) {
    auto st = await<Status>([&](auto cb) { host_.control().start(name, true, cb); });
    if (!st)
        return timeout();
    if (!*st && (st->error().code == ErrorCode::NoSuchProgram || st->error().code == ErrorCode::ShuttingDown))
        return engineError(st->error());
    return json(jsonObject({{"state", startWord(*st)}}));
}

Reply KhanatAdapter::stopOne(const std::string& name) {
    auto st = await<Status>([&](auto cb) { host_.control().stop(name, true, cb); });
    if (!st)
        return timeout();
    // Khanat answers "stopped" also when the program was not running.
    if (!*st && st->error().code != ErrorCode::NotRunning)
        return engineError(st->error());
    return json(jsonObject({{"state", "stopped"}}));
}

Reply KhanatAdapter::statusOne(const std::string& name) {
    auto r = await<scopevisor::Result<ProgramInfo>>([&](auto cb) { host_.control().getProgram(name, cb); });
    if (!r)
        return timeout();
    if (!*r)
        return engineError(r->error());
    return json(jsonObject({{"state", stateWord(r->value().state)}}));
}

Reply KhanatAdapter::log(const std::string& name, uint64_t firstLine) {
    // A khaganat.cfg program keeps its `logsize` newest lines, as Khanat's
    // ring did; other programs offer all the daemon holds.
    auto ls = logsize_.find(name);
    const bool windowed = ls != logsize_.end();
    const uint64_t window = windowed ? uint64_t(ls->second) : 0;
    auto r = await<scopevisor::Result<scopevisor::LogLines>>([&](auto cb) {
        if (windowed)
            host_.control().readLog(name, scopevisor::Stream::All, 0, uint32_t(std::min<uint64_t>(window, UINT32_MAX)), cb);
        else
            host_.control().readLog(name, scopevisor::Stream::All, std::max<uint64_t>(firstLine, 1), 0, cb);
    });
    if (!r)
        return timeout();
    if (!*r)
        return engineError(r->error());
    const scopevisor::LogLines& l = r->value();
    LogReply out;
    out.lastLine = l.newestAvailable;
    if (!(windowed && window == 0))
        for (size_t i = 0; i < l.lines.size(); ++i) {
            uint64_t n = l.first + i;
            if (n >= firstLine)
                out.lines.emplace_back(n, stripLine(l.lines[i]));
        }
    return json(logJson(out));
}

Reply KhanatAdapter::action(const std::string& name, const std::string& text) {
    auto st = await<Status>([&](auto cb) { host_.control().sendInput(name, text + "\n", cb); });
    if (!st)
        return timeout();
    if (*st)
        return json(jsonObject({{"state", "ok"}}));
    if (st->error().code == ErrorCode::NoSuchProgram || st->error().code == ErrorCode::ShuttingDown)
        return engineError(st->error());
    return json(jsonObject({{"state", "ko"}})); // not running, stdin closed
}

} // namespace khanat
