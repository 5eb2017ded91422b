// SPDX-License-Identifier: LGPL-2.1-or-later
//
// supervisord expands every value with Python's `value % expansions`, so a
// value may use any printf-style conversion on a named entry:
// %(program_name)s, %(process_num)02d, %(process_num)#x, %(here)-20.5s ...
// This is that operator for a mapping argument, minus what cannot work with
// one: '*' widths (Python: "* wants int") and unnamed conversions such as
// "%s" (Python formats the whole dict there, which nobody means; "date +%s"
// in a command is almost always a forgotten "%%").
#include <climits>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "config_values.h"

namespace scopevisor::config::detail {

namespace {

// Widths and precisions beyond this only serve to exhaust memory.
constexpr long kMaxWidth = 4096;

struct Spec {
    bool left = false, plus = false, space = false, alt = false, zero = false;
    long width = 0;
    long precision = -1;
    char conv = 's';
};

[[noreturn]] void bad(std::string_view fmt, const std::string& why)
{
    throw std::invalid_argument("cannot expand " + quote(fmt) + ": " + why +
                                " (a literal % is written %%)");
}

std::string pad(std::string body, const Spec& s)
{
    if (long(body.size()) < s.width) {
        const size_t n = size_t(s.width) - body.size();
        if (s.left)
            body.append(n, ' ');
        else
            body.insert(0, n, ' ');
    }
    return body;
}

std::string formatInt(long long v, const Spec& s)
{
    // The magnitude as unsigned so that LLONG_MIN has one.
    const bool neg = v < 0;
    unsigned long long mag = neg ? 0ULL - static_cast<unsigned long long>(v)
                                 : static_cast<unsigned long long>(v);
    const unsigned base = s.conv == 'o' ? 8 : (s.conv == 'x' || s.conv == 'X') ? 16 : 10;
    const char* digitChars = s.conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    std::string digits;
    do {
        digits.insert(digits.begin(), digitChars[mag % base]);
        mag /= base;
    } while (mag);
    if (s.precision >= 0 && long(digits.size()) < s.precision)
        digits.insert(0, size_t(s.precision) - digits.size(), '0');

    std::string head = neg ? "-" : s.plus ? "+" : s.space ? " " : "";
    if (s.alt && base != 10)
        head += s.conv == 'o' ? "0o" : s.conv == 'x' ? "0x" : "0X";
    const long len = long(head.size() + digits.size());
    if (s.zero && !s.left && len < s.width)
        digits.insert(0, size_t(s.width - len), '0');
    return pad(head + digits, s);
}

std::string formatFloat(double v, const Spec& s)
{
    std::string f = "%";
    if (s.left) f += '-';
    if (s.plus) f += '+';
    if (s.space) f += ' ';
    if (s.alt) f += '#';
    if (s.zero) f += '0';
    f += std::to_string(s.width);
    f += '.';
    f += std::to_string(s.precision >= 0 ? s.precision : 6);
    f += s.conv;
    const int n = std::snprintf(nullptr, 0, f.c_str(), v);
    std::string out(size_t(n > 0 ? n : 0) + 1, '\0');
    std::snprintf(out.data(), out.size(), f.c_str(), v);
    out.resize(size_t(n > 0 ? n : 0));
    return out;
}

std::string utf8(long long cp)
{
    std::string r;
    if (cp < 0x80) {
        r += char(cp);
    } else if (cp < 0x800) {
        r += char(0xC0 | (cp >> 6));
        r += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        r += char(0xE0 | (cp >> 12));
        r += char(0x80 | ((cp >> 6) & 0x3F));
        r += char(0x80 | (cp & 0x3F));
    } else {
        r += char(0xF0 | (cp >> 18));
        r += char(0x80 | ((cp >> 12) & 0x3F));
        r += char(0x80 | ((cp >> 6) & 0x3F));
        r += char(0x80 | (cp & 0x3F));
    }
    return r;
}

std::string repr(const std::string& s)
{
    std::string r = "'";
    for (char c : s) {
        if (c == '\\' || c == '\'')
            r += '\\';
        r += c;
    }
    return r + "'";
}

std::string convert(std::string_view fmt, const Spec& s, const ExpValue& value)
{
    const auto* num = std::get_if<long long>(&value);
    const auto* str = std::get_if<std::string>(&value);
    switch (s.conv) {
    case 's':
    case 'r':
    case 'a': {
        std::string text = num ? std::to_string(*num) : s.conv == 's' ? *str : repr(*str);
        if (s.precision >= 0 && long(text.size()) > s.precision)
            text.resize(size_t(s.precision));
        return pad(text, s);
    }
    case 'd':
    case 'i':
    case 'u':
    case 'o':
    case 'x':
    case 'X':
        if (!num)
            bad(fmt, std::string("%") + s.conv + " needs a number, and this name holds text");
        return formatInt(*num, s);
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
        if (!num)
            bad(fmt, std::string("%") + s.conv + " needs a number, and this name holds text");
        return formatFloat(double(*num), s);
    case 'c':
        if (num) {
            if (*num < 0 || *num > 0x10FFFF)
                bad(fmt, "%c argument out of range");
            return pad(utf8(*num), s);
        }
        if (str->size() != 1)
            bad(fmt, "%c needs a number or a single character");
        return pad(*str, s);
    default:
        break;
    }
    bad(fmt, std::string("unsupported format character '") + s.conv + "'");
}

std::string availableNames(const Vars& vars)
{
    std::string r;
    for (const auto& [name, v] : vars) {
        if (!r.empty())
            r += ", ";
        r += name;
    }
    return r;
}

long readNumber(std::string_view fmt, size_t& i)
{
    long n = 0;
    while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') {
        n = n * 10 + (fmt[i++] - '0');
        if (n > kMaxWidth)
            bad(fmt, "width or precision too large");
    }
    return n;
}

} // namespace

std::string expand(std::string_view fmt, const Vars& vars)
{
    std::string out;
    size_t i = 0;
    while (i < fmt.size()) {
        const size_t pct = fmt.find('%', i);
        if (pct == std::string_view::npos) {
            out.append(fmt.substr(i));
            break;
        }
        out.append(fmt.substr(i, pct - i));
        i = pct + 1;
        if (i >= fmt.size())
            bad(fmt, "incomplete format at the end");
        if (fmt[i] == '%') {
            out += '%';
            ++i;
            continue;
        }
        if (fmt[i] != '(')
            bad(fmt, "unnamed conversion '%" + std::string(1, fmt[i]) + "'");

        // The name runs to the matching ')' (Python counts nested parentheses).
        const size_t nameStart = ++i;
        int depth = 1;
        while (i < fmt.size() && depth > 0) {
            if (fmt[i] == '(')
                ++depth;
            else if (fmt[i] == ')')
                --depth;
            ++i;
        }
        if (depth > 0)
            bad(fmt, "unterminated %(name");
        const std::string_view name = fmt.substr(nameStart, i - 1 - nameStart);
        const auto it = vars.find(name);
        if (it == vars.end())
            throw std::invalid_argument("cannot expand %(" + std::string(name) +
                                        "): unknown name (available names: " +
                                        availableNames(vars) + ")");

        Spec s;
        for (; i < fmt.size(); ++i) {
            const char c = fmt[i];
            if (c == '-') s.left = true;
            else if (c == '+') s.plus = true;
            else if (c == ' ') s.space = true;
            else if (c == '#') s.alt = true;
            else if (c == '0') s.zero = true;
            else break;
        }
        if (i < fmt.size() && fmt[i] == '*')
            bad(fmt, "'*' width needs a positional argument");
        s.width = readNumber(fmt, i);
        if (i < fmt.size() && fmt[i] == '.') {
            ++i;
            if (i < fmt.size() && fmt[i] == '*')
                bad(fmt, "'*' precision needs a positional argument");
            s.precision = readNumber(fmt, i);
        }
        while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L'))
            ++i;
        if (i >= fmt.size())
            bad(fmt, "incomplete format at the end");
        s.conv = fmt[i++];
        out += convert(fmt, s, it->second);
    }
    return out;
}

} // namespace scopevisor::config::detail
