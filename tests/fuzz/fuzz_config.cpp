// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libFuzzer target for the configuration loader: any input either loads or
// is refused with a ConfigError; it never crashes, leaks or hangs. The same
// bytes also go to the value helpers that other front ends call directly.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <variant>

#include "config.h"

using namespace scopevisor::config;

namespace {

const LoadContext& fuzzContext()
{
    static const LoadContext ctx = [] {
        LoadContext c;
        c.env = {{"HOME", "/home/fuzz"}, {"PATH", "/usr/bin:/bin"}, {"TMPDIR", "/tmp"}};
        c.hostname = "fuzzhost";
        c.euid = 0;
        // The input is the whole world: reading files an input names would
        // make runs depend on the machine (and /proc has files that block).
        c.readIncludes = false;
        return c;
    }();
    return ctx;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const Config c = parse(text, "/fuzz/fuzz.conf", fuzzContext());
        for (const GroupConfig& g : c.groups) {
            if (!g.sameAs(g))
                __builtin_trap();
            for (const ProcessConfig& p : g.processes) {
                if (p.argv.empty() || p.namespec().empty() || c.findGroup(p.group) == nullptr)
                    __builtin_trap();
                (void)signalName(p.stopsignal);
            }
        }
        for (const Diagnostic& d : c.warnings)
            (void)d.text();
    } catch (const ConfigError& e) {
        if (e.loc().file.empty())
            __builtin_trap(); // every error names its file
    }

    try {
        (void)splitCommand(text);
    } catch (const std::invalid_argument&) {
    }
    try {
        (void)parseByteSize(text);
    } catch (const std::invalid_argument&) {
    }
    for (const char* key : kResourceKeys) {
        try {
            const ResourceProperty r = parseResource(key, text);
            // Only the percentage forms (*Scale) are fractions of UINT32_MAX.
            if (std::holds_alternative<uint32_t>(r.value) != r.name.ends_with("Scale"))
                __builtin_trap();
        } catch (const std::invalid_argument&) {
        }
    }
    const int sig = parseSignal(text);
    if (sig != -1 && parseSignal(signalName(sig)) != sig)
        __builtin_trap();
    return 0;
}
