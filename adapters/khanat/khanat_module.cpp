// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The module entry point of the Khanat adapter.
#include "khanat_adapter.h"

namespace {

scopevisor::Adapter* create(scopevisor::AdapterHost& host, const scopevisor::AdapterConfig& cfg, std::string* error) {
    khanat::Settings s;
    if (!khanat::readSettings(cfg, true, &s, error))
        return nullptr;
    return new khanat::KhanatAdapter(host, std::move(s));
}

bool importPrograms(const scopevisor::AdapterConfig& cfg, std::vector<scopevisor::ImportedProgram>* out,
                    std::string* error) {
    khanat::Settings s;
    if (!khanat::readSettings(cfg, false, &s, error))
        return false;
    for (auto& p : khanat::importedPrograms(s))
        out->push_back(std::move(p));
    return true;
}

const scopevisor::AdapterModule kModule = {SCOPEVISOR_ADAPTER_API_VERSION, "khanat", &create, &importPrograms, nullptr};

} // namespace

extern "C" const scopevisor::AdapterModule* scopevisor_adapter_module() { return &kModule; }
