// SPDX-License-Identifier: LGPL-2.1-or-later
#include "unit_name.h"

#include <cstdint>
#include <cstdio>

namespace scopevisor {
namespace {

bool validUnitChar(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
           c == '_' || c == '.';
}

void escapeChar(unsigned char c, std::string& out) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += '\\';
    out += 'x';
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
}

uint64_t fnv1a(std::string_view s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}

} // namespace

std::string systemdEscape(std::string_view s) {
    std::string out;
    out.reserve(s.size() * 2);
    for (size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        // A leading '.' would make a hidden-looking name; systemd escapes it.
        if (i == 0 && c == '.')
            escapeChar(c, out);
        else if (c == '/')
            out += '-';
        else if (validUnitChar(c))
            out += static_cast<char>(c);
        else
            escapeChar(c, out);
    }
    return out;
}

std::string scopeNameFor(std::string_view namespec) {
    std::string escaped = systemdEscape(namespec);
    const size_t room = kUnitNameMax - kScopePrefix.size() - kScopeSuffix.size();
    if (escaped.size() > room) {
        char hash[18];
        std::snprintf(hash, sizeof hash, "_%016llx", static_cast<unsigned long long>(fnv1a(namespec)));
        size_t cut = room - 17;
        // Never cut an "\xNN" in half: back off to the start of the sequence.
        for (size_t k = 1; k <= 3 && k <= cut; ++k) {
            if (escaped[cut - k] == '\\' && cut - k + 4 > cut) {
                cut -= k;
                break;
            }
        }
        escaped.resize(cut);
        escaped += hash;
    }
    std::string name;
    name.reserve(kScopePrefix.size() + escaped.size() + kScopeSuffix.size());
    name += kScopePrefix;
    name += escaped;
    name += kScopeSuffix;
    return name;
}

} // namespace scopevisor
