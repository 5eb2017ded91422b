// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The [adapter:khanat] section, completed by the [config] section of an
// imported khaganat.cfg.
#pragma once

#include <string>
#include <vector>

#include "khanat_config.h"
#include "khanat_limits.h"
#include "khanat_tls.h"
#include "scopevisor/adapter.h"

namespace khanat {

struct Settings {
    std::string address;      // "" = every interface
    int port = 8000;
    TlsFiles tls;
    std::string config;       // khaganat.cfg to import, "" = none
    bool launchProgram = false; // manage.py --launch-program: start the imported programs
    KhanatFile khanat;        // the imported file (empty without `config`)
    ServerLimits limits;      // max_body_size, max_header_size, max_connections, *_timeout
};

// Reads and checks the keys; relative paths are taken from the directory of
// the file that names them. `needTls`: keyfile, certfile and ca_cert must be
// set (the server needs them; importing programs does not).
bool readSettings(const scopevisor::AdapterConfig& cfg, bool needTls, Settings* out, std::string* error);

// The programs of the imported khaganat.cfg, as the daemon adds them.
std::vector<scopevisor::ImportedProgram> importedPrograms(const Settings& s);

} // namespace khanat
