// SPDX-License-Identifier: LGPL-2.1-or-later
//
// org.scopevisor1.Manager at /org/scopevisor1, also the ObjectManager of
// the Program objects below it.
#pragma once

#include <sdbus-c++/sdbus-c++.h>

#include "manager_adaptor.h"

namespace scopevisor::dbus {

class Service;

class ManagerObject final
    : public sdbus::AdaptorInterfaces<org::scopevisor1::Manager_adaptor, sdbus::ObjectManager_adaptor,
                                      sdbus::Properties_adaptor> {
public:
    explicit ManagerObject(Service& service);
    ~ManagerObject();

    // ProgramStateChanged, to be sent later (SignalQueue).
    sdbus::Signal stateChangedSignal(const std::string& namespec, const std::string& now, const std::string& old);

private:
    using ProgramRow = sdbus::Struct<std::string, std::string, std::string, std::string, uint32_t, sdbus::ObjectPath>;

    void ListPrograms(sdbus::Result<std::vector<ProgramRow>>&& result) override;
    void GetProgram(sdbus::Result<sdbus::ObjectPath>&& result, std::string namespec) override;
    void StartProgram(sdbus::Result<>&& result, std::string namespec) override;
    void StopProgram(sdbus::Result<>&& result, std::string namespec) override;
    void RestartProgram(sdbus::Result<>&& result, std::string namespec) override;
    void SignalProgram(sdbus::Result<>&& result, std::string namespec, int32_t signal) override;
    void StartGroup(sdbus::Result<>&& result, std::string group) override;
    void StopGroup(sdbus::Result<>&& result, std::string group) override;
    void StartAll(sdbus::Result<>&& result) override;
    void StopAll(sdbus::Result<>&& result) override;
    void SendInput(sdbus::Result<>&& result, std::string namespec, std::vector<uint8_t> data) override;
    void ReadLog(sdbus::Result<uint64_t, uint64_t, std::vector<std::string>>&& result, std::string namespec,
                 std::string stream, uint64_t first_line, uint32_t max_lines) override;
    void Reload(sdbus::Result<std::vector<std::string>, std::vector<std::string>, std::vector<std::string>>&& result)
        override;
    void Shutdown(sdbus::Result<>&& result) override;

    std::string Version() override;
    std::string Backend() override;
    std::string State() override;
    uint32_t ProgramCount() override;

    Service& service_;
};

} // namespace scopevisor::dbus
