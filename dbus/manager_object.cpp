// SPDX-License-Identifier: LGPL-2.1-or-later
#include "manager_object.h"

#include "service.h"

namespace scopevisor::dbus {

ManagerObject::ManagerObject(Service& service)
    : AdaptorInterfaces(service.connection(), kManagerPath), service_(service) {
    registerAdaptor();
}

ManagerObject::~ManagerObject() { unregisterAdaptor(); }

sdbus::Signal ManagerObject::stateChangedSignal(const std::string& namespec, const std::string& now,
                                                const std::string& old) {
    sdbus::Signal s = getObject().createSignal(org::scopevisor1::Manager_adaptor::INTERFACE_NAME, "ProgramStateChanged");
    s << namespec << now << old;
    return s;
}

void ManagerObject::ListPrograms(sdbus::Result<std::vector<ProgramRow>>&& result) {
    service_.authorized(
        getObject(), std::move(result), AuthRequest{Verb::View, "", ""},
        [this](Reply<std::vector<ProgramRow>> reply) {
            auto alive = service_.token();
            service_.control().listPrograms([alive, reply](std::vector<ProgramInfo> list) {
                if (!alive.lock())
                    return;
                std::vector<ProgramRow> rows;
                rows.reserve(list.size());
                for (auto& p : list) {
                    sdbus::ObjectPath path(programPath(p.namespec));
                    rows.emplace_back(std::move(p.namespec), std::move(p.group), std::string(stateName(p.state)),
                                      std::move(p.description), uint32_t(p.pid), std::move(path));
                }
                replyOk(reply, rows);
            });
        });
}

void ManagerObject::GetProgram(sdbus::Result<sdbus::ObjectPath>&& result, std::string namespec) {
    service_.authorized(
        getObject(), std::move(result), service_.programRequest(Verb::View, namespec),
        [this, namespec](Reply<sdbus::ObjectPath> reply) {
            auto alive = service_.token();
            service_.control().getProgram(namespec, [alive, reply](Result<ProgramInfo> r) {
                if (!alive.lock())
                    return;
                if (!r)
                    return replyError(reply, toBusError(r.error()));
                replyOk(reply, sdbus::ObjectPath(programPath(r->namespec)));
            });
        });
}

void ManagerObject::StartProgram(sdbus::Result<>&& result, std::string namespec) {
    service_.start(getObject(), std::move(result), namespec);
}

void ManagerObject::StopProgram(sdbus::Result<>&& result, std::string namespec) {
    service_.stop(getObject(), std::move(result), namespec);
}

void ManagerObject::RestartProgram(sdbus::Result<>&& result, std::string namespec) {
    service_.restart(getObject(), std::move(result), namespec);
}

void ManagerObject::SignalProgram(sdbus::Result<>&& result, std::string namespec, int32_t signal) {
    service_.signal(getObject(), std::move(result), namespec, signal);
}

void ManagerObject::StartGroup(sdbus::Result<>&& result, std::string group) {
    service_.authorizedAll(getObject(), std::move(result), service_.programsRequests(Verb::Control, group, false),
                          [this, group](Reply<> reply) {
                              service_.control().startGroup(group, true, service_.multiReply(reply));
                          });
}

void ManagerObject::StopGroup(sdbus::Result<>&& result, std::string group) {
    service_.authorizedAll(getObject(), std::move(result), service_.programsRequests(Verb::Control, group, false),
                          [this, group](Reply<> reply) {
                              service_.control().stopGroup(group, true, service_.multiReply(reply));
                          });
}

void ManagerObject::StartAll(sdbus::Result<>&& result) {
    service_.authorizedAll(getObject(), std::move(result), service_.programsRequests(Verb::Control, "", true),
                           [this](Reply<> reply) {
        auto done = service_.multiReply(reply);
        service_.control().startAll(true, [done](MultiResult r) { done(std::move(r)); });
    });
}

void ManagerObject::StopAll(sdbus::Result<>&& result) {
    service_.authorizedAll(getObject(), std::move(result), service_.programsRequests(Verb::Control, "", true),
                           [this](Reply<> reply) {
        auto done = service_.multiReply(reply);
        service_.control().stopAll(true, [done](MultiResult r) { done(std::move(r)); });
    });
}

void ManagerObject::SendInput(sdbus::Result<>&& result, std::string namespec, std::vector<uint8_t> data) {
    service_.sendInput(getObject(), std::move(result), namespec, std::move(data));
}

void ManagerObject::ReadLog(sdbus::Result<uint64_t, uint64_t, std::vector<std::string>>&& result,
                            std::string namespec, std::string stream, uint64_t first_line, uint32_t max_lines) {
    service_.readLog(getObject(), std::move(result), namespec, stream, first_line, max_lines);
}

void ManagerObject::Reload(
    sdbus::Result<std::vector<std::string>, std::vector<std::string>, std::vector<std::string>>&& result) {
    using Lists = Reply<std::vector<std::string>, std::vector<std::string>, std::vector<std::string>>;
    service_.authorized(
        getObject(), std::move(result), AuthRequest{Verb::Manage, "", ""}, [this](Lists reply) {
            auto alive = service_.token();
            service_.control().reload([alive, reply](Result<ReloadResult> r) {
                if (!alive.lock())
                    return;
                if (!r)
                    return replyError(reply, toBusError(r.error()));
                replyOk(reply, r->added, r->changed, r->removed);
            });
        });
}

void ManagerObject::Shutdown(sdbus::Result<>&& result) {
    service_.authorized(getObject(), std::move(result), AuthRequest{Verb::Manage, "", ""}, [this](Reply<> reply) {
        service_.control().shutdown(service_.statusReply(reply));
    });
}

std::string ManagerObject::Version() { return service_.daemon().version; }
std::string ManagerObject::Backend() { return service_.daemon().backend; }

std::string ManagerObject::State() {
    switch (service_.daemon().state) {
    case DaemonState::Running: return "RUNNING";
    case DaemonState::Restarting: return "RESTARTING";
    case DaemonState::Shutdown: return "SHUTDOWN";
    }
    return "RUNNING";
}

uint32_t ManagerObject::ProgramCount() { return uint32_t(service_.programCount()); }

} // namespace scopevisor::dbus
