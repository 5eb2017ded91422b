// SPDX-License-Identifier: LGPL-2.1-or-later
//
// An INI reader with the semantics of Python's RawConfigParser(strict=False,
// inline_comment_prefixes=(';', '#')), which is what supervisord reads its
// configuration with. Only the syntax lives here; what sections and keys mean
// is config.cpp's business.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config.h"

namespace scopevisor::config::ini {

struct Entry {
    std::string key;   // lower-cased, except in [access] (see ini.cpp)
    std::string value; // stripped; continuation lines joined with '\n'
    SourceLoc loc;     // the line holding the key (of its last definition)
};

struct Section {
    std::string name; // as written between the brackets (case-sensitive)
    SourceLoc loc;    // its first header
    std::vector<Entry> entries; // one per key, in order of first appearance

    const Entry* find(std::string_view key) const;
};

class Document {
public:
    // Parse one file's text. `file` is the name used in locations.
    // Throws ConfigError for a line that is neither a section header, a key,
    // a comment nor a continuation, and for a key before any section.
    static Document parse(std::string_view text, const std::string& file);

    // Add another file's sections, as reading a second file into the same
    // RawConfigParser does: a section seen before gains its keys, a key seen
    // before takes the new value.
    void merge(Document&& other);

    const std::vector<Section>& sections() const noexcept { return sections_; }
    const Section* find(std::string_view name) const;
    void remove(std::string_view name);

private:
    Section& sectionNamed(const std::string& name, const SourceLoc& loc);
    std::vector<Section> sections_;
};

} // namespace scopevisor::config::ini
