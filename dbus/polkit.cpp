// SPDX-License-Identifier: LGPL-2.1-or-later
#include "polkit.h"

#include <map>

#include <unistd.h>

#include <sdbus-c++/sdbus-c++.h>

namespace scopevisor::dbus {
namespace {

constexpr const char* kPolkitName = "org.freedesktop.PolicyKit1";
constexpr const char* kPolkitPath = "/org/freedesktop/PolicyKit1/Authority";
constexpr const char* kPolkitIface = "org.freedesktop.PolicyKit1.Authority";
constexpr uint32_t kAllowUserInteraction = 1;
constexpr size_t kMaxCachedUids = 4096;
// polkit questions in flight for one check: dbus-daemon allows a
// connection 128 pending replies on the system bus.
constexpr size_t kWindow = 16;

// An authentication dialog may be up for a while; polkit itself gives up
// on an unanswered agent, this only bounds a polkitd that hangs.
constexpr std::chrono::seconds kInteractiveTimeout{300};
constexpr std::chrono::seconds kTimeout{25};

sdbus::Error accessDenied(const std::string& why) {
    return sdbus::Error("org.freedesktop.DBus.Error.AccessDenied", why);
}

std::string describe(const AuthRequest& req) {
    std::string s = verbName(req.verb);
    if (!req.program.empty())
        s += " program " + req.program;
    else if (!req.group.empty())
        s += " group " + req.group;
    return s;
}

} // namespace

Authorizer::Authorizer(sdbus::IConnection& conn, bool usePolkit) : usePolkit_(usePolkit) {
    if (!usePolkit_)
        return;
    busDriver_ = sdbus::createProxy(conn, "org.freedesktop.DBus", "/org/freedesktop/DBus");
    authority_ = sdbus::createProxy(conn, kPolkitName, kPolkitPath);
}

Authorizer::~Authorizer() = default;

const char* Authorizer::actionId(Verb v) {
    switch (v) {
    case Verb::View: return "org.scopevisor1.view";
    case Verb::ReadLog: return "org.scopevisor1.read-log";
    case Verb::Control: return "org.scopevisor1.control";
    case Verb::SendInput: return "org.scopevisor1.send-input";
    case Verb::Manage: return "org.scopevisor1.manage";
    }
    return "org.scopevisor1.manage";
}

Authorizer::Subject busNameSubject(const Caller& who) {
    return {"system-bus-name", {{"name", sdbus::Variant(who.sender)}}, who.interactive};
}

void Authorizer::checkAll(const Caller& who, std::vector<AuthRequest> reqs, AuthDone done) {
    if (!usePolkit_)
        return done(std::nullopt);
    if (who.sender.empty())
        return done(accessDenied("the caller has no bus name"));
    auto list = std::make_shared<std::vector<AuthRequest>>(std::move(reqs));
    withUid(who.sender, [this, who, list, done](std::optional<uint32_t> uid) {
        if (!uid)
            return done(accessDenied("could not identify the caller " + who.sender));
        if (*uid == 0)
            return done(std::nullopt);
        askEach(std::make_shared<Subject>(busNameSubject(who)), list, done);
    });
}

void Authorizer::checkProcess(const UnixPeer& peer, uint64_t startTicks, const AuthRequest& req, AuthDone done) {
    if (peer.uid == 0)
        return done(std::nullopt);
    if (!usePolkit_) {
        if (peer.uid == geteuid())
            return done(std::nullopt);
        return done(accessDenied("uid " + std::to_string(peer.uid) + " is not the daemon's user"));
    }
    auto subject = std::make_shared<Subject>(Subject{
        "unix-process",
        {{"pid", sdbus::Variant(uint32_t(peer.pid))},
         {"start-time", sdbus::Variant(uint64_t(startTicks))},
         {"uid", sdbus::Variant(int32_t(peer.uid))}},
        false});
    askEach(subject, std::make_shared<std::vector<AuthRequest>>(std::vector<AuthRequest>{req}), std::move(done));
}

// Ask for every request, at most kWindow at a time; answer once, with the
// first refusal or with nothing when all were allowed.
void Authorizer::askEach(std::shared_ptr<Subject> subject, std::shared_ptr<std::vector<AuthRequest>> reqs,
                         AuthDone done) {
    if (reqs->empty())
        return done(std::nullopt);
    struct Round {
        size_t next = 0, answered = 0;
        bool finished = false;
    };
    auto round = std::make_shared<Round>();
    // Each pending answer holds the pump; the pump holds itself only weakly,
    // so it goes with the last answer.
    auto pump = std::make_shared<std::function<void()>>();
    std::weak_ptr<std::function<void()>> weakPump = pump;
    *pump = [this, subject, reqs, done, round, weakPump]() {
        auto self = weakPump.lock();
        while (self && !round->finished && round->next < reqs->size() && round->next - round->answered < kWindow) {
            const AuthRequest& req = (*reqs)[round->next++];
            askPolkit(*subject, req, [done, round, reqs, self](std::optional<sdbus::Error> denied) {
                ++round->answered;
                if (round->finished)
                    return;
                if (denied) {
                    round->finished = true;
                    return done(std::move(denied));
                }
                if (round->answered == reqs->size()) {
                    round->finished = true;
                    return done(std::nullopt);
                }
                (*self)();
            });
        }
    };
    (*pump)();
}

void Authorizer::withUid(const std::string& sender, std::function<void(std::optional<uint32_t>)> then) {
    if (auto it = uids_.find(sender); it != uids_.end())
        return then(it->second);
    std::weak_ptr<bool> alive = alive_;
    try {
        busDriver_->callMethodAsync("GetConnectionUnixUser")
            .onInterface("org.freedesktop.DBus")
            .withTimeout(kTimeout)
            .withArguments(sender)
            .uponReplyInvoke([this, alive, sender, then](const sdbus::Error* err, uint32_t uid) {
                if (!alive.lock())
                    return;
                if (err)
                    return then(std::nullopt);
                if (uids_.size() >= kMaxCachedUids)
                    uids_.clear();
                uids_.emplace(sender, uid);
                then(uid);
            });
    } catch (const sdbus::Error&) {
        then(std::nullopt);
    }
}

void Authorizer::askPolkit(const Subject& who, const AuthRequest& req, AuthDone done) {
    using SubjectStruct = sdbus::Struct<std::string, std::map<std::string, sdbus::Variant>>;
    using Answer = sdbus::Struct<bool, bool, std::map<std::string, std::string>>;
    SubjectStruct subject{who.kind, who.fields};
    std::map<std::string, std::string> details{
        {"program", req.program},
        {"group", req.group},
        {"verb", verbName(req.verb)},
    };
    const uint32_t flags = who.interactive ? kAllowUserInteraction : 0;
    std::weak_ptr<bool> alive = alive_;
    const std::string what = describe(req);
    try {
        authority_->callMethodAsync("CheckAuthorization")
            .onInterface(kPolkitIface)
            .withTimeout(who.interactive ? kInteractiveTimeout : kTimeout)
            .withArguments(subject, std::string(actionId(req.verb)), details, flags, std::string())
            .uponReplyInvoke([alive, done, what](const sdbus::Error* err, Answer answer) {
                if (!alive.lock())
                    return;
                if (err)
                    return done(accessDenied("polkit could not be asked (" + err->getName() +
                                             "): only root is allowed to " + what));
                const bool authorized = std::get<0>(answer);
                const bool challenge = std::get<1>(answer);
                if (authorized)
                    return done(std::nullopt);
                if (challenge)
                    return done(sdbus::Error("org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
                                             "authentication is required to " + what));
                done(accessDenied("not authorized to " + what));
            });
    } catch (const sdbus::Error& e) {
        done(accessDenied("polkit could not be asked: " + e.getMessage()));
    }
}

} // namespace scopevisor::dbus
