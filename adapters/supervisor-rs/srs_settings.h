// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The [adapter:supervisor-rs] section, completed by the imported server.yml
// (its listener_addr, ipv6, encrypt and pub_keys_path fill in what the
// section leaves out), and the children that server.yml brings.
#pragma once

#include <string>
#include <vector>

#include "scopevisor/adapter.h"
#include "srs_yml.h"

namespace srs {

inline constexpr long kDefaultReplayWindow = 60;

struct Settings {
    std::string listenerAddr = "0.0.0.0"; // "::" is dual stack
    int port = 33889;
    bool encrypt = false;
    std::vector<std::string> pubKeysPath;
    // Seconds within which a signed message seen before is refused; 0 =
    // off, as in the original. Unset, it is kDefaultReplayWindow in
    // encrypted mode: a captured signed `kill` must not be replayable.
    long replayWindow = 0;
    std::string serverYmlPath; // "" = none
    ServerYml server;          // the imported file (empty without server_yml)
};

bool readSettings(const scopevisor::AdapterConfig& cfg, Settings* out, std::string* error);

// The children of the imported server.yml, as the daemon adds them. A
// create-mode output file is truncated the first time it is imported.
bool importedPrograms(const Settings& s, std::vector<scopevisor::ImportedProgram>* out, std::string* error);

// The program for one child (no truncation).
scopevisor::ImportedProgram programFor(const ChildYml& c, bool autostart);

} // namespace srs
