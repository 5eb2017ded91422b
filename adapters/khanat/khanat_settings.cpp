// SPDX-License-Identifier: LGPL-2.1-or-later
#include "khanat_settings.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "scopevisor/settings_reader.h"
#include "scopevisor/text.h"

namespace khanat {
namespace fs = std::filesystem;
namespace {

constexpr const char* kSection = "adapter:khanat";

using scopevisor::pathRelativeTo;
using scopevisor::settingWhere;

// A size in bytes: "65536", "64KB", "1MB" (supervisord's suffixes).
bool parseSize(const std::string& v, size_t lo, size_t hi, size_t* out) {
    size_t digits = v.find_first_not_of("0123456789");
    std::string num = v.substr(0, digits), unit = digits == std::string::npos ? "" : v.substr(digits);
    if (num.empty() || num.size() > 9)
        return false;
    size_t mult = unit.empty() ? 1 : unit == "KB" ? 1024 : unit == "MB" ? 1024 * 1024 : 0;
    if (mult == 0)
        return false;
    size_t n = size_t(std::atoll(num.c_str())) * mult;
    if (n < lo || n > hi)
        return false;
    *out = n;
    return true;
}

// Whole seconds, 1 to 3600.
bool parseSeconds(const std::string& v, std::chrono::milliseconds* out) {
    const auto n = scopevisor::parseUnsigned(v, 1, 3600);
    if (n)
        *out = std::chrono::seconds(*n);
    return n.has_value();
}

} // namespace

bool readSettings(const scopevisor::AdapterConfig& cfg, bool needTls, Settings* out, std::string* error) {
    Settings s;
    bool portSet = false, addressSet = false;
    for (const auto& st : cfg.settings) {
        if (st.section != kSection)
            continue;
        const std::string& k = st.key;
        if (k == "port") {
            if (!scopevisor::readPort(st, &s.port, error))
                return false;
            portSet = true;
        } else if (k == "address") {
            s.address = st.value;
            addressSet = true;
        } else if (k == "keyfile") {
            s.tls.keyfile = pathRelativeTo(st.file, st.value);
        } else if (k == "certfile") {
            s.tls.certfile = pathRelativeTo(st.file, st.value);
        } else if (k == "ca_cert") {
            s.tls.caCert = pathRelativeTo(st.file, st.value);
        } else if (k == "config") {
            s.config = pathRelativeTo(st.file, st.value);
        } else if (k == "launch_program") {
            const auto b = scopevisor::parseYesNo(st.value);
            if (!b) {
                *error = settingWhere(st) + "expected yes or no, not '" + st.value + "'";
                return false;
            }
            s.launchProgram = *b;
        } else if (k == "max_body_size") {
            if (!parseSize(st.value, 2, 64 << 20, &s.limits.framing.maxBodyBytes)) {
                *error = settingWhere(st) + "expected a size from 2 bytes to 64MB, not '" + st.value + "'";
                return false;
            }
        } else if (k == "max_header_size") {
            if (!parseSize(st.value, 1024, 1 << 20, &s.limits.framing.maxHeadBytes)) {
                *error = settingWhere(st) + "expected a size from 1KB to 1MB, not '" + st.value + "'";
                return false;
            }
        } else if (k == "max_connections") {
            const auto n = scopevisor::parseUnsigned(st.value, 1, 100000);
            if (!n) {
                *error = settingWhere(st) + "expected a number from 1 to 100000, not '" + st.value + "'";
                return false;
            }
            s.limits.maxConnections = size_t(*n);
        } else if (k == "handshake_timeout" || k == "request_timeout" || k == "idle_timeout" ||
                   k == "write_timeout") {
            auto& target = k == "handshake_timeout" ? s.limits.handshakeTimeout
                           : k == "request_timeout" ? s.limits.requestTimeout
                           : k == "idle_timeout"    ? s.limits.idleTimeout
                                                    : s.limits.writeTimeout;
            if (!parseSeconds(st.value, &target)) {
                *error = settingWhere(st) + "expected whole seconds from 1 to 3600, not '" + st.value + "'";
                return false;
            }
        } else if (k == "default_role" || k == "required" || k == "enabled") {
            // the daemon's keys
        } else {
            *error = settingWhere(st) + "unknown key (known: port, address, keyfile, certfile, ca_cert, config, "
                                 "launch_program, max_body_size, max_header_size, max_connections, handshake_timeout, "
                                 "request_timeout, idle_timeout, write_timeout, default_role, required, enabled)";
            return false;
        }
    }
    if (!s.config.empty()) {
        if (!loadKhanatCfg(s.config, &s.khanat, error))
            return false;
        // The imported [config] fills in what [adapter:khanat] leaves out;
        // its relative paths are taken from its own directory.
        const auto& srv = s.khanat.server;
        auto get = [&](const char* key) -> const std::string* {
            auto it = srv.find(key);
            return it == srv.end() ? nullptr : &it->second;
        };
        // manage.py: int() fails -> the default port.
        if (!portSet)
            if (const std::string* v = get("port"))
                s.port = scopevisor::parsePort(scopevisor::trimmed(*v)).value_or(8000);
        if (!addressSet)
            if (const std::string* v = get("address"))
                s.address = *v;
        if (s.tls.keyfile.empty())
            if (const std::string* v = get("keyfile"))
                s.tls.keyfile = pathRelativeTo(s.config, *v);
        if (s.tls.certfile.empty())
            if (const std::string* v = get("certfile"))
                s.tls.certfile = pathRelativeTo(s.config, *v);
        if (s.tls.caCert.empty())
            if (const std::string* v = get("ca_cert"))
                s.tls.caCert = pathRelativeTo(s.config, *v);
    }
    if (needTls) {
        for (auto [key, val] : {std::pair{"keyfile", &s.tls.keyfile}, std::pair{"certfile", &s.tls.certfile},
                                std::pair{"ca_cert", &s.tls.caCert}}) {
            if (val->empty()) {
                *error = std::string("[") + kSection + "] " + key +
                         " is not set (client certificates are always required, so ca_cert is too)";
                return false;
            }
        }
    }
    *out = std::move(s);
    return true;
}

std::vector<scopevisor::ImportedProgram> importedPrograms(const Settings& s) {
    std::vector<scopevisor::ImportedProgram> out;
    const std::string dir = fs::path(s.config).parent_path().string();
    for (const auto& p : s.khanat.programs) {
        scopevisor::ImportedProgram ip;
        ip.name = p.name;
        ip.argv = splitCommand(p.command); // no shell, as Popen(command.split())
        ip.directory = p.path.empty() ? dir : pathRelativeTo(s.config, p.path);
        ip.autostart = s.launchProgram;
        ip.autorestart = false;   // this Khanat version never restarted anything
        ip.redirectStderr = true; // stderr=STDOUT
        ip.logBufferLines = uint64_t(p.logsize);
        ip.source = s.config + ":" + std::to_string(p.line);
        out.push_back(std::move(ip));
    }
    return out;
}

} // namespace khanat
