// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The D-Bus service behind Frontend: the connection on the loop, the
// authorizer, the Manager object and one Program object per program, kept in
// step with the engine through its Listener. Every method follows the same
// path: note the caller, authorize asynchronously, call Control, reply from
// its callback. Nothing blocks the loop, so a start that waits for
// startsecs holds up no other caller.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "bus_loop.h"
#include "errors.h"
#include "frontend.h"
#include "polkit.h"
#include "signal_queue.h"

namespace scopevisor::dbus {

class ManagerObject;
class ProgramObject;

template <typename... R>
using Reply = std::shared_ptr<sdbus::Result<R...>>;

// Send a reply; a caller that went away meanwhile is no error of ours.
template <typename... R>
void replyError(const Reply<R...>& r, const sdbus::Error& e) noexcept {
    try {
        r->returnError(e);
    } catch (...) {
    }
}
template <typename... R, typename... V>
void replyOk(const Reply<R...>& r, const V&... v) noexcept {
    try {
        r->returnResults(v...);
    } catch (...) {
    }
}

class Service final : public Frontend, private Listener {
public:
    Service(sd_event* ev, Control& control, std::unique_ptr<sdbus::IConnection> conn, FrontendOptions opts);
    ~Service() override;

    void begin();

    Control& control() { return control_; }
    sdbus::IConnection& connection() { return *conn_; }
    std::weak_ptr<bool> token() const { return alive_; }
    void log(LogLevel level, std::string_view message) const;

    // The details polkit gets for a command on one program, by its
    // canonical namespec whatever the caller's spelling ("web:web" is "web").
    AuthRequest programRequest(Verb verb, const std::string& namespec) const;
    // One request for every program of `group` ("" = every program), so that
    // a per-program rule holds for group and all operations too.
    std::vector<AuthRequest> programsRequests(Verb verb, const std::string& group, bool all) const;
    // The canonical namespec of a program named as the engine resolves
    // names, or the name as given when there is no such program.
    std::string canonical(const std::string& namespec) const;

    void authorizeProcess(const UnixPeer& peer, uint64_t startTicks, Verb verb, const std::string& program,
                          std::function<void(bool, std::string)> done) override;

    // Authorize the call `obj` is handling for every one of `reqs` (all
    // must be allowed), then run `action` as authorized() does.
    template <typename... R, typename Action>
    void authorizedAll(const sdbus::IObject& obj, sdbus::Result<R...>&& result, std::vector<AuthRequest> reqs,
                       Action action) {
        auto reply = std::make_shared<sdbus::Result<R...>>(std::move(result));
        std::weak_ptr<bool> alive = alive_;
        auth_->checkAll(currentCaller(obj), std::move(reqs),
                        [alive, reply, action](std::optional<sdbus::Error> denied) {
                            if (!alive.lock())
                                return;
                            if (denied)
                                return replyError(reply, *denied);
                            runAction(reply, action);
                        });
    }

    // Authorize the call `obj` is handling, then run `action` (on the loop
    // thread) with the reply handle, or reply the refusal.
    template <typename... R, typename Action>
    void authorized(const sdbus::IObject& obj, sdbus::Result<R...>&& result, const AuthRequest& req,
                    Action action) {
        authorizedAll(obj, std::move(result), std::vector<AuthRequest>{req}, std::move(action));
    }

    template <typename... R, typename Action>
    static void runAction(const Reply<R...>& reply, const Action& action) {
        try {
            action(reply);
        } catch (const sdbus::Error& e) {
            replyError(reply, e);
        } catch (const std::exception& e) {
            replyError(reply, toBusError(Error{ErrorCode::Failed, e.what()}));
        }
    }

    // The program commands, shared by the Manager (by namespec) and the
    // Program objects.
    void start(const sdbus::IObject& obj, sdbus::Result<>&& r, const std::string& namespec);
    void stop(const sdbus::IObject& obj, sdbus::Result<>&& r, const std::string& namespec);
    void restart(const sdbus::IObject& obj, sdbus::Result<>&& r, const std::string& namespec);
    void signal(const sdbus::IObject& obj, sdbus::Result<>&& r, const std::string& namespec, int sig);
    void sendInput(const sdbus::IObject& obj, sdbus::Result<>&& r, const std::string& namespec,
                   std::vector<uint8_t> data);
    void readLog(const sdbus::IObject& obj, sdbus::Result<uint64_t, uint64_t, std::vector<std::string>>&& r,
                 const std::string& namespec, const std::string& stream, uint64_t firstLine, uint32_t maxLines);

    // Callback for a Control answer without a value.
    Callback<Status> statusReply(Reply<> r) const;
    Callback<Result<MultiResult>> multiReply(Reply<> r) const;

    // Manager properties.
    const DaemonInfo& daemon() const { return daemon_; }
    size_t programCount() const { return programs_.size(); }

private:
    // Listener, on the loop thread.
    void programAdded(const ProgramInfo& info) override;
    void programRemoved(const ProgramInfo& info) override;
    void programStateChanged(const ProgramInfo& now, ProcessState old) override;
    void programSpawned(const ProgramInfo& now) override;
    void daemonStateChanged(DaemonState s) override;

    void addOrUpdate(const ProgramInfo& info, bool announce);
    void changed(ProgramObject& obj, const ProgramInfo& info);
    void requestName();
    void lost(const std::string& why);

    sd_event* ev_;
    Control& control_;
    FrontendOptions opts_;
    std::unique_ptr<sdbus::IConnection> conn_;
    std::unique_ptr<BusLoop> busLoop_;
    std::unique_ptr<SignalQueue> signals_;
    std::unique_ptr<Authorizer> auth_;
    std::unique_ptr<ManagerObject> manager_;
    std::map<std::string, std::unique_ptr<ProgramObject>> programs_; // by namespec
    DaemonInfo daemon_;
    bool listening_ = false;
    bool connected_ = true;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace scopevisor::dbus
