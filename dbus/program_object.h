// SPDX-License-Identifier: LGPL-2.1-or-later
//
// org.scopevisor1.Program: one object per program. Its properties are read
// from the ProgramInfo the engine last published for the program (on every
// state change), so a property read never waits for the engine.
#pragma once

#include <sdbus-c++/sdbus-c++.h>

#include "program_adaptor.h"
#include "scopevisor/control.h"

namespace scopevisor::dbus {

class Service;

class ProgramObject final
    : public sdbus::AdaptorInterfaces<org::scopevisor1::Program_adaptor, sdbus::Properties_adaptor,
                                      sdbus::ManagedObject_adaptor> {
public:
    ProgramObject(Service& service, const ProgramInfo& info);
    ~ProgramObject();

    const ProgramInfo& info() const { return info_; }
    // Take the engine's newer view; returns the names of the properties
    // that changed.
    std::vector<std::string> update(const ProgramInfo& info);
    // PropertiesChanged for `names`, with their values of now.
    sdbus::Signal changedSignal(const std::vector<std::string>& names);

private:
    void Start(sdbus::Result<>&& result) override;
    void Stop(sdbus::Result<>&& result) override;
    void Restart(sdbus::Result<>&& result) override;
    void Signal(sdbus::Result<>&& result, int32_t signal) override;
    void SendInput(sdbus::Result<>&& result, std::vector<uint8_t> data) override;
    void ReadLog(sdbus::Result<uint64_t, uint64_t, std::vector<std::string>>&& result, std::string stream,
                 uint64_t first_line, uint32_t max_lines) override;

    std::string Name() override { return info_.namespec; }
    std::string Group() override { return info_.group; }
    std::string State() override { return stateName(info_.state); }
    int32_t StateCode() override { return int32_t(info_.state); }
    std::string Description() override;
    uint32_t PID() override { return uint32_t(info_.pid); }
    std::string Unit() override { return info_.unit; }
    int32_t ExitStatus() override { return info_.exitStatus; }
    uint64_t StartedAt() override { return info_.startedAtUs; }
    uint64_t StoppedAt() override { return info_.stoppedAtUs; }
    std::string SpawnError() override { return info_.spawnError; }

    Service& service_;
    ProgramInfo info_;
};

} // namespace scopevisor::dbus
