// SPDX-License-Identifier: LGPL-2.1-or-later
#include "xmlrpc_parse.h"

#include <cctype>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include <expat.h>

#include "scopevisor/text.h"

namespace scopevisor::xmlrpc {

namespace {

// Python's str.strip(): the same white space as isspace().
std::string_view strip(std::string_view s) { return trimmed(s); }

// Digits with single underscores between them (Python's literal rule).
bool digitsWithUnderscores(std::string_view s, std::string* out) {
    if (s.empty() || s.front() == '_' || s.back() == '_')
        return false;
    char prev = 0;
    for (char c : s) {
        if (c == '_') {
            if (prev == '_')
                return false;
        } else if (std::isdigit(static_cast<unsigned char>(c))) {
            *out += c;
        } else {
            return false;
        }
        prev = c;
    }
    return !out->empty();
}

} // namespace

std::optional<int64_t> pyParseInt(std::string_view text) {
    std::string_view s = strip(text);
    bool neg = false;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        s.remove_prefix(1);
    }
    std::string digits;
    if (!digitsWithUnderscores(s, &digits))
        return std::nullopt;
    // Saturate: Python's ints are unbounded, every user of these values
    // copes with the extremes.
    int64_t v = 0;
    for (char c : digits) {
        const int d = c - '0';
        if (v > (INT64_MAX - d) / 10) {
            v = INT64_MAX;
            break;
        }
        v = v * 10 + d;
    }
    if (neg)
        v = v == INT64_MAX ? INT64_MIN : -v;
    return v;
}

std::optional<double> pyParseFloat(std::string_view text) {
    std::string_view s = strip(text);
    std::string clean;
    size_t i = 0;
    if (i < s.size() && (s[i] == '+' || s[i] == '-'))
        clean += s[i++];
    std::string rest(s.substr(i));
    const std::string lower = lowered(rest);
    if (lower == "inf" || lower == "infinity" || lower == "nan") {
        clean += lower;
        return std::strtod(clean.c_str(), nullptr);
    }
    // mantissa [. fraction] [e [sign] exponent], digit groups may hold
    // single underscores.
    auto group = [&](std::string_view g) {
        std::string d;
        if (!digitsWithUnderscores(g, &d))
            return false;
        clean += d;
        return true;
    };
    std::string_view r = rest;
    auto epos = r.find_first_of("eE");
    std::string_view mant = r.substr(0, epos);
    auto dot = mant.find('.');
    std::string_view ip = mant.substr(0, dot);
    std::string_view fp = dot == std::string_view::npos ? std::string_view() : mant.substr(dot + 1);
    if (ip.empty() && fp.empty())
        return std::nullopt;
    if (!ip.empty() && !group(ip))
        return std::nullopt;
    if (dot != std::string_view::npos) {
        clean += '.';
        if (!fp.empty() && !group(fp))
            return std::nullopt;
    }
    if (epos != std::string_view::npos) {
        clean += 'e';
        std::string_view ex = r.substr(epos + 1);
        if (!ex.empty() && (ex[0] == '+' || ex[0] == '-')) {
            clean += ex[0];
            ex.remove_prefix(1);
        }
        if (!group(ex))
            return std::nullopt;
    }
    return std::strtod(clean.c_str(), nullptr);
}

std::optional<std::string> pyBase64Decode(std::string_view text) {
    auto sextet = [](char c) -> int {
        if (c >= 'A' && c <= 'Z')
            return c - 'A';
        if (c >= 'a' && c <= 'z')
            return c - 'a' + 26;
        if (c >= '0' && c <= '9')
            return c - '0' + 52;
        if (c == '+')
            return 62;
        if (c == '/')
            return 63;
        return -1;
    };
    std::string out;
    uint32_t acc = 0;
    size_t n = 0, pads = 0;
    for (char c : text) {
        if (c == '=') {
            if (n % 4 >= 2)
                ++pads;
            if ((n % 4 == 2 && pads >= 2) || (n % 4 == 3 && pads >= 1))
                break; // a complete padded quad ends the data
            continue;
        }
        const int v = sextet(c);
        if (v < 0 || pads)
            continue;
        acc = (acc << 6) | uint32_t(v);
        ++n;
        if (n % 4 == 0) {
            out += char((acc >> 16) & 0xFF);
            out += char((acc >> 8) & 0xFF);
            out += char(acc & 0xFF);
            acc = 0;
        }
    }
    switch (n % 4) {
    case 0: break;
    case 1: return std::nullopt; // "Excess data" / invalid
    case 2:
        if (pads < 2)
            return std::nullopt; // Incorrect padding
        out += char((acc >> 4) & 0xFF);
        break;
    case 3:
        if (pads < 1)
            return std::nullopt;
        out += char((acc >> 10) & 0xFF);
        out += char((acc >> 2) & 0xFF);
        break;
    }
    return out;
}

namespace {

// One element as ElementTree holds it during iterparse: its text (the
// character data before its first child, or the value it was replaced by
// once evaluated) and its children (dropped once evaluated).
struct Element {
    std::string tag;
    Value text; // Nil while no character data came
    bool hasChild = false;
    std::vector<std::unique_ptr<Element>> children;
};

struct Builder {
    ParseLimits limits;
    XML_Parser parser = nullptr;
    std::vector<Element*> stack;
    std::unique_ptr<Element> root;
    size_t elements = 0;
    std::string error;
    Value method;         // Nil: no <methodName> seen
    std::optional<Array> params;

    void fail(std::string why) {
        if (error.empty())
            error = std::move(why);
        XML_StopParser(parser, XML_FALSE);
    }

    static const std::string* rawText(const Element& e) { return e.text.string(); }

    // What supervisord's unmarshallers do when `e` ends.
    void evaluate(Element& e) {
        const std::string& t = e.tag;
        auto clearWith = [&](Value v) {
            e.children.clear();
            e.text = std::move(v);
        };
        auto firstChild = [&]() -> Element* { return e.children.empty() ? nullptr : e.children.front().get(); };
        if (t == "int" || t == "i4") {
            const std::string* s = rawText(e);
            auto v = s ? pyParseInt(*s) : std::nullopt;
            if (!v)
                return fail("bad <" + t + "> value");
            clearWith(*v);
        } else if (t == "boolean") {
            const std::string* s = rawText(e);
            clearWith(bool(s && *s == "1"));
        } else if (t == "string") {
            const std::string* s = rawText(e);
            clearWith(s ? *s : std::string());
        } else if (t == "double") {
            const std::string* s = rawText(e);
            auto v = s ? pyParseFloat(*s) : std::nullopt;
            if (!v)
                return fail("bad <double> value");
            clearWith(*v);
        } else if (t == "dateTime.iso8601") {
            const std::string* s = rawText(e);
            int y, mo, d, h, mi, sec, n = 0;
            if (!s || sscanf(s->c_str(), "%4d%2d%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
                size_t(n) != s->size() || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 61)
                return fail("bad <dateTime.iso8601> value");
            clearWith(DateTime{*s});
        } else if (t == "array") {
            Element* c = firstChild();
            if (!c)
                return fail("<array> without <data>");
            clearWith(std::move(c->text));
        } else if (t == "data") {
            Array a;
            a.reserve(e.children.size());
            for (auto& c : e.children)
                a.push_back(std::move(c->text));
            clearWith(std::move(a));
        } else if (t == "struct") {
            Struct s;
            for (auto& m : e.children) {
                if (m->children.size() != 2)
                    return fail("<member> needs a name and a value");
                Value& k = m->children[0]->text;
                std::string key;
                if (const std::string* ks = k.string())
                    key = *ks;
                else if (pyTruth(k))
                    return fail("struct member name is not a string");
                Value& v = m->children[1]->text;
                bool replaced = false;
                for (auto& [ek, ev] : s)
                    if (ek == key) {
                        ev = std::move(v); // dict(): the last one wins, in the first one's place
                        replaced = true;
                        break;
                    }
                if (!replaced)
                    s.emplace_back(std::move(key), std::move(v));
            }
            clearWith(std::move(s));
        } else if (t == "base64") {
            const std::string* s = rawText(e);
            auto d = pyBase64Decode(s ? *s : std::string());
            if (!d || !validUtf8(*d))
                return fail("bad <base64> value");
            clearWith(std::move(*d));
        } else if (t == "param") {
            Element* c = firstChild();
            if (!c)
                return fail("<param> without <value>");
            clearWith(std::move(c->text));
        } else if (t == "value") {
            Element* c = firstChild();
            if (c) {
                clearWith(std::move(c->text));
            } else {
                const std::string* s = rawText(e);
                clearWith(s ? *s : std::string());
            }
        } else if (t == "methodName") {
            method = e.text;
        } else if (t == "params") {
            Array a;
            a.reserve(e.children.size());
            for (auto& c : e.children)
                a.push_back(c->text); // copy: the element keeps its value
            params = std::move(a);
        }
    }

    static void XMLCALL onStart(void* ud, const XML_Char* name, const XML_Char**) {
        auto* b = static_cast<Builder*>(ud);
        if (++b->elements > b->limits.maxElements)
            return b->fail("too many elements");
        if (b->stack.size() >= b->limits.maxDepth)
            return b->fail("nested too deeply");
        auto el = std::make_unique<Element>();
        el->tag = name;
        Element* raw = el.get();
        if (b->stack.empty()) {
            b->root = std::move(el);
        } else {
            Element* parent = b->stack.back();
            parent->hasChild = true;
            parent->children.push_back(std::move(el));
        }
        b->stack.push_back(raw);
    }

    static void XMLCALL onEnd(void* ud, const XML_Char*) {
        auto* b = static_cast<Builder*>(ud);
        Element* e = b->stack.back();
        b->stack.pop_back();
        b->evaluate(*e);
    }

    static void XMLCALL onText(void* ud, const XML_Char* s, int len) {
        auto* b = static_cast<Builder*>(ud);
        if (b->stack.empty())
            return;
        Element* e = b->stack.back();
        if (e->hasChild)
            return; // a child's tail: ElementTree does not give it to the parent's text
        if (std::string* t = std::get_if<std::string>(&e->text.v))
            t->append(s, size_t(len));
        else
            e->text = std::string(s, size_t(len));
    }

    static void XMLCALL onDoctype(void* ud, const XML_Char*, const XML_Char*, const XML_Char*, int) {
        static_cast<Builder*>(ud)->fail("DOCTYPE not allowed");
    }

    static void XMLCALL onEntityDecl(void* ud, const XML_Char*, int, const XML_Char*, int, const XML_Char*,
                                     const XML_Char*, const XML_Char*, const XML_Char*) {
        static_cast<Builder*>(ud)->fail("entity declarations not allowed");
    }
};

} // namespace

bool parseMethodCall(std::string_view body, ParsedCall* out, std::string* why, const ParseLimits& limits) {
    Builder b;
    b.limits = limits;
    b.parser = XML_ParserCreate(nullptr);
    if (!b.parser) {
        *why = "out of memory";
        return false;
    }
    XML_SetUserData(b.parser, &b);
    XML_SetElementHandler(b.parser, &Builder::onStart, &Builder::onEnd);
    XML_SetCharacterDataHandler(b.parser, &Builder::onText);
    XML_SetStartDoctypeDeclHandler(b.parser, &Builder::onDoctype);
    XML_SetEntityDeclHandler(b.parser, &Builder::onEntityDecl);
    XML_SetParamEntityParsing(b.parser, XML_PARAM_ENTITY_PARSING_NEVER);
    bool ok = true;
    // Feed in slices: XML_Parse takes an int length.
    size_t pos = 0;
    do {
        const size_t n = std::min<size_t>(body.size() - pos, 1 << 20);
        const bool last = pos + n == body.size();
        if (XML_Parse(b.parser, body.data() + pos, int(n), last ? XML_TRUE : XML_FALSE) != XML_STATUS_OK) {
            ok = false;
            if (b.error.empty())
                b.error = std::string("malformed XML: ") + XML_ErrorString(XML_GetErrorCode(b.parser)) +
                          " at line " + std::to_string(XML_GetCurrentLineNumber(b.parser));
            break;
        }
        pos += n;
    } while (pos < body.size());
    XML_ParserFree(b.parser);
    if (!ok || !b.error.empty()) {
        *why = b.error;
        return false;
    }
    const std::string* m = b.method.string();
    if (!m || m->empty()) {
        *why = "no method name";
        return false;
    }
    out->method = *m;
    out->params = b.params ? std::move(*b.params) : Array{};
    return true;
}

} // namespace scopevisor::xmlrpc
