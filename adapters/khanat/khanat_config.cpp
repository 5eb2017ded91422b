// SPDX-License-Identifier: LGPL-2.1-or-later
#include "khanat_config.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "scopevisor/text.h"

namespace khanat {
namespace {

std::string strip(std::string_view s) { return std::string(scopevisor::trimmed(s)); }

using scopevisor::lowered;

struct Section {
    std::string name;
    int line = 0;
    std::vector<std::pair<std::string, std::vector<std::string>>> options; // value lines
    std::map<std::string, int> optionLines;

    std::vector<std::string>* find(const std::string& k) {
        for (auto& [key, v] : options)
            if (key == k)
                return &v;
        return nullptr;
    }
};

std::string joinValue(const std::vector<std::string>& lines) {
    std::string v;
    for (size_t i = 0; i < lines.size(); ++i)
        v += (i ? "\n" : "") + lines[i];
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back())))
        v.pop_back();
    return v;
}

using Values = std::map<std::string, std::string>;

// configparser.BasicInterpolation.
bool interpolate(const std::string& value, const Values& vars, int depth, std::string* out, std::string* err) {
    if (depth > 10) {
        *err = "interpolation is too deep (more than 10 levels)";
        return false;
    }
    std::string_view rest = value;
    while (!rest.empty()) {
        size_t p = rest.find('%');
        if (p == std::string_view::npos) {
            *out += rest;
            break;
        }
        *out += rest.substr(0, p);
        rest.remove_prefix(p);
        char c = rest.size() > 1 ? rest[1] : '\0';
        if (c == '%') {
            *out += '%';
            rest.remove_prefix(2);
        } else if (c == '(') {
            size_t close = rest.find(')');
            if (close == std::string_view::npos || close == 2 || close + 1 >= rest.size() || rest[close + 1] != 's') {
                *err = "bad interpolation variable reference '" + std::string(rest) + "'";
                return false;
            }
            std::string var = lowered(std::string(rest.substr(2, close - 2)));
            rest.remove_prefix(close + 2);
            auto it = vars.find(var);
            if (it == vars.end()) {
                *err = "bad interpolation: no option '" + var + "'";
                return false;
            }
            if (it->second.find('%') != std::string::npos) {
                if (!interpolate(it->second, vars, depth + 1, out, err))
                    return false;
            } else {
                *out += it->second;
            }
        } else {
            *err = "'%' must be followed by '%' or '(', found: '" + std::string(rest) + "'";
            return false;
        }
    }
    return true;
}

bool parseInt(const std::string& s, int64_t* v) {
    std::string t = strip(s);
    if (t.empty())
        return false;
    errno = 0;
    char* end = nullptr;
    long long x = std::strtoll(t.c_str(), &end, 10);
    if (errno || *end)
        return false;
    *v = x;
    return true;
}

} // namespace

std::vector<std::string> splitCommand(std::string_view command) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < command.size()) {
        while (i < command.size() && std::isspace(static_cast<unsigned char>(command[i])))
            ++i;
        size_t b = i;
        while (i < command.size() && !std::isspace(static_cast<unsigned char>(command[i])))
            ++i;
        if (i > b)
            out.emplace_back(command.substr(b, i - b));
    }
    return out;
}

bool parseKhanatCfg(std::string_view text, const std::string& file, KhanatFile* out, std::string* error) {
    std::vector<Section> sections;
    Section defaults;
    Section* cur = nullptr;
    std::string* optname = nullptr;
    std::vector<std::string>* curValue = nullptr;
    size_t indentLevel = 0;
    int lineno = 0;
    auto fail = [&](int line, const std::string& msg) {
        *error = file + ":" + std::to_string(line) + ": " + msg;
        return false;
    };
    std::istringstream in{std::string(text)};
    std::string raw;
    while (std::getline(in, raw)) {
        ++lineno;
        if (!raw.empty() && raw.back() == '\r')
            raw.pop_back();
        std::string value = strip(raw);
        const bool comment = !value.empty() && (value[0] == '#' || value[0] == ';');
        if (value.empty() || comment) {
            // configparser keeps empty lines inside a multi-line value (not comments).
            if (!comment && curValue)
                curValue->push_back("");
            continue;
        }
        size_t indent = raw.find_first_not_of(" \t\f\v");
        if (cur && curValue && indent > indentLevel) {
            curValue->push_back(value);
            continue;
        }
        indentLevel = indent;
        if (value[0] == '[' && value.rfind(']') != std::string::npos && value.rfind(']') > 1) {
            std::string name = value.substr(1, value.rfind(']') - 1);
            curValue = nullptr;
            optname = nullptr;
            if (name == "DEFAULT") {
                cur = &defaults;
                continue;
            }
            for (auto& s : sections)
                if (s.name == name)
                    return fail(lineno, "section '" + name + "' already exists");
            sections.push_back(Section{name, lineno, {}, {}});
            cur = &sections.back();
            continue;
        }
        if (!cur)
            return fail(lineno, "file contains no section headers");
        size_t d = value.find_first_of("=:");
        if (d == std::string::npos)
            return fail(lineno, "not a 'key = value' line: " + value);
        std::string key = lowered(strip(value.substr(0, d)));
        if (key.empty())
            return fail(lineno, "empty key");
        if (cur->find(key))
            return fail(lineno, "option '" + key + "' in section '" + cur->name + "' already exists");
        cur->options.push_back({key, {strip(value.substr(d + 1))}});
        cur->optionLines[key] = lineno;
        optname = &cur->options.back().first;
        curValue = &cur->options.back().second;
    }
    (void)optname;

    KhanatFile result;
    result.file = file;
    for (auto& s : sections) {
        Values vars;
        for (auto& [k, v] : defaults.options)
            vars[k] = joinValue(v);
        for (auto& [k, v] : s.options)
            vars[k] = joinValue(v);
        Values resolved;
        for (auto& [k, v] : vars) {
            std::string r, err;
            if (!interpolate(v, vars, 1, &r, &err)) {
                auto it = s.optionLines.find(k);
                return fail(it != s.optionLines.end() ? it->second : s.line,
                            "[" + s.name + "] " + k + ": " + err);
            }
            resolved[k] = r;
        }
        auto lineOf = [&](const std::string& k) {
            auto it = s.optionLines.find(k);
            return it != s.optionLines.end() ? it->second : s.line;
        };
        if (s.name == "config") {
            result.server = resolved;
            continue;
        }
        ProgramSection p;
        p.name = s.name;
        p.line = s.line;
        auto cmd = resolved.find("command");
        if (cmd == resolved.end())
            return fail(s.line, "[" + s.name + "]: no 'command' (every section but [config] is a program)");
        p.command = cmd->second;
        if (splitCommand(p.command).empty())
            return fail(lineOf("command"), "[" + s.name + "] command: empty");
        if (s.name.find_first_of(":/") != std::string::npos || s.name.find_first_of(" \t") != std::string::npos)
            return fail(s.line, "[" + s.name + "]: a program name may not contain ':', '/' or blanks");
        if (auto it = resolved.find("path"); it != resolved.end())
            p.path = it->second;
        for (auto [key, dst] : {std::pair{"logsize", &p.logsize}, std::pair{"bufsize", &p.bufsize}}) {
            auto it = resolved.find(key);
            if (it == resolved.end())
                continue;
            if (!parseInt(it->second, dst) || *dst < 0)
                return fail(lineOf(key), "[" + s.name + "] " + key + ": not a non-negative integer: '" +
                                             it->second + "'");
        }
        result.programs.push_back(std::move(p));
    }
    *out = std::move(result);
    return true;
}

bool loadKhanatCfg(const std::string& path, KhanatFile* out, std::string* error) {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        *error = path + ": cannot open: " + scopevisor::errnoText(errno);
        return false;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    return parseKhanatCfg(ss.str(), path, out, error);
}

} // namespace khanat
