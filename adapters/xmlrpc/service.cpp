// SPDX-License-Identifier: LGPL-2.1-or-later
#include "service.h"

#include <chrono>
#include <future>

#include <unistd.h>

#include "xmlrpc_parse.h"

namespace scopevisor::xmlrpc {

namespace {

const char* reason(int status) {
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 411: return "Length Required";
    case 413: return "Request Entity Too Large";
    case 414: return "Request-URI Too Long";
    case 500: return "Internal Server Error";
    default: return "Error";
    }
}

bool startsWith(const std::string& s, std::string_view p) { return s.compare(0, p.size(), p) == 0; }

// urllib's unquote(): %XX escapes, anything malformed kept as it is.
std::string unquote(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && isxdigit(static_cast<unsigned char>(s[i + 1])) &&
            isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out += char(std::stoi(s.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

// The path of a request target, without ;params, ?query and #fragment.
std::string uriPath(const std::string& target) { return target.substr(0, target.find_first_of(";?#")); }

bool hasUnreadBody(const http::Request& req) {
    return (req.hasHeader("Content-Length") && req.header("Content-Length") != "0") ||
           req.hasHeader("Transfer-Encoding");
}

void closeAfter() {
    if (Connection* c = currentConnection())
        c->closeAfter = true;
}

} // namespace

void setHttpError(http::Response& res, int status) {
    res.status = status;
    const std::string code = std::to_string(status);
    res.setContent("<head>\r\n<title>Error response</title>\r\n</head>\r\n<body>\r\n<h1>Error response</h1>\r\n"
                    "<p>Error code " +
                        code + ".\r\n<p>Message: " + reason(status) + ".\r\n</body>\r\n",
                    "text/html");
}

struct Service::Subscription {
    std::string key; // canonical namespec, "" for the main log
    std::mutex m;
    std::condition_variable cv;
    bool dirty = false;
};

Service::Service(AdapterHost& host, ServiceOptions opts)
    : host_(host), opts_(opts),
      rpc_(host.control(), [this](const Caller& c, Verb v, const Target& t) { return authorize(c, v, t); },
           daemonState_) {}

Service::~Service() { detach(); }

void Service::attach() {
    if (attached_)
        return;
    // Adapters start on the engine's thread, before it turns: asking the
    // engine here would wait forever. A starting daemon is RUNNING, and the
    // listener sees every change from then on.
    host_.control().addListener(this);
    attached_ = true;
}

void Service::detach() {
    if (!attached_)
        return;
    host_.control().removeListener(this);
    attached_ = false;
}

void Service::stopStreams() {
    stopping_ = true;
    std::lock_guard lock(subsMutex_);
    for (auto& [k, s] : subs_) {
        std::lock_guard sl(s->m);
        s->dirty = true;
        s->cv.notify_all();
    }
}

// ---- authorization ------------------------------------------------------------------

std::optional<std::string> Service::authorize(const Caller& c, Verb verb, const Target& target) {
    const std::string right = std::string("access denied: the '") + verbName(verb) + "' right is required";
    if (!c.local) {
        if (roleAllows(c.role, verb))
            return std::nullopt;
        return right + " (" +
               (c.identity.empty() ? std::string("anonymous clients have") : "user '" + c.identity + "' has") +
               " the role " + roleName(c.role) + ")";
    }
    // root, and the daemon's own user, may do all: they could take the
    // daemon's place anyway. Every other local peer is asked for with
    // polkit; without polkit only these two get in.
    if (c.peer.uid == 0 || c.peer.uid == geteuid())
        return std::nullopt;
    // polkit rules may name programs: each program the call touches is
    // asked for by its canonical name, and one refusal refuses the call.
    for (const std::string& program : programsOf(target)) {
        auto p = std::make_shared<std::promise<std::pair<bool, std::string>>>();
        auto f = p->get_future();
        host_.authorizeLocal(c.peer, verb, program,
                             [p](bool ok, std::string why) { p->set_value({ok, std::move(why)}); });
        auto [ok, why] = f.get();
        if (!ok)
            return right + " (uid " + std::to_string(c.peer.uid) +
                   (program.empty() ? "" : ", program '" + program + "'") + (why.empty() ? "" : ": " + why) + ")";
    }
    return std::nullopt;
}

std::vector<std::string> Service::programsOf(const Target& target) {
    Control& control = host_.control();
    switch (target.kind) {
    case Target::Kind::None: return {std::string()};
    case Target::Kind::Program: {
        // "web:web" is the program "web": polkit sees one name for it.
        auto info = await<Result<ProgramInfo>>([&](auto cb) { control.getProgram(target.name, cb); });
        return {info ? info->namespec : target.name};
    }
    case Target::Kind::Group:
    case Target::Kind::All: break;
    }
    std::vector<std::string> out;
    for (const ProgramInfo& p : await<std::vector<ProgramInfo>>([&](auto cb) { control.listPrograms(cb); }))
        if (target.kind == Target::Kind::All || p.group == target.name)
            out.push_back(p.namespec);
    // A group with no program (unknown, or not added yet) is asked for by
    // its name: the call then fails on its own, or adds the group.
    if (out.empty())
        out.push_back(target.kind == Target::Kind::Group ? target.name : std::string());
    return out;
}

Caller Service::callerFor(const EndpointConfig& ep) const {
    Caller c;
    Connection* conn = currentConnection();
    c.identity = conn ? conn->user : std::string();
    if (ep.isUnix) {
        c.local = true;
        if (conn && conn->hasPeer)
            c.peer = conn->peer;
        else
            c.peer.uid = uid_t(-1); // unknown peer: polkit decides (and refuses)
    } else {
        c.role = host_.roleFor(c.identity);
        // The server's own username is the config owner's credential: in
        // supervisord it has every right, and a migrated configuration
        // keeps working. [access] xmlrpc:<username> (or default_role) may
        // give it less.
        if (c.role == Role::None && !c.identity.empty() && c.identity == ep.creds.username)
            c.role = Role::Admin;
    }
    return c;
}

// ---- dispatch ---------------------------------------------------------------------

void Service::install(HttpServer& srv, const EndpointConfig& ep) {
    srv.setPreRouting([this, ep](const http::Request& req, http::Response& res) { return preRoute(ep, req, res); });
    srv.setPostHandler([this, ep](const http::Request& req, http::Response& res) { handleRpc(ep, req, res); });
    srv.setErrorHandler([](const http::Request&, http::Response& res) {
        // Whatever went wrong, the rest of the connection cannot be trusted.
        closeAfter();
        if (res.body.empty() && !res.provider)
            setHttpError(res, res.status);
    });
    srv.setExceptionHandler([](const http::Request&, http::Response& res) {
        closeAfter();
        setHttpError(res, 500);
    });
}

HttpServer::Routed Service::preRoute(const EndpointConfig& ep, const http::Request& req,
                                                   http::Response& res) {
    using HR = HttpServer::Routed;
    Connection* conn = currentConnection();
    // A TCP server without a username would serve anyone who can reach it:
    // unless default_role says anonymous clients get a role, nothing of it
    // is served.
    if (!ep.isUnix && ep.creds.username.empty() && host_.roleFor("") == Role::None) {
        res.status = 401;
        res.setContent(std::string(kAnonymousRefused) + "\n", "text/plain");
        closeAfter();
        return HR::Handled;
    }
    // Every handler of a server with a username is behind Basic auth.
    std::string user;
    const std::string authHeader = req.header("Authorization");
    const bool hasAuth = req.hasHeader("Authorization");
    switch (checkBasicAuth(hasAuth ? &authHeader : nullptr, ep.creds, &user)) {
    case AuthOutcome::Ok: break;
    case AuthOutcome::Unauthorized:
        setHttpError(res, 401);
        res.setHeader("WWW-Authenticate", "Basic realm=\"default\"");
        closeAfter();
        return HR::Handled;
    case AuthOutcome::BadRequest:
        setHttpError(res, 400);
        closeAfter();
        return HR::Handled;
    case AuthOutcome::ServerError:
        setHttpError(res, 500);
        closeAfter();
        return HR::Handled;
    }
    if (conn)
        conn->user = user;

    const std::string& target = req.target;
    if (startsWith(target, "/RPC2")) {
        if (req.method != "POST") {
            setHttpError(res, 400);
            closeAfter();
            return HR::Handled;
        }
        if (!req.hasHeader("Content-Length")) {
            setHttpError(res, 411);
            closeAfter();
            return HR::Handled;
        }
        const std::string cl = req.header("Content-Length");
        if (cl.empty() || cl.find_first_not_of("0123456789") != std::string::npos) {
            setHttpError(res, 400);
            closeAfter();
            return HR::Handled;
        }
        if (cl.size() > 15 || std::stoull(cl) > ep.maxBodyBytes) {
            setHttpError(res, 413);
            closeAfter();
            return HR::Handled;
        }
        return HR::Unhandled; // the server reads the body, then handleRpc
    }
    if (hasUnreadBody(req))
        closeAfter();
    if (startsWith(target, "/logtail")) {
        if (req.method != "GET") {
            setHttpError(res, 400);
            return HR::Handled;
        }
        logtail(ep, req, res);
        return HR::Handled;
    }
    if (startsWith(target, "/mainlogtail")) {
        if (req.method != "GET") {
            setHttpError(res, 400);
            return HR::Handled;
        }
        mainlogtail(ep, res);
        return HR::Handled;
    }
    // The web interface is not served: "/" answers 404, the health check
    // /ok.html answers OK as supervisord's does.
    std::string path = uriPath(target);
    while (!path.empty() && path[0] == '/')
        path.erase(0, 1);
    if (path == "ok.html" && (req.method == "GET" || req.method == "POST")) {
        res.status = 200;
        res.setContent("OK", "text/plain");
        return HR::Handled;
    }
    if (path == "" || path == "index.html" || path == "tail.html" || path == "ok.html") {
        setHttpError(res, req.method == "GET" || req.method == "POST" ? 404 : 400);
        return HR::Handled;
    }
    setHttpError(res, req.method == "GET" || req.method == "HEAD" ? 404 : 400);
    return HR::Handled;
}

void Service::handleRpc(const EndpointConfig& ep, const http::Request& req, http::Response& res) {
    ParsedCall call;
    std::string why;
    if (!parseMethodCall(req.body, &call, &why)) {
        host_.log(LogLevel::Debug, "XML-RPC request refused (HTTP 400): " + why);
        setHttpError(res, 400);
        closeAfter();
        return;
    }
    const Caller caller = callerFor(ep);
    std::string body;
    try {
        body = methodResponse(rpc_.call(caller, call.method, call.params));
    } catch (const Fault& f) {
        body = faultResponse(f.code, f.text);
    } catch (const PyError& e) {
        host_.log(LogLevel::Warn, call.method + ": " + e.cls + ": " + e.message + " (HTTP 500, as supervisord)");
        setHttpError(res, 500);
        closeAfter();
        return;
    }
    res.status = 200;
    if (Connection* c = currentConnection(); c && body.size() > (256u << 10))
        c->bigReply = true;
    res.body = std::move(body);
    res.setHeader("Content-Type", "text/xml");
}

// ---- log streams ----------------------------------------------------------------------

std::shared_ptr<Service::Subscription> Service::subscribe(const std::string& key, bool) {
    auto s = std::make_shared<Subscription>();
    s->key = key;
    std::lock_guard lock(subsMutex_);
    subs_.emplace(key, s);
    ++subsCount_;
    return s;
}

void Service::unsubscribe(const std::shared_ptr<Subscription>& s) {
    std::lock_guard lock(subsMutex_);
    auto range = subs_.equal_range(s->key);
    for (auto it = range.first; it != range.second; ++it)
        if (it->second == s) {
            subs_.erase(it);
            --subsCount_;
            break;
        }
}

void Service::programOutput(const std::string& namespec, Stream, std::string_view) {
    if (subsCount_.load(std::memory_order_relaxed) == 0)
        return;
    std::lock_guard lock(subsMutex_);
    auto range = subs_.equal_range(namespec);
    for (auto it = range.first; it != range.second; ++it) {
        std::lock_guard sl(it->second->m);
        it->second->dirty = true;
        it->second->cv.notify_all();
    }
}

void Service::programRemoved(const ProgramInfo& info) { programOutput(info.namespec, Stream::Stdout, {}); }

void Service::mainLog(std::string_view) { programOutput("", Stream::Stdout, {}); }

void Service::daemonStateChanged(DaemonState s) { daemonState_ = int(s); }

void Service::logtail(const EndpointConfig& ep, const http::Request& req, http::Response& res) {
    // medusa: unquote, strip leading slashes, then "<anything>/<name>[/<channel>]".
    std::string path = uriPath(req.target);
    if (path.find('%') != std::string::npos)
        path = unquote(path);
    while (!path.empty() && path[0] == '/')
        path.erase(0, 1);
    const auto slash = path.find('/');
    if (slash == std::string::npos)
        return setHttpError(res, 500); // supervisord's quirk for a bare /logtail
    std::string name = path.substr(slash + 1), channel = "stdout";
    if (auto s2 = name.find('/'); s2 != std::string::npos) {
        channel = name.substr(s2 + 1);
        name.resize(s2);
    }
    if (auto refusal = authorize(callerFor(ep), Verb::ReadLog, Target{Target::Kind::Program, name})) {
        host_.log(LogLevel::Info, "/logtail/" + name + ": " + *refusal);
        return setHttpError(res, 403);
    }
    auto info = await<Result<ProgramInfo>>([&](auto cb) { host_.control().getProgram(name, cb); });
    if (!info || (channel != "stdout" && channel != "stderr"))
        return setHttpError(res, 404);
    const std::string key = info->namespec;
    const Stream stream = channel == "stderr" ? Stream::Stderr : Stream::Stdout;
    auto sub = subscribe(key, false);
    struct State {
        bool first = true;
        uint64_t offset = 0;
    };
    auto st = std::make_shared<State>();
    Control& control = host_.control();
    const int pollMs = opts_.streamPollMs;
    res.status = 200;
    res.setHeader("X-Accel-Buffering", "no");
    res.setChunkedProvider(
        "text/plain;charset=utf-8",
        [this, sub, st, key, stream, &control, pollMs](http::DataSink& sink) {
            if (stopping_ || !sink.isWritable())
                return false;
            if (!st->first) {
                std::unique_lock lock(sub->m);
                sub->cv.wait_for(lock, std::chrono::milliseconds(pollMs), [&] { return sub->dirty; });
                sub->dirty = false;
                if (stopping_)
                    return false;
            }
            // First the last 1024 bytes, then whatever came since.
            const int64_t offset = st->first ? -1024 : int64_t(st->offset);
            auto r = await<Result<LogBytes>>([&](auto cb) { control.readBytes(key, stream, offset, 0, cb); });
            if (!r)
                return false; // the program is gone
            st->first = false;
            if (r->end < st->offset) {
                static const char msg[] = "==> File truncated <==\n";
                if (!sink.write(msg, sizeof msg - 1))
                    return false;
            }
            st->offset = r->end;
            return r->data.empty() || sink.write(r->data.data(), r->data.size());
        },
        [this, sub](bool) { unsubscribe(sub); });
}

void Service::mainlogtail(const EndpointConfig& ep, http::Response& res) {
    if (auto refusal = authorize(callerFor(ep), Verb::ReadLog, Target{})) {
        host_.log(LogLevel::Info, "/mainlogtail: " + *refusal);
        return setHttpError(res, 403);
    }
    // The engine does not announce its own log lines (Listener::mainLog)
    // yet, so the stream also looks for news every mainLogPollMs.
    auto sub = subscribe("", true);
    auto offset = std::make_shared<std::optional<uint64_t>>();
    Control& control = host_.control();
    const int pollMs = opts_.mainLogPollMs;
    res.status = 200;
    res.setChunkedProvider(
        "text/plain;charset=utf-8",
        [this, sub, offset, &control, pollMs](http::DataSink& sink) {
            if (stopping_ || !sink.isWritable())
                return false;
            if (*offset) {
                std::unique_lock lock(sub->m);
                sub->cv.wait_for(lock, std::chrono::milliseconds(pollMs), [&] { return sub->dirty; });
                sub->dirty = false;
                if (stopping_)
                    return false;
            }
            const int64_t from = *offset ? int64_t(**offset) : -1024;
            auto r = await<Result<LogBytes>>([&](auto cb) { control.readMainLog(from, 0, cb); });
            if (!r)
                return false;
            if (*offset && r->end < **offset) {
                static const char msg[] = "==> File truncated <==\n";
                if (!sink.write(msg, sizeof msg - 1))
                    return false;
            }
            *offset = r->end;
            return r->data.empty() || sink.write(r->data.data(), r->data.size());
        },
        [this, sub](bool) { unsubscribe(sub); });
}

} // namespace scopevisor::xmlrpc
