// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The module entry point of the supervisor-rs adapter.
#include "srs_adapter.h"

namespace {

scopevisor::Adapter* create(scopevisor::AdapterHost& host, const scopevisor::AdapterConfig& cfg, std::string* error) {
    srs::Settings s;
    if (!srs::readSettings(cfg, &s, error))
        return nullptr;
    return new srs::SrsAdapter(host, std::move(s));
}

bool importPrograms(const scopevisor::AdapterConfig& cfg, std::vector<scopevisor::ImportedProgram>* out,
                    std::string* error) {
    srs::Settings s;
    return srs::readSettings(cfg, &s, error) && srs::importedPrograms(s, out, error);
}

const scopevisor::AdapterModule kModule = {SCOPEVISOR_ADAPTER_API_VERSION, "supervisor-rs", &create, &importPrograms, nullptr};

} // namespace

extern "C" const scopevisor::AdapterModule* scopevisor_adapter_module() { return &kModule; }
