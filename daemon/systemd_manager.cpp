// SPDX-License-Identifier: LGPL-2.1-or-later
//
// SystemdManager over raw sd-bus, attached to the engine's sd-event loop.
//
// Every call is asynchronous (sd_bus_call_async): the engine thread sends
// StartTransientUnit for as many programs as it likes and goes on, and PID 1
// works through them while the replies and JobRemoved signals come back on
// the loop. A job is done when its JobRemoved arrives; the reply with the
// job's path normally comes first, but a JobRemoved that overtakes it is
// kept and matched when the reply arrives.
//
// JobRemoved reaches us without Subscribe(): systemd sends a job's signals
// to the client that queued it. Not subscribing spares the daemon the
// PropertiesChanged traffic of every unit on the machine.
#include "systemd_manager.h"

#include <cerrno>
#include <cstring>
#include <deque>
#include <string_view>
#include <unordered_map>

#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "logging.h"
#include "sd_event_loop.h"

namespace scopevisor {
namespace {

constexpr const char* kService = "org.freedesktop.systemd1";
constexpr const char* kPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
// Method calls awaiting their reply at any one time. PID 1 handles them one
// after the other anyway; the cap keeps us under dbus-daemon's per-connection
// limit of pending replies when we talk through the system bus.
constexpr size_t kMaxInFlight = 100;
// A job that never ends (PID 1 hung) must not hold a program in STARTING
// forever.
constexpr uint64_t kJobTimeoutUs = 90ull * 1000000;
// sd-bus reads one message per dispatch of its source. At the loop's normal
// priority a mass start alternates one reply with a batch of forks, so the
// replies that would send the next calls wait behind the forks while PID 1,
// with kMaxInFlight calls answered, has nothing to do. Ahead of the other
// sources, every pending reply and JobRemoved is handled first.
constexpr int64_t kBusPriority = SD_EVENT_PRIORITY_NORMAL - 10;

std::string errnoText(int e) { return std::strerror(e < 0 ? -e : e); }

// ("Before", ["a.service"]) as one (sv) of type "as".
int appendStrv(sd_bus_message* m, const char* name, const std::vector<std::string>& v) {
    int r = sd_bus_message_open_container(m, 'r', "sv");
    if (r >= 0)
        r = sd_bus_message_append(m, "s", name);
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'v', "as");
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'a', "s");
    for (size_t i = 0; r >= 0 && i < v.size(); ++i)
        r = sd_bus_message_append(m, "s", v[i].c_str());
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    return r;
}

class SdBusManager final : public SystemdManager {
public:
    SdBusManager(SdEventLoop& loop, bool user) : loop_(loop), user_(user) {}
    ~SdBusManager() override {
        drain();
        close();
    }

    // Open the connection and install the signal matches. "" on success.
    std::string open();

    void startScope(const ScopeRequest& req, Done done) override;
    void killUnit(const std::string& unit, int sig) override;
    void stopUnit(const std::string& unit, Done done) override;
    std::string describe() const override { return desc_; }

private:
    enum class Kind { Start, Stop, Kill };
    // One method call, from send to the end of its job.
    struct Call {
        Kind kind;
        std::string unit;
        Done done; // empty for Kill
        std::string job;
        SourcePtr timer;
    };
    struct CallCtx {
        SdBusManager* self;
        uint64_t id;
    };

    void drain();
    void close();
    bool ensureOpen(std::string* why);
    void submit(uint64_t id, std::function<int(sd_bus_message**)> build);
    void pump();
    void send(uint64_t id, sd_bus_message* m);
    void finish(uint64_t id, const std::string& error);
    void failLater(Done done, std::string error);
    void armTimeout(uint64_t id);
    void failAll(const std::string& error);

    static int onReply(sd_bus_message* m, void* userdata, sd_bus_error*);
    static int onJobRemoved(sd_bus_message* m, void* userdata, sd_bus_error*);
    static int onDisconnected(sd_bus_message* m, void* userdata, sd_bus_error*);
    void handleReply(uint64_t id, sd_bus_message* m);
    void jobDone(uint64_t id, const std::string& result);

    SdEventLoop& loop_;
    bool user_;
    sd_bus* bus_ = nullptr;
    bool direct_ = false; // peer-to-peer with PID 1: messages carry no sender
    std::string desc_;
    sd_bus_slot* jobMatch_ = nullptr;
    sd_bus_slot* discMatch_ = nullptr;

    uint64_t nextId_ = 1;
    std::unordered_map<uint64_t, Call> calls_;
    std::unordered_map<std::string, uint64_t> jobs_; // job path -> call awaiting its JobRemoved
    // JobRemoved for a path we do not know yet (reply still to come); kept
    // only while replies are outstanding, so others' jobs do not pile up.
    std::unordered_map<std::string, std::string> early_;
    std::deque<std::pair<uint64_t, sd_bus_message*>> queue_;
    size_t inFlight_ = 0;
};

std::string SdBusManager::open() {
    close();
    sd_bus* bus = nullptr;
    int r;
    if (!user_ && geteuid() == 0 && access("/run/systemd/private", F_OK) == 0) {
        // What systemctl does as root: PID 1's own socket, no dbus-daemon
        // in between (and none needed). Through the system bus a mass start
        // also fails: PID 1 adds a match rule on dbus-daemon for each job it
        // tracks for its caller, the system bus allows 512 per connection,
        // and beyond that PID 1's JobRemoved signals never reach us (seen
        // with 1000 programs: 607 scopes waited for the job timeout). The
        // session bus of --user allows 50000.
        r = sd_bus_new(&bus);
        if (r >= 0)
            r = sd_bus_set_address(bus, "unix:path=/run/systemd/private");
        if (r >= 0)
            r = sd_bus_start(bus);
        if (r >= 0) {
            direct_ = true;
            desc_ = "system manager via /run/systemd/private";
        } else {
            bus = sd_bus_unref(bus);
        }
    }
    if (!bus) {
        r = user_ ? sd_bus_open_user(&bus) : sd_bus_open_system(&bus);
        if (r < 0)
            return std::string("cannot connect to the ") + (user_ ? "session" : "system") + " bus: " + errnoText(r);
        direct_ = false;
        desc_ = user_ ? "user manager via the session bus" : "system manager via the system bus";
    }
    bus_ = bus;

    // One synchronous round trip at start-up: is a manager there at all?
    sd_bus_error err = SD_BUS_ERROR_NULL;
    char* version = nullptr;
    r = sd_bus_get_property_string(bus_, kService, kPath, kManager, "Version", &err, &version);
    if (r < 0) {
        std::string why = std::string("no systemd manager answers (") +
                          (err.message ? err.message : errnoText(r)) + ")";
        sd_bus_error_free(&err);
        close();
        return why;
    }
    desc_ += std::string(", systemd ") + version;
    free(version);

    r = sd_bus_match_signal(bus_, &jobMatch_, direct_ ? nullptr : kService, kPath, kManager, "JobRemoved",
                            &SdBusManager::onJobRemoved, this);
    if (r >= 0)
        r = sd_bus_match_signal(bus_, &discMatch_, nullptr, "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", &SdBusManager::onDisconnected, this);
    if (r >= 0)
        r = sd_bus_attach_event(bus_, loop_.raw(), kBusPriority);
    if (r < 0) {
        close();
        return "cannot watch systemd's jobs: " + errnoText(r);
    }
    return {};
}

void SdBusManager::drain() {
    // The daemon is going away right after its last program stopped, and
    // that program's KillUnit/StopUnit may have just been sent. PID 1 does
    // not always act on calls whose sender has already hung up, so wait
    // (briefly) until every call has its answer: then nothing the program
    // left behind outlives the daemon. Callbacks run, but the backend has
    // stopped listening.
    if (!bus_ || sd_bus_is_open(bus_) <= 0)
        return;
    constexpr uint64_t kDrainUs = 3ull * 1000000;
    const uint64_t deadline = loop_.now() + kDrainUs;
    sd_bus_detach_event(bus_);
    while ((inFlight_ > 0 || !queue_.empty()) && sd_bus_is_open(bus_) > 0) {
        int r = sd_bus_process(bus_, nullptr);
        if (r < 0)
            break;
        if (r > 0)
            continue;
        const uint64_t now = loop_.now();
        if (now >= deadline)
            break;
        if (sd_bus_wait(bus_, deadline - now) < 0)
            break;
    }
}

void SdBusManager::close() {
    for (auto& [id, m] : queue_)
        sd_bus_message_unref(m);
    queue_.clear();
    jobMatch_ = sd_bus_slot_unref(jobMatch_);
    discMatch_ = sd_bus_slot_unref(discMatch_);
    if (bus_) {
        sd_bus_detach_event(bus_);
        // Floating call slots go with the bus; their destroy callbacks free
        // the contexts. No reply callback runs any more.
        bus_ = sd_bus_flush_close_unref(bus_);
    }
    inFlight_ = 0;
}

bool SdBusManager::ensureOpen(std::string* why) {
    if (bus_ && sd_bus_is_open(bus_) > 0)
        return true;
    // PID 1 re-executed (daemon-reexec) or the bus restarted: connect again.
    std::string err = open();
    if (err.empty()) {
        log::info("reconnected to the " + desc_);
        return true;
    }
    *why = err;
    return false;
}

void SdBusManager::failLater(Done done, std::string error) {
    if (done)
        loop_.post([done = std::move(done), error = std::move(error)] { done(error); });
}

void SdBusManager::submit(uint64_t id, std::function<int(sd_bus_message**)> build) {
    sd_bus_message* m = nullptr;
    int r = build(&m);
    if (r < 0) {
        sd_bus_message_unref(m);
        auto it = calls_.find(id);
        Done done = std::move(it->second.done);
        calls_.erase(it);
        failLater(std::move(done), "cannot build the D-Bus call: " + errnoText(r));
        return;
    }
    queue_.emplace_back(id, m);
    pump();
}

void SdBusManager::pump() {
    while (inFlight_ < kMaxInFlight && !queue_.empty()) {
        auto [id, m] = queue_.front();
        queue_.pop_front();
        send(id, m);
        sd_bus_message_unref(m);
    }
}

void SdBusManager::send(uint64_t id, sd_bus_message* m) {
    auto* ctx = new CallCtx{this, id};
    sd_bus_slot* slot = nullptr;
    int r = sd_bus_call_async(bus_, &slot, m, &SdBusManager::onReply, ctx, 0);
    if (r < 0) {
        delete ctx;
        finish(id, "cannot call systemd: " + errnoText(r));
        return;
    }
    sd_bus_slot_set_destroy_callback(slot, [](void* p) { delete static_cast<CallCtx*>(p); });
    sd_bus_slot_set_floating(slot, 1);
    sd_bus_slot_unref(slot);
    ++inFlight_;
}

void SdBusManager::finish(uint64_t id, const std::string& error) {
    auto it = calls_.find(id);
    if (it == calls_.end())
        return;
    Call c = std::move(it->second);
    calls_.erase(it);
    if (!c.job.empty())
        jobs_.erase(c.job);
    if (c.kind == Kind::Kill) {
        if (!error.empty())
            log::debug("KillUnit " + c.unit + ": " + error);
        return;
    }
    if (c.done)
        c.done(error);
}

void SdBusManager::armTimeout(uint64_t id) {
    auto it = calls_.find(id);
    if (it == calls_.end())
        return;
    it->second.timer = loop_.addTimer(loop_.now() + kJobTimeoutUs, [this, id] {
        auto c = calls_.find(id);
        std::string unit = c != calls_.end() ? c->second.unit : "";
        finish(id, "systemd did not finish the job for " + unit + " within 90 seconds");
    });
}

int SdBusManager::onReply(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* ctx = static_cast<CallCtx*>(userdata);
    SdBusManager* self = ctx->self;
    if (self->inFlight_ > 0) // failAll() may have zeroed it already
        --self->inFlight_;
    self->handleReply(ctx->id, m);
    self->pump();
    return 0;
}

void SdBusManager::handleReply(uint64_t id, sd_bus_message* m) {
    auto it = calls_.find(id);
    if (it == calls_.end())
        return;
    Call& c = it->second;
    if (const sd_bus_error* e = sd_bus_message_get_error(m)) {
        // A unit that is not loaded is stopped already: what stopUnit wants.
        if (c.kind == Kind::Stop && e->name && std::string_view(e->name) == "org.freedesktop.systemd1.NoSuchUnit") {
            finish(id, "");
            return;
        }
        finish(id, e->message ? e->message : (e->name ? e->name : "error"));
        return;
    }
    if (c.kind == Kind::Kill) {
        finish(id, "");
        return;
    }
    const char* job = nullptr;
    int r = sd_bus_message_read(m, "o", &job);
    if (r < 0 || !job) {
        finish(id, "unexpected reply from systemd: " + errnoText(r));
        return;
    }
    c.job = job;
    if (auto e = early_.find(c.job); e != early_.end()) {
        std::string result = std::move(e->second);
        early_.erase(e);
        jobDone(id, result);
        return;
    }
    jobs_[c.job] = id;
    armTimeout(id);
    if (inFlight_ == 0)
        early_.clear();
}

int SdBusManager::onJobRemoved(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* self = static_cast<SdBusManager*>(userdata);
    uint32_t jobId = 0;
    const char *job = nullptr, *unit = nullptr, *result = nullptr;
    if (sd_bus_message_read(m, "uoss", &jobId, &job, &unit, &result) < 0)
        return 0;
    auto it = self->jobs_.find(job);
    if (it == self->jobs_.end()) {
        if (self->inFlight_ > 0)
            self->early_[job] = result;
        return 0;
    }
    uint64_t id = it->second;
    self->jobs_.erase(it);
    self->jobDone(id, result);
    return 0;
}

void SdBusManager::jobDone(uint64_t id, const std::string& result) {
    auto it = calls_.find(id);
    if (it == calls_.end())
        return;
    if (result == "done") {
        finish(id, "");
        return;
    }
    const std::string what = it->second.kind == Kind::Start ? "start" : "stop";
    finish(id, "systemd could not " + what + " " + it->second.unit + " (job result: " + result + ")");
}

int SdBusManager::onDisconnected(sd_bus_message*, void* userdata, sd_bus_error*) {
    auto* self = static_cast<SdBusManager*>(userdata);
    log::warn("lost the connection to the " + self->desc_);
    // Replies and JobRemoved signals will not come on this connection.
    self->failAll("lost the connection to systemd");
    return 0;
}

void SdBusManager::failAll(const std::string& error) {
    std::vector<uint64_t> ids;
    ids.reserve(calls_.size());
    for (auto& [id, c] : calls_)
        ids.push_back(id);
    for (auto& [id, m] : queue_)
        sd_bus_message_unref(m);
    queue_.clear();
    inFlight_ = 0;
    jobs_.clear();
    early_.clear();
    // Each may start new work (a waiting spawn): post, so that it happens on
    // a fresh connection and not inside this dispatch.
    for (uint64_t id : ids) {
        auto it = calls_.find(id);
        if (it == calls_.end())
            continue;
        Call c = std::move(it->second);
        calls_.erase(it);
        failLater(std::move(c.done), error);
    }
}

void SdBusManager::startScope(const ScopeRequest& req, Done done) {
    std::string why;
    if (!ensureOpen(&why)) {
        failLater(std::move(done), why);
        return;
    }
    const uint64_t id = nextId_++;
    calls_[id] = Call{Kind::Start, req.unit, std::move(done), {}, nullptr};
    submit(id, [this, &req](sd_bus_message** m) {
        int r = sd_bus_message_new_method_call(bus_, m, kService, kPath, kManager, "StartTransientUnit");
        if (r < 0)
            return r;
        // "fail": never replace a queued job for a unit of that name.
        if ((r = sd_bus_message_append(*m, "ss", req.unit.c_str(), "fail")) < 0)
            return r;
        if ((r = sd_bus_message_open_container(*m, 'a', "(sv)")) < 0)
            return r;
        for (const UnitProperty& p : req.properties) {
            const char* n = p.name.c_str();
            if (auto* b = std::get_if<bool>(&p.value))
                r = sd_bus_message_append(*m, "(sv)", n, "b", int(*b));
            else if (auto* i = std::get_if<int32_t>(&p.value))
                r = sd_bus_message_append(*m, "(sv)", n, "i", *i);
            else if (auto* u = std::get_if<uint32_t>(&p.value))
                r = sd_bus_message_append(*m, "(sv)", n, "u", *u);
            else if (auto* t = std::get_if<uint64_t>(&p.value))
                r = sd_bus_message_append(*m, "(sv)", n, "t", *t);
            else if (auto* str = std::get_if<std::string>(&p.value))
                r = sd_bus_message_append(*m, "(sv)", n, "s", str->c_str());
            else
                r = appendStrv(*m, n, std::get<std::vector<std::string>>(p.value));
            if (r < 0)
                return r;
        }
        if ((r = sd_bus_message_append(*m, "(sv)", "PIDs", "au", 1, uint32_t(req.pid))) < 0)
            return r;
        if ((r = sd_bus_message_close_container(*m)) < 0)
            return r;
        return sd_bus_message_append(*m, "a(sa(sv))", 0);
    });
}

void SdBusManager::killUnit(const std::string& unit, int sig) {
    std::string why;
    if (!ensureOpen(&why)) {
        log::debug("KillUnit " + unit + ": " + why);
        return;
    }
    const uint64_t id = nextId_++;
    calls_[id] = Call{Kind::Kill, unit, nullptr, {}, nullptr};
    submit(id, [this, &unit, sig](sd_bus_message** m) {
        int r = sd_bus_message_new_method_call(bus_, m, kService, kPath, kManager, "KillUnit");
        if (r < 0)
            return r;
        return sd_bus_message_append(*m, "ssi", unit.c_str(), "all", int32_t(sig));
    });
}

void SdBusManager::stopUnit(const std::string& unit, Done done) {
    std::string why;
    if (!ensureOpen(&why)) {
        failLater(std::move(done), why);
        return;
    }
    const uint64_t id = nextId_++;
    calls_[id] = Call{Kind::Stop, unit, std::move(done), {}, nullptr};
    submit(id, [this, &unit](sd_bus_message** m) {
        int r = sd_bus_message_new_method_call(bus_, m, kService, kPath, kManager, "StopUnit");
        if (r < 0)
            return r;
        return sd_bus_message_append(*m, "ss", unit.c_str(), "replace");
    });
}

} // namespace

std::unique_ptr<SystemdManager> connectSystemdManager(SdEventLoop& loop, bool user, std::string* why) {
    auto m = std::make_unique<SdBusManager>(loop, user);
    std::string err = m->open();
    if (!err.empty()) {
        if (why)
            *why = err;
        return nullptr;
    }
    return m;
}

} // namespace scopevisor
