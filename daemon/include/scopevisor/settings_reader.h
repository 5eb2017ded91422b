// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Reading an adapter's settings (AdapterConfig, adapter.h): the value parsers
// and the "file:line: [section] key: " prefix every message about a setting
// starts with, so that each adapter reports a wrong value where it was
// written without writing its own reader (docs/architecture.md §7). Each
// adapter keeps its own wording after the prefix.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "scopevisor/adapter.h"

namespace scopevisor {

// "file:line: [section] key: ", the start of every message about `s`.
inline std::string settingWhere(const AdapterSetting& s) {
    return s.file + ":" + std::to_string(s.line) + ": [" + s.section + "] " + s.key + ": ";
}

// "file:line: ", for messages that name the section and key themselves.
inline std::string settingLine(const AdapterSetting& s) { return s.file + ":" + std::to_string(s.line) + ": "; }

// yes/true/on/1 and no/false/off/0, as supervisord's boolean(); nullopt otherwise.
inline std::optional<bool> parseYesNo(std::string_view v) noexcept {
    if (v == "yes" || v == "true" || v == "on" || v == "1")
        return true;
    if (v == "no" || v == "false" || v == "off" || v == "0")
        return false;
    return std::nullopt;
}

// Decimal digits only (no sign, no blank) making a number from lo to hi;
// nullopt otherwise, also on overflow.
inline std::optional<uint64_t> parseUnsigned(std::string_view v, uint64_t lo, uint64_t hi) noexcept {
    if (v.empty())
        return std::nullopt;
    uint64_t n = 0;
    for (char c : v) {
        if (c < '0' || c > '9')
            return std::nullopt;
        const uint64_t d = uint64_t(c - '0');
        if (n > (UINT64_MAX - d) / 10)
            return std::nullopt;
        n = n * 10 + d;
    }
    if (n < lo || n > hi)
        return std::nullopt;
    return n;
}

// A TCP port number, 0 to 65535 (0: any free port).
inline std::optional<int> parsePort(std::string_view v) noexcept {
    auto n = parseUnsigned(v, 0, 65535);
    return n ? std::optional<int>(int(*n)) : std::nullopt;
}

// An octal file mode such as 0600 (the whole value, as strtoul base 8 reads
// it), at most `max`; nullopt otherwise.
inline std::optional<unsigned> parseOctalMode(const std::string& v, unsigned long max) {
    char* end = nullptr;
    const unsigned long m = std::strtoul(v.c_str(), &end, 8);
    if (v.empty() || *end || m > max)
        return std::nullopt;
    return unsigned(m);
}

// `s` read as a port into *out; false with *error naming where `s` was
// written when it is not one.
inline bool readPort(const AdapterSetting& s, int* out, std::string* error) {
    const auto port = parsePort(s.value);
    if (!port) {
        *error = settingWhere(s) + "not a port number: '" + s.value + "'";
        return false;
    }
    *out = *port;
    return true;
}

// A path written in `file`: relative ones are taken from that file's directory.
inline std::string pathRelativeTo(const std::string& file, const std::string& path) {
    if (path.empty() || path[0] == '/')
        return path;
    return (std::filesystem::path(file).parent_path() / path).lexically_normal().string();
}

} // namespace scopevisor
