// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Fuzz target of the [adapter:supervisor-rs] section: each input line
// "key=value" is one setting (the daemon's parser has already split and
// expanded them). server_yml is left out: it names a file to read, which
// the yml fuzz target covers. Either the settings hold together or there
// is an error naming the file and the key, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "srs_settings.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    scopevisor::AdapterConfig cfg;
    cfg.name = "supervisor-rs";
    cfg.configPath = "/etc/scopevisor/scopevisor.conf";
    int line = 0;
    while (!in.empty() && cfg.settings.size() < 64) {
        const size_t nl = in.find('\n');
        std::string_view l = in.substr(0, nl);
        in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
        ++line;
        const size_t eq = l.find('=');
        scopevisor::AdapterSetting st;
        st.section = "adapter:supervisor-rs";
        st.key = std::string(l.substr(0, eq));
        st.value = eq == std::string_view::npos ? std::string() : std::string(l.substr(eq + 1));
        st.file = cfg.configPath;
        st.line = line;
        if (st.key != "server_yml")
            cfg.settings.push_back(std::move(st));
    }
    srs::Settings s;
    std::string error;
    const bool ok = srs::readSettings(cfg, &s, &error);
    if (ok == !error.empty())
        std::abort();
    if (!ok) {
        if (error.rfind(cfg.configPath, 0) != 0 && error.rfind("[adapter:supervisor-rs]", 0) != 0)
            std::abort(); // an error says where
        return 0;
    }
    if (s.port < 0 || s.port > 65535 || s.replayWindow < 0 || s.listenerAddr.empty())
        std::abort();
    if (s.encrypt && s.pubKeysPath.empty())
        std::abort();
    // Encrypted mode guards against replays unless told otherwise.
    bool replaySet = false;
    for (const auto& st : cfg.settings)
        replaySet = replaySet || st.key == "replay_window";
    if (s.encrypt && !replaySet && s.replayWindow != srs::kDefaultReplayWindow)
        std::abort();
    if (!s.encrypt && !replaySet && s.replayWindow != 0)
        std::abort();
    return 0;
}
