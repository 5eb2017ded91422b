// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Khanat's khaganat.cfg, read the way Python's configparser read it for
// manage.py: [config] holds the server keys, every other section is a
// program (command, path, logsize, bufsize).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace khanat {

struct ProgramSection {
    std::string name;
    std::string command;
    std::string path;      // "" = none given
    int64_t logsize = 100; // lines kept for LOG
    int64_t bufsize = 100; // accepted and checked; the daemon sizes its own pipes
    int line = 0;          // of the section header
};

struct KhanatFile {
    std::string file;
    std::map<std::string, std::string> server; // [config], keys lower case
    std::vector<ProgramSection> programs;      // in file order
};

// configparser semantics: "key = value" or "key: value", keys lower-cased,
// whole-line '#'/';' comments, indented continuation lines, [DEFAULT],
// %-interpolation (%% and %(key)s). Errors name file:line.
bool parseKhanatCfg(std::string_view text, const std::string& file, KhanatFile* out, std::string* error);
bool loadKhanatCfg(const std::string& path, KhanatFile* out, std::string* error);

// Python's str.split(): runs of whitespace separate, no quoting.
std::vector<std::string> splitCommand(std::string_view command);

} // namespace khanat
