// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Small text helpers every adapter needs (part of the adapter API,
// docs/architecture.md §7): one copy here rather than one per adapter.
#pragma once

#include <cctype>
#include <cstring>
#include <string>
#include <string_view>

namespace scopevisor {

// strerror() as a std::string, for "what: why" messages.
inline std::string errnoText(int e) { return std::strerror(e); }

// `s` without leading and trailing white space (isspace: blank, tab, CR, LF, FF, VT).
inline std::string_view trimmed(std::string_view s) noexcept {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b])))
        ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])))
        --e;
    return s.substr(b, e - b);
}

// ASCII lower case (settings keys, header names); other bytes unchanged.
inline std::string lowered(std::string s) {
    for (char& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// ASCII case-insensitive equality (HTTP header names, keywords).
inline bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

} // namespace scopevisor
