// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The line rules follow CPython's configparser._read() so that every file
// supervisord accepts reads the same here, quirks included:
// - a line is a continuation when it is indented deeper than the line of the
//   key it continues; blank lines inside a value are kept, trailing ones not;
// - ';' or '#' start a comment at the beginning of a line or after whitespace
//   (so "url=http://host/#x" keeps its '#');
// - the first '=' or ':' ends the key, except in [access], whose keys
//   ("khanat:client") contain colons: there only '=' does. [access] keys also
//   keep their case, because the identities in them (user names, certificate
//   names) are case-sensitive.
#include "ini.h"

#include <algorithm>

namespace scopevisor::config::ini {

namespace {

// Python's str.isspace() for the ASCII range.
bool isSpace(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

std::string_view strip(std::string_view s)
{
    while (!s.empty() && isSpace(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && isSpace(s.back()))
        s.remove_suffix(1);
    return s;
}

std::string lower(std::string_view s)
{
    std::string r(s);
    for (char& c : r)
        if (c >= 'A' && c <= 'Z')
            c = char(c - 'A' + 'a');
    return r;
}

// Position where the comment of a raw line starts, or npos.
size_t commentStart(std::string_view line)
{
    std::string_view s = strip(line);
    if (!s.empty() && (s.front() == ';' || s.front() == '#'))
        return 0;
    for (size_t i = 0; i < line.size(); ++i)
        if ((line[i] == ';' || line[i] == '#') && (i == 0 || isSpace(line[i - 1])))
            return i;
    return std::string_view::npos;
}

// Python's universal newlines: "\n", "\r\n" and "\r" all end a line.
std::vector<std::string_view> splitLines(std::string_view text)
{
    std::vector<std::string_view> lines;
    size_t start = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n' || text[i] == '\r') {
            lines.push_back(text.substr(start, i - start));
            if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')
                ++i;
            start = i + 1;
        }
    }
    if (start < text.size())
        lines.push_back(text.substr(start));
    return lines;
}

std::string shortQuote(std::string_view s)
{
    constexpr size_t kMax = 60;
    std::string r = "'";
    r += s.substr(0, kMax);
    if (s.size() > kMax)
        r += "...";
    return r + "'";
}

} // namespace

const Entry* Section::find(std::string_view key) const
{
    for (const Entry& e : entries)
        if (e.key == key)
            return &e;
    return nullptr;
}

const Section* Document::find(std::string_view name) const
{
    for (const Section& s : sections_)
        if (s.name == name)
            return &s;
    return nullptr;
}

void Document::remove(std::string_view name)
{
    std::erase_if(sections_, [&](const Section& s) { return s.name == name; });
}

Section& Document::sectionNamed(const std::string& name, const SourceLoc& loc)
{
    for (Section& s : sections_)
        if (s.name == name)
            return s;
    sections_.push_back(Section{name, loc, {}});
    return sections_.back();
}

void Document::merge(Document&& other)
{
    for (Section& theirs : other.sections_) {
        Section& ours = sectionNamed(theirs.name, theirs.loc);
        for (Entry& e : theirs.entries) {
            auto it = std::find_if(ours.entries.begin(), ours.entries.end(),
                                   [&](const Entry& o) { return o.key == e.key; });
            if (it == ours.entries.end())
                ours.entries.push_back(std::move(e));
            else
                *it = std::move(e);
        }
    }
}

Document Document::parse(std::string_view text, const std::string& file)
{
    Document doc;
    long sect = -1;     // index of the current section
    long opt = -1;      // index of the current key in it
    size_t indent = 0;  // indentation of the line that set the current key
    int lineno = 0;

    for (std::string_view line : splitLines(text)) {
        ++lineno;
        const size_t cstart = commentStart(line);
        const std::string_view value = strip(line.substr(0, cstart));
        if (value.empty()) {
            // A blank line inside a value is part of it (configparser's
            // empty_lines_in_values); a comment line is not.
            if (cstart == std::string_view::npos && sect >= 0 && opt >= 0)
                doc.sections_[size_t(sect)].entries[size_t(opt)].value += '\n';
            continue;
        }
        size_t curIndent = 0;
        while (curIndent < line.size() && isSpace(line[curIndent]))
            ++curIndent;

        if (sect >= 0 && opt >= 0 && curIndent > indent) {
            std::string& v = doc.sections_[size_t(sect)].entries[size_t(opt)].value;
            v += '\n';
            v += value;
            continue;
        }
        indent = curIndent;

        const SourceLoc loc{file, lineno};
        // "[name]": the header runs to the last ']' (configparser's greedy
        // "\[(?P<header>.+)\]", anchored at the start only).
        if (value.front() == '[') {
            const size_t close = value.rfind(']');
            if (close != std::string_view::npos && close >= 2) {
                const std::string name(value.substr(1, close - 1));
                Section& s = doc.sectionNamed(name, loc);
                sect = long(&s - doc.sections_.data());
                opt = -1;
                continue;
            }
        }
        if (sect < 0)
            throw ConfigError(loc, "", "",
                              "text before the first [section] header: " + shortQuote(value));

        Section& s = doc.sections_[size_t(sect)];
        const bool access = s.name == "access";
        const size_t delim = value.find_first_of(access ? "=" : "=:");
        if (delim == std::string_view::npos)
            throw ConfigError(loc, s.name, "",
                              "cannot parse line " + shortQuote(value) +
                                  " (expected [section], key = value, or a comment)");
        const std::string_view rawKey = strip(value.substr(0, delim));
        if (rawKey.empty())
            throw ConfigError(loc, s.name, "", "missing key before '" + std::string(1, value[delim]) + "'");
        std::string key = access ? std::string(rawKey) : lower(rawKey);
        Entry entry{key, std::string(strip(value.substr(delim + 1))), loc};

        auto it = std::find_if(s.entries.begin(), s.entries.end(),
                               [&](const Entry& e) { return e.key == key; });
        if (it == s.entries.end()) {
            s.entries.push_back(std::move(entry));
            opt = long(s.entries.size() - 1);
        } else {
            *it = std::move(entry);
            opt = long(it - s.entries.begin());
        }
    }

    // configparser joins the lines of a value and strips the trailing blanks.
    for (Section& s : doc.sections_)
        for (Entry& e : s.entries)
            while (!e.value.empty() && isSpace(e.value.back()))
                e.value.pop_back();
    return doc;
}

} // namespace scopevisor::config::ini
