// SPDX-License-Identifier: LGPL-2.1-or-later
#include "xmlrpc_value.h"

#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>

namespace scopevisor::xmlrpc {

const Value* Value::member(std::string_view key) const {
    if (const Struct* s = structure())
        for (const auto& [k, val] : *s)
            if (k == key)
                return &val;
    return nullptr;
}

const char* pyTypeName(const Value& v) {
    switch (v.v.index()) {
    case 0: return "NoneType";
    case 1: return "bool";
    case 2: return "int";
    case 3: return "float";
    case 4: return "str";
    case 5: return "datetime.datetime";
    case 6: return "list";
    default: return "dict";
    }
}

namespace {

// Python's repr() of a float: the shortest text that reads back the same,
// with an exponent below 1e-4 and from 1e16 on.
std::string pyFloat(double d) {
    if (std::isnan(d))
        return "nan";
    if (std::isinf(d))
        return d < 0 ? "-inf" : "inf";
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string sci(buf, r.ptr);
    // sci is "[-]D[.DDD]e[+-]XX"
    auto e = sci.find('e');
    int exp = std::stoi(sci.substr(e + 1));
    std::string mant = sci.substr(0, e);
    bool neg = !mant.empty() && mant[0] == '-';
    if (neg)
        mant.erase(0, 1);
    std::string digits;
    for (char c : mant)
        if (c != '.')
            digits += c;
    std::string out = neg ? "-" : "";
    if (exp < -4 || exp >= 16) {
        out += digits.substr(0, 1);
        if (digits.size() > 1)
            out += "." + digits.substr(1);
        char eb[16];
        snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
        return out + eb;
    }
    if (exp < 0) {
        out += "0." + std::string(size_t(-exp - 1), '0') + digits;
        return out;
    }
    if (digits.size() <= size_t(exp) + 1) {
        out += digits + std::string(size_t(exp) + 1 - digits.size(), '0') + ".0";
        return out;
    }
    out += digits.substr(0, size_t(exp) + 1) + "." + digits.substr(size_t(exp) + 1);
    return out;
}

std::string pyStringRepr(const std::string& s) {
    const bool dq = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
    const char q = dq ? '"' : '\'';
    std::string out(1, q);
    for (unsigned char c : s) {
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c == q) {
                out += '\\';
                out += char(c);
            } else if (c < 0x20 || c == 0x7f) {
                char b[8];
                snprintf(b, sizeof b, "\\x%02x", c);
                out += b;
            } else {
                out += char(c);
            }
        }
    }
    out += q;
    return out;
}

} // namespace

std::string pyRepr(const Value& v) {
    switch (v.v.index()) {
    case 4: return pyStringRepr(std::get<std::string>(v.v));
    case 5: {
        const std::string& t = std::get<DateTime>(v.v).text;
        int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
        sscanf(t.c_str(), "%4d%2d%2dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s);
        char b[80];
        if (s)
            snprintf(b, sizeof b, "datetime.datetime(%d, %d, %d, %d, %d, %d)", y, mo, d, h, mi, s);
        else
            snprintf(b, sizeof b, "datetime.datetime(%d, %d, %d, %d, %d)", y, mo, d, h, mi);
        return b;
    }
    case 6: {
        std::string out = "[";
        bool first = true;
        for (const auto& e : std::get<Array>(v.v)) {
            out += first ? "" : ", ";
            first = false;
            out += pyRepr(e);
        }
        return out + "]";
    }
    case 7: {
        std::string out = "{";
        bool first = true;
        for (const auto& [k, e] : std::get<Struct>(v.v)) {
            out += first ? "" : ", ";
            first = false;
            out += pyStringRepr(k) + ": " + pyRepr(e);
        }
        return out + "}";
    }
    default: return pyStr(v);
    }
}

std::string pyStr(const Value& v) {
    switch (v.v.index()) {
    case 0: return "None";
    case 1: return std::get<bool>(v.v) ? "True" : "False";
    case 2: return std::to_string(std::get<int64_t>(v.v));
    case 3: return pyFloat(std::get<double>(v.v));
    case 4: return std::get<std::string>(v.v);
    case 5: {
        const std::string& t = std::get<DateTime>(v.v).text;
        if (t.size() >= 17)
            return t.substr(0, 4) + "-" + t.substr(4, 2) + "-" + t.substr(6, 2) + " " + t.substr(9);
        return t;
    }
    default: return pyRepr(v);
    }
}

bool pyTruth(const Value& v) {
    switch (v.v.index()) {
    case 0: return false;
    case 1: return std::get<bool>(v.v);
    case 2: return std::get<int64_t>(v.v) != 0;
    case 3: return std::get<double>(v.v) != 0.0;
    case 4: return !std::get<std::string>(v.v).empty();
    case 5: return true;
    case 6: return !std::get<Array>(v.v).empty();
    default: return !std::get<Struct>(v.v).empty();
    }
}

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD"; // U+FFFD

// Length of the valid UTF-8 sequence at s[i], 0 if invalid.
size_t utf8Len(std::string_view s, size_t i, uint32_t* cp) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if (i + n > s.size())
        return 0;
    for (size_t k = 1; k < n; ++k) {
        const auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and code points beyond U+10FFFF.
    if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10FFFF)) || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

} // namespace

bool validUtf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        uint32_t cp;
        const size_t n = utf8Len(s, i, &cp);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

void appendXmlText(std::string& out, std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        // Fast path over the common printable ASCII run.
        size_t j = i;
        while (j < s.size()) {
            const auto c = static_cast<unsigned char>(s[j]);
            if (c >= 0x80 || c == '&' || c == '<' || c == '>' || c == '\r' || (c < 0x20 && c != '\t' && c != '\n'))
                break;
            ++j;
        }
        out.append(s.data() + i, j - i);
        i = j;
        if (i >= s.size())
            break;
        const char c = s[i];
        if (c == '&') {
            out += "&amp;";
            ++i;
            continue;
        }
        if (c == '<') {
            out += "&lt;";
            ++i;
            continue;
        }
        if (c == '>') {
            out += "&gt;";
            ++i;
            continue;
        }
        if (c == '\r') {
            out += "&#13;";
            ++i;
            continue;
        }
        uint32_t cp = 0;
        const size_t n = utf8Len(s, i, &cp);
        if (n == 0 || (cp < 0x20 && cp != '\t' && cp != '\n') || cp == 0xFFFE || cp == 0xFFFF) {
            out += kReplacement;
            i += n == 0 ? 1 : n;
            continue;
        }
        out.append(s.data() + i, n);
        i += n;
    }
}

void appendValue(std::string& out, const Value& v) {
    switch (v.v.index()) {
    case 0:
        // Python's Marshaller refuses None without allow_none; supervisord
        // never sends one. An empty string is the harmless stand-in.
        out += "<value><string></string></value>\n";
        break;
    case 1:
        out += std::get<bool>(v.v) ? "<value><boolean>1</boolean></value>\n" : "<value><boolean>0</boolean></value>\n";
        break;
    case 2: {
        int64_t i = std::get<int64_t>(v.v);
        if (i > INT32_MAX)
            i = INT32_MAX;
        if (i < INT32_MIN)
            i = INT32_MIN;
        char buf[40];
        auto r = std::to_chars(buf, buf + sizeof buf, i);
        out += "<value><int>";
        out.append(buf, r.ptr);
        out += "</int></value>\n";
        break;
    }
    case 3:
        out += "<value><double>" + pyFloat(std::get<double>(v.v)) + "</double></value>\n";
        break;
    case 4:
        out += "<value><string>";
        appendXmlText(out, std::get<std::string>(v.v));
        out += "</string></value>\n";
        break;
    case 5:
        out += "<value><dateTime.iso8601>";
        appendXmlText(out, std::get<DateTime>(v.v).text);
        out += "</dateTime.iso8601></value>\n";
        break;
    case 6:
        out += "<value><array><data>\n";
        for (const auto& e : std::get<Array>(v.v))
            appendValue(out, e);
        out += "</data></array></value>\n";
        break;
    default:
        out += "<value><struct>\n";
        for (const auto& [k, e] : std::get<Struct>(v.v)) {
            out += "<member>\n<name>";
            appendXmlText(out, k);
            out += "</name>\n";
            appendValue(out, e);
            out += "</member>\n";
        }
        out += "</struct></value>\n";
        break;
    }
}

std::string methodResponse(const Value& result) {
    std::string out;
    out.reserve(256);
    out += "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n";
    appendValue(out, result);
    out += "</param>\n</params>\n</methodResponse>\n";
    return out;
}

std::string faultResponse(int code, std::string_view text) {
    std::string out = "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n"
                      "<member>\n<name>faultCode</name>\n<value><int>";
    out += std::to_string(code);
    out += "</int></value>\n</member>\n<member>\n<name>faultString</name>\n<value><string>";
    appendXmlText(out, text);
    out += "</string></value>\n</member>\n</struct></value>\n</fault>\n</methodResponse>\n";
    return out;
}

} // namespace scopevisor::xmlrpc
