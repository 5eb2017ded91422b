// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Fuzz target of the [adapter:khanat] settings (khanat_settings.cpp): any
// keys and values, as the daemon's configuration reader hands them over,
// read with and without the TLS files required.
//
// Input: one "key=value" a line; a first byte 'T' asks for the TLS files.
// The `config` key is skipped: it names a file to read from disk, which
// the khaganat.cfg target (fuzz_khanat_config.cpp) covers from memory.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "khanat_settings.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    const bool needTls = !in.empty() && in.front() == 'T';
    scopevisor::AdapterConfig cfg;
    cfg.name = "khanat";
    int line = 0;
    while (!in.empty()) {
        size_t nl = in.find('\n');
        std::string_view l = in.substr(0, nl);
        in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
        ++line;
        size_t eq = l.find('=');
        if (eq == std::string_view::npos)
            continue;
        std::string key(l.substr(0, eq));
        if (key == "config")
            continue;
        cfg.settings.push_back({"adapter:khanat", key, std::string(l.substr(eq + 1)), "/fuzz/main.conf", line});
    }
    khanat::Settings s;
    std::string error;
    if (!khanat::readSettings(cfg, needTls, &s, &error)) {
        if (error.empty())
            std::abort();
        return 0;
    }
    const auto& l = s.limits;
    if (s.port < 0 || s.port > 65535 || l.framing.maxBodyBytes < 2 || l.framing.maxBodyBytes > (64u << 20) ||
        l.maxConnections < 1 || l.handshakeTimeout.count() <= 0 || l.requestTimeout.count() <= 0 ||
        l.idleTimeout.count() <= 0 || l.writeTimeout.count() <= 0)
        std::abort(); // accepted values are always in range
    if (needTls && (s.tls.keyfile.empty() || s.tls.certfile.empty() || s.tls.caCert.empty()))
        std::abort();
    return 0;
}
