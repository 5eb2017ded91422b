// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libFuzzer target for the [adapter:steward] keys (settings.h): each input
// line "key=value" becomes one setting; any input parses or gives an error
// naming the section and key, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "settings.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    scopevisor::AdapterConfig cfg;
    cfg.name = "steward";
    int line = 0;
    for (size_t start = 0; start <= in.size();) {
        size_t nl = in.find('\n', start);
        const std::string_view l = in.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
        const size_t eq = l.find('=');
        cfg.settings.push_back(scopevisor::AdapterSetting{
            "adapter:steward", std::string(l.substr(0, eq)),
            eq == std::string_view::npos ? std::string() : std::string(l.substr(eq + 1)), "fuzz.conf", ++line});
        if (nl == std::string_view::npos)
            break;
        start = nl + 1;
    }
    steward::Settings s;
    std::string err;
    const bool ok = steward::parseSettings(cfg, "/var/lib/scopevisor/steward", &s, &err);
    if (ok != err.empty())
        __builtin_trap();
    if (!ok && err.find("[adapter:steward]") == std::string::npos)
        __builtin_trap(); // every refusal names the section and key
    if (ok && (!steward::validNodeName(s.nodeName) || s.dataFolder.empty()))
        __builtin_trap();
    return 0;
}
