// SPDX-License-Identifier: LGPL-2.1-or-later
//
// supervisor-rs 0.8.5's own configuration (docs/protocols/supervisor-rs.md §5):
// the server.yml and the child NAME.yml files of its loadpaths, read with
// yaml-cpp. Where the original panics on a value of the wrong shape, these
// give an error naming the file and the key, or skip the section with a
// warning where the original ignores it silently.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace srs {

struct ServerYml {
    std::string file;                   // where it was read from
    std::vector<std::string> loadpaths; // relative ones taken from the file's directory
    std::string mode = "quiet";         // quiet | half | full (anything else: quiet)
    std::vector<std::string> startup;
    bool hasStartup = false;
    std::string encrypt = "off";
    std::vector<std::string> pubKeysPath;
    std::optional<std::string> listenerAddr;
    bool ipv6 = false;
};

struct OutputFile {
    std::string path; // relative ones taken from the child yml's directory
    bool append = false; // create (the default) truncates at every start
};

struct ChildYml {
    std::string name; // the file name up to its first '.'
    std::string file;
    std::string dir;  // the child's working directory
    std::string command;
    std::optional<OutputFile> stdoutFile, stderrFile;
    bool repeat = false;
    std::string repeatAction = "restart";
    long repeatSeconds = 0;
    std::string prehook, posthook; // "<op> <child>", "" = none
    bool hasHooks = false;
    std::vector<std::string> warnings; // sections ignored, as the original does
};

// Parse texts; `file` names them in errors and anchors relative paths.
bool parseServerYml(const std::string& text, const std::string& file, ServerYml* out, std::string* error);
bool parseChildYml(const std::string& text, const std::string& file, ChildYml* out, std::string* error);

bool loadServerYml(const std::string& file, ServerYml* out, std::string* error);
bool loadChildYml(const std::string& file, ChildYml* out, std::string* error);

// The child's name for a file name ("a.b.yml" -> "a"), or "" when the file
// is not a *.yml / *.yaml.
std::string childNameOf(const std::string& filename);

// The first NAME.yml/.yaml in the loadpaths, in order; "" with *error set
// when a loadpath cannot be read, "" alone when there is none.
std::string findChildFile(const ServerYml& s, const std::string& name, std::string* error);
// Every child file of every loadpath (first of a name wins), in loadpath
// order then file name order.
bool listChildFiles(const ServerYml& s, std::vector<std::string>* files, std::string* error);

// supervisor-rs's command split: program up to the first space, then every
// single space separates an argument (no quoting; "a  b" gives an empty one).
std::vector<std::string> splitCommand(const std::string& command);

// Whether `name` may name a program, by the daemon's rule for its own
// configuration (daemon/config_values.cpp checkName): not empty, and no
// space, ':', '/' or control character. *why says what is wrong.
bool validChildName(const std::string& name, std::string* why);

// The names the original refuses for a child: "all", "on" and the op words.
bool reservedName(const std::string& name);

} // namespace srs
