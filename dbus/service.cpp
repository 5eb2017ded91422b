// SPDX-License-Identifier: LGPL-2.1-or-later
#include "service.h"

#include <algorithm>

#include <poll.h>
#include <sys/socket.h>

#include <systemd/sd-bus.h>

#include "manager_object.h"
#include "program_object.h"

namespace scopevisor::dbus {
namespace {

// What the kernel may hold of ours that dbus-daemon has not read yet. sd-bus
// raises a connection's send buffer to 8 MiB, so a burst of signals all goes
// into the socket at once, and a reply sent after them waits until
// dbus-daemon has read and routed every one. Kept small, the socket fills,
// sd-bus holds what does not fit (its fd then polls for POLLOUT) and
// SignalQueue waits for the bus to catch up: a reply queues behind a few
// dozen signals at most. The kernel doubles the value for its bookkeeping.
constexpr int kSendBuffer = 32 * 1024;

void limitSendBuffer(sdbus::IConnection& conn) {
    const int fd = conn.getEventLoopPollData().fd;
    // Failing that, signals still go out, only with more queued ahead of a
    // reply.
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSendBuffer, sizeof kSendBuffer);
}

} // namespace

std::string programPath(const std::string& namespec) {
    char* path = nullptr;
    if (sd_bus_path_encode(kProgramPathPrefix, namespec.c_str(), &path) < 0 || !path)
        throw std::bad_alloc();
    std::string s(path);
    free(path);
    return s;
}

std::unique_ptr<Frontend> Frontend::start(sd_event* ev, Control& control, FrontendOptions opts, std::string* error) {
    std::unique_ptr<sdbus::IConnection> conn;
    try {
        conn = opts.sessionBus ? sdbus::createSessionBusConnection() : sdbus::createSystemBusConnection();
    } catch (const sdbus::Error& e) {
        if (error)
            *error = e.getMessage();
        return nullptr;
    }
    try {
        auto s = std::make_unique<Service>(ev, control, std::move(conn), std::move(opts));
        s->begin();
        return s;
    } catch (const std::exception& e) {
        if (error)
            *error = e.what();
        return nullptr;
    }
}

Service::Service(sd_event* ev, Control& control, std::unique_ptr<sdbus::IConnection> conn, FrontendOptions opts)
    : ev_(ev), control_(control), opts_(std::move(opts)), conn_(std::move(conn)) {
    limitSendBuffer(*conn_);
    auth_ = std::make_unique<Authorizer>(*conn_, !opts_.sessionBus);
    manager_ = std::make_unique<ManagerObject>(*this);
    signals_ = std::make_unique<SignalQueue>(ev, [this] {
        try {
            return (conn_->getEventLoopPollData().events & POLLOUT) != 0;
        } catch (const sdbus::Error&) {
            return false; // BusLoop reports the failure
        }
    });
    busLoop_ = std::make_unique<BusLoop>(ev, *conn_, [this](const std::string& why) { lost(why); });
    busLoop_->setOnPrepare([this] { signals_->resume(); });
}

Service::~Service() {
    *alive_ = false;
    if (listening_)
        control_.removeListener(this);
    if (connected_)
        signals_->flush();
    programs_.clear();
    manager_.reset();
    signals_.reset();
    busLoop_.reset();
}

void Service::log(LogLevel level, std::string_view message) const {
    if (opts_.log)
        opts_.log(level, message);
}

// The listener goes in first and the snapshots are taken after it, in the
// engine's order, so no program is missed; events that the snapshot already
// shows only refresh the same values.
void Service::begin() {
    control_.addListener(this);
    listening_ = true;
    std::weak_ptr<bool> alive = alive_;
    control_.daemonInfo([this, alive](DaemonInfo d) {
        if (!alive.lock())
            return;
        daemon_ = std::move(d);
    });
    control_.listPrograms([this, alive](std::vector<ProgramInfo> list) {
        if (!alive.lock())
            return;
        for (const auto& p : list)
            addOrUpdate(p, false);
        requestName();
    });
}

void Service::requestName() {
    try {
        conn_->requestName(kBusName);
        log(LogLevel::Info, std::string("D-Bus API on the ") + (opts_.sessionBus ? "session" : "system") + " bus as " +
                                kBusName);
    } catch (const sdbus::Error& e) {
        log(LogLevel::Error, std::string("could not own ") + kBusName + " on the " +
                                 (opts_.sessionBus ? "session" : "system") + " bus (" + e.getMessage() +
                                 "): running without the D-Bus API");
    }
}

void Service::lost(const std::string& why) {
    connected_ = false;
    signals_->clear();
    log(LogLevel::Error, "lost the D-Bus connection (" + why + "): running without the D-Bus API");
}

std::string Service::canonical(const std::string& namespec) const {
    if (programs_.count(namespec))
        return namespec;
    // supervisord's rule, as the engine resolves names: split on the first
    // ':'; without one, the group and the process have the same name.
    auto colon = namespec.find(':');
    const std::string group = colon == std::string::npos ? namespec : namespec.substr(0, colon);
    const std::string name = colon == std::string::npos ? namespec : namespec.substr(colon + 1);
    for (const auto& [spec, obj] : programs_)
        if (obj->info().group == group && obj->info().name == name)
            return spec;
    return namespec;
}

AuthRequest Service::programRequest(Verb verb, const std::string& namespec) const {
    const std::string spec = canonical(namespec);
    AuthRequest req{verb, spec, ""};
    if (auto it = programs_.find(spec); it != programs_.end())
        req.group = it->second->info().group;
    else if (auto colon = spec.find(':'); colon != std::string::npos)
        req.group = spec.substr(0, colon);
    else
        req.group = spec;
    return req;
}

std::vector<AuthRequest> Service::programsRequests(Verb verb, const std::string& group, bool all) const {
    std::vector<AuthRequest> reqs;
    for (const auto& [spec, obj] : programs_)
        if (all || obj->info().group == group)
            reqs.push_back(AuthRequest{verb, spec, obj->info().group});
    // An empty group (or daemon) is still asked about once: the engine's
    // answer for it (no such group) is no business of a refused caller.
    if (reqs.empty())
        reqs.push_back(AuthRequest{verb, "", group});
    return reqs;
}

void Service::authorizeProcess(const UnixPeer& peer, uint64_t startTicks, Verb verb, const std::string& program,
                               std::function<void(bool, std::string)> done) {
    AuthRequest req = program.empty() ? AuthRequest{verb, "", ""} : programRequest(verb, program);
    auth_->checkProcess(peer, startTicks, req, [done](std::optional<sdbus::Error> denied) {
        if (denied)
            return done(false, denied->getMessage());
        done(true, "");
    });
}

Callback<Status> Service::statusReply(Reply<> r) const {
    std::weak_ptr<bool> alive = alive_;
    return [alive, r](Status st) {
        if (!alive.lock())
            return;
        if (!st)
            return replyError(r, toBusError(st.error()));
        replyOk(r);
    };
}

Callback<Result<MultiResult>> Service::multiReply(Reply<> r) const {
    std::weak_ptr<bool> alive = alive_;
    return [alive, r](Result<MultiResult> res) {
        if (!alive.lock())
            return;
        if (!res)
            return replyError(r, toBusError(res.error()));
        Error e = summarize(res.value());
        if (e.code != ErrorCode::Ok)
            return replyError(r, toBusError(e));
        replyOk(r);
    };
}

void Service::start(const sdbus::IObject& obj, sdbus::Result<>&& r, const std::string& namespec) {
    authorized(obj, std::move(r), programRequest(Verb::Control, namespec),
                 [this, namespec](Reply<> reply) { control_.start(namespec, true, statusReply(reply)); });
}

void Service::stop(const sdbus::IObject& obj, sdbus::Result<>&& r, const std::string& namespec) {
    authorized(obj, std::move(r), programRequest(Verb::Control, namespec),
                 [this, namespec](Reply<> reply) { control_.stop(namespec, true, statusReply(reply)); });
}

void Service::restart(const sdbus::IObject& obj, sdbus::Result<>&& r, const std::string& namespec) {
    authorized(obj, std::move(r), programRequest(Verb::Control, namespec),
                 [this, namespec](Reply<> reply) { control_.restart(namespec, true, statusReply(reply)); });
}

void Service::signal(const sdbus::IObject& obj, sdbus::Result<>&& r, const std::string& namespec, int sig) {
    authorized(obj, std::move(r), programRequest(Verb::Control, namespec),
                 [this, namespec, sig](Reply<> reply) { control_.signal(namespec, sig, statusReply(reply)); });
}

void Service::sendInput(const sdbus::IObject& obj, sdbus::Result<>&& r, const std::string& namespec,
                        std::vector<uint8_t> data) {
    auto bytes = std::make_shared<std::string>(data.begin(), data.end());
    authorized(obj, std::move(r), programRequest(Verb::SendInput, namespec),
                 [this, namespec, bytes](Reply<> reply) {
                     control_.sendInput(namespec, std::move(*bytes), statusReply(reply));
                 });
}

void Service::readLog(const sdbus::IObject& obj, sdbus::Result<uint64_t, uint64_t, std::vector<std::string>>&& r,
                      const std::string& namespec, const std::string& stream, uint64_t firstLine, uint32_t maxLines) {
    using Lines = Reply<uint64_t, uint64_t, std::vector<std::string>>;
    auto s = parseStream(stream);
    if (!s) {
        try {
            r.returnError(badArguments("stream must be \"stdout\", \"stderr\" or \"all\", not \"" + stream + "\""));
        } catch (...) {
        }
        return;
    }
    authorized(
        obj, std::move(r), programRequest(Verb::ReadLog, namespec),
        [this, namespec, s, firstLine, maxLines](Lines reply) {
            std::weak_ptr<bool> alive = alive_;
            control_.readLog(namespec, *s, firstLine, maxLines, [alive, reply](Result<LogLines> res) {
                if (!alive.lock())
                    return;
                if (!res)
                    return replyError(reply, toBusError(res.error()));
                replyOk(reply, res->first, res->last, res->lines);
            });
        });
}

void Service::addOrUpdate(const ProgramInfo& info, bool announce) {
    if (auto it = programs_.find(info.namespec); it != programs_.end()) {
        changed(*it->second, info);
        return;
    }
    auto obj = std::make_unique<ProgramObject>(*this, info);
    auto* raw = obj.get();
    programs_.emplace(info.namespec, std::move(obj));
    if (!announce || !connected_)
        return;
    try {
        signals_->flush(); // what happened before comes first
        raw->emitInterfacesAddedSignal();
        manager_->emitProgramNew(info.namespec, sdbus::ObjectPath(programPath(info.namespec)));
        manager_->emitPropertiesChangedSignal("org.scopevisor1.Manager", {"ProgramCount"});
    } catch (const sdbus::Error& e) {
        log(LogLevel::Warn, "could not announce program " + info.namespec + ": " + e.getMessage());
    }
}

void Service::programAdded(const ProgramInfo& info) { addOrUpdate(info, true); }

void Service::programRemoved(const ProgramInfo& info) {
    auto it = programs_.find(info.namespec);
    if (it == programs_.end())
        return;
    auto obj = std::move(it->second);
    programs_.erase(it);
    if (!connected_)
        return;
    try {
        signals_->flush();
        obj->emitInterfacesRemovedSignal();
        manager_->emitProgramRemoved(info.namespec, sdbus::ObjectPath(programPath(info.namespec)));
        manager_->emitPropertiesChangedSignal("org.scopevisor1.Manager", {"ProgramCount"});
    } catch (const sdbus::Error& e) {
        log(LogLevel::Warn, "could not announce the removal of " + info.namespec + ": " + e.getMessage());
    }
}

void Service::changed(ProgramObject& obj, const ProgramInfo& info) {
    const ProcessState old = obj.info().state;
    auto names = obj.update(info);
    if (!connected_ || names.empty())
        return;
    try {
        signals_->push(obj.changedSignal(names));
        if (info.state != old)
            signals_->push(manager_->stateChangedSignal(info.namespec, stateName(info.state), stateName(old)));
    } catch (const sdbus::Error& e) {
        log(LogLevel::Warn, "could not signal the change of " + info.namespec + ": " + e.getMessage());
    }
}

void Service::programStateChanged(const ProgramInfo& now, ProcessState) {
    auto it = programs_.find(now.namespec);
    if (it == programs_.end())
        return addOrUpdate(now, true);
    changed(*it->second, now);
}

// STARTING is announced before the backend has the process (a scope is
// made asynchronously); PID and Unit arrive with this event, so that they
// are not left stale for the whole of startsecs.
void Service::programSpawned(const ProgramInfo& now) {
    if (auto it = programs_.find(now.namespec); it != programs_.end())
        changed(*it->second, now);
}

void Service::daemonStateChanged(DaemonState s) {
    if (daemon_.state == s)
        return;
    daemon_.state = s;
    if (!connected_)
        return;
    try {
        signals_->flush();
        manager_->emitPropertiesChangedSignal("org.scopevisor1.Manager", {"State"});
    } catch (const sdbus::Error&) {
    }
}

} // namespace scopevisor::dbus
