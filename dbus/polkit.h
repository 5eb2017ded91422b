// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Asynchronous authorization of D-Bus callers with polkit (docs/architecture.md §6):
// org.freedesktop.PolicyKit1.Authority.CheckAuthorization with a
// system-bus-name subject, the action org.scopevisor1.<verb> and the details
// program, group and verb. Callers with uid 0 are allowed without asking. A
// challenge becomes InteractiveAuthorizationRequired, a refusal (and an
// unreachable polkitd) AccessDenied.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <sdbus-c++/Error.h>
#include <sdbus-c++/Types.h>

#include "caller.h"
#include "scopevisor/adapter.h"

namespace sdbus {
class IConnection;
class IProxy;
} // namespace sdbus

namespace scopevisor::dbus {

// What polkit is asked about.
struct AuthRequest {
    Verb verb = Verb::Manage;
    std::string program; // namespec, "" for group and daemon-wide commands
    std::string group;   // "" for daemon-wide commands
};

// The refusal, or nothing when the caller may go on.
using AuthDone = std::function<void(std::optional<sdbus::Error>)>;

class Authorizer {
public:
    // With `usePolkit` false every caller is allowed: on a session bus only
    // the user who owns it (and root) can connect at all.
    Authorizer(sdbus::IConnection& conn, bool usePolkit);
    ~Authorizer();

    // Every request must be allowed (a group or all operation is asked
    // for each program it touches, so a per-program rule holds for it too);
    // the first refusal is the answer. At most a small window of questions
    // is in flight, to stay within the bus's pending-reply limit. `done`
    // runs on the loop thread: at once when no question has to be asked,
    // otherwise when the answers arrive.
    void checkAll(const Caller& who, std::vector<AuthRequest> reqs, AuthDone done);
    // A local peer of an adapter's unix socket, as polkit's unix-process
    // subject (pid, start time, uid from SO_PEERCRED). Without polkit (the
    // session bus) only the daemon's own user is allowed.
    void checkProcess(const UnixPeer& peer, uint64_t startTicks, const AuthRequest& req, AuthDone done);

    static const char* actionId(Verb v);

    // Who polkit is asked about.
    struct Subject {
        std::string kind; // "system-bus-name" or "unix-process"
        std::map<std::string, sdbus::Variant> fields;
        bool interactive = false;
    };

private:
    void withUid(const std::string& sender, std::function<void(std::optional<uint32_t>)> then);
    void askPolkit(const Subject& subject, const AuthRequest& req, AuthDone done);
    void askEach(std::shared_ptr<Subject> subject, std::shared_ptr<std::vector<AuthRequest>> reqs, AuthDone done);

    bool usePolkit_;
    std::unique_ptr<sdbus::IProxy> busDriver_;
    std::unique_ptr<sdbus::IProxy> authority_;
    // A unique name is never reused on a bus and its owner's uid never
    // changes, so this cache cannot be wrong; it is only bounded.
    std::unordered_map<std::string, uint32_t> uids_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace scopevisor::dbus
