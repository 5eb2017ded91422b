// SPDX-License-Identifier: LGPL-2.1-or-later
#include "program_object.h"

#include <ctime>

#include "service.h"

namespace scopevisor::dbus {
namespace {

constexpr const char* kInterface = "org.scopevisor1.Program";

uint64_t realtimeUs() {
    struct timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    return uint64_t(ts.tv_sec) * 1000000u + uint64_t(ts.tv_nsec) / 1000u;
}

// supervisord's "pid N, uptime H:MM:SS" (with days in front past a day),
// the one description that changes while the state does not.
std::string runningDescription(pid_t pid, uint64_t startedAtUs) {
    int64_t s = int64_t(realtimeUs() / 1000000u) - int64_t(startedAtUs / 1000000u);
    if (s < 0)
        s = 0;
    const int64_t days = s / 86400;
    s %= 86400;
    char buf[32];
    snprintf(buf, sizeof buf, "%d:%02d:%02d", int(s / 3600), int(s % 3600 / 60), int(s % 60));
    std::string up = days == 0 ? buf : std::to_string(days) + (days == 1 ? " day, " : " days, ") + buf;
    return "pid " + std::to_string(pid) + ", uptime " + up;
}

} // namespace

ProgramObject::ProgramObject(Service& service, const ProgramInfo& info)
    : AdaptorInterfaces(service.connection(), programPath(info.namespec)), service_(service), info_(info) {
    registerAdaptor();
}

ProgramObject::~ProgramObject() { unregisterAdaptor(); }

std::string ProgramObject::Description() {
    if (info_.state == ProcessState::Running)
        return runningDescription(info_.pid, info_.startedAtUs);
    return info_.description;
}

std::vector<std::string> ProgramObject::update(const ProgramInfo& info) {
    std::vector<std::string> changed;
    auto note = [&changed](bool differs, const char* name) {
        if (differs)
            changed.emplace_back(name);
    };
    note(info.state != info_.state, "State");
    note(info.state != info_.state, "StateCode");
    note(info.state != info_.state || info.description != info_.description, "Description");
    note(info.pid != info_.pid, "PID");
    note(info.unit != info_.unit, "Unit");
    note(info.exitStatus != info_.exitStatus, "ExitStatus");
    note(info.startedAtUs != info_.startedAtUs, "StartedAt");
    note(info.stoppedAtUs != info_.stoppedAtUs, "StoppedAt");
    note(info.spawnError != info_.spawnError, "SpawnError");
    info_ = info;
    return changed;
}

// Built by hand rather than with sd_bus_emit_properties_changed(), which
// reads the values when the signal is sent: the signal may wait in a queue
// (SignalQueue) while the program changes again.
sdbus::Signal ProgramObject::changedSignal(const std::vector<std::string>& names) {
    sdbus::Signal s = getObject().createSignal("org.freedesktop.DBus.Properties", "PropertiesChanged");
    s << std::string(kInterface);
    s.openContainer("{sv}");
    auto put = [&s](const std::string& name, const auto& value, const char* sig) {
        s.openDictEntry("sv");
        s << name;
        s.openVariant(sig);
        s << value;
        s.closeVariant();
        s.closeDictEntry();
    };
    for (const auto& n : names) {
        if (n == "State")
            put(n, State(), "s");
        else if (n == "StateCode")
            put(n, StateCode(), "i");
        else if (n == "Description")
            put(n, Description(), "s");
        else if (n == "PID")
            put(n, PID(), "u");
        else if (n == "Unit")
            put(n, Unit(), "s");
        else if (n == "ExitStatus")
            put(n, ExitStatus(), "i");
        else if (n == "StartedAt")
            put(n, StartedAt(), "t");
        else if (n == "StoppedAt")
            put(n, StoppedAt(), "t");
        else if (n == "SpawnError")
            put(n, SpawnError(), "s");
    }
    s.closeContainer();
    s << std::vector<std::string>{};
    return s;
}

void ProgramObject::Start(sdbus::Result<>&& result) { service_.start(getObject(), std::move(result), info_.namespec); }
void ProgramObject::Stop(sdbus::Result<>&& result) { service_.stop(getObject(), std::move(result), info_.namespec); }
void ProgramObject::Restart(sdbus::Result<>&& result) {
    service_.restart(getObject(), std::move(result), info_.namespec);
}
void ProgramObject::Signal(sdbus::Result<>&& result, int32_t signal) {
    service_.signal(getObject(), std::move(result), info_.namespec, signal);
}
void ProgramObject::SendInput(sdbus::Result<>&& result, std::vector<uint8_t> data) {
    service_.sendInput(getObject(), std::move(result), info_.namespec, std::move(data));
}
void ProgramObject::ReadLog(sdbus::Result<uint64_t, uint64_t, std::vector<std::string>>&& result, std::string stream,
                            uint64_t first_line, uint32_t max_lines) {
    service_.readLog(getObject(), std::move(result), info_.namespec, stream, first_line, max_lines);
}

} // namespace scopevisor::dbus
