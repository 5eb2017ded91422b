// SPDX-License-Identifier: LGPL-2.1-or-later
#include "srs_yml.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "srs_command.h"
#include "scopevisor/text.h"

namespace srs {
namespace fs = std::filesystem;
namespace {

std::string dirOf(const std::string& file) {
    std::string d = fs::path(file).parent_path().string();
    return d.empty() ? "." : d;
}

std::string relativeTo(const std::string& dir, const std::string& path) {
    if (path.empty() || path[0] == '/')
        return path;
    return (fs::path(dir) / path).lexically_normal().string();
}

std::string at(const std::string& file, const YAML::Node& n, const std::string& key) {
    return file + ":" + std::to_string(n.Mark().line + 1) + ": " + key + ": ";
}

// A list of strings, or an error naming the key (the original panics on a
// non-string item).
bool stringList(const std::string& file, const YAML::Node& n, const std::string& key, std::vector<std::string>* out,
                std::string* error) {
    if (!n.IsSequence()) {
        *error = at(file, n, key) + "expected a list of strings";
        return false;
    }
    for (const auto& item : n) {
        if (!item.IsScalar()) {
            *error = at(file, item, key) + "expected a string item";
            return false;
        }
        out->push_back(item.Scalar());
    }
    return true;
}

bool readText(const std::string& file, std::string* text, std::string* error) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        *error = file + ": cannot read: " + scopevisor::errnoText(errno);
        return false;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    *text = ss.str();
    return true;
}

YAML::Node parseDoc(const std::string& text, const std::string& file, std::string* error) {
    try {
        YAML::Node doc = YAML::Load(text);
        if (doc.IsNull())
            return YAML::Node(YAML::NodeType::Map);
        if (!doc.IsMap()) {
            *error = file + ": expected a YAML mapping at the top";
            return YAML::Node(YAML::NodeType::Undefined);
        }
        return doc;
    } catch (const YAML::Exception& e) {
        *error = file + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg;
        return YAML::Node(YAML::NodeType::Undefined);
    }
}

// One `output` item: {stdout|stderr: PATH, mode: create|append}.
bool outputItem(const YAML::Node& item, const std::string& dir, ChildYml* c) {
    if (!item.IsMap())
        return false;
    std::optional<OutputFile>* slot = nullptr;
    OutputFile f;
    for (const auto& kv : item) {
        const std::string k = kv.first.Scalar();
        if (!kv.second.IsScalar())
            return false;
        if (k == "stdout" || k == "stderr") {
            slot = k == "stdout" ? &c->stdoutFile : &c->stderrFile;
            f.path = relativeTo(dir, kv.second.Scalar());
        } else if (k == "mode") {
            f.append = kv.second.Scalar() == "append"; // anything else: create
        } else {
            return false;
        }
    }
    if (slot)
        *slot = f;
    return true;
}

} // namespace

bool parseServerYml(const std::string& text, const std::string& file, ServerYml* out, std::string* error) {
    ServerYml s;
    s.file = file;
    YAML::Node doc = parseDoc(text, file, error);
    if (!doc.IsDefined())
        return false;
    try {
        const std::string dir = dirOf(file);
        for (const auto& kv : doc) {
            const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
            const YAML::Node& v = kv.second;
            if (k == "loadpaths" || k == "pub_keys_path" || k == "startup") {
                std::vector<std::string> list;
                if (!v.IsNull() && !stringList(file, v, k, &list, error))
                    return false;
                if (k == "startup") {
                    for (const auto& name : list)
                        if (std::string why; !validChildName(name, &why)) {
                            *error = at(file, v, k) + why;
                            return false;
                        }
                    s.startup = std::move(list);
                    s.hasStartup = true;
                    continue;
                }
                for (auto& p : list)
                    p = relativeTo(dir, p);
                (k == "loadpaths" ? s.loadpaths : s.pubKeysPath) = std::move(list);
            } else if (k == "mode" || k == "encrypt" || k == "listener_addr") {
                if (!v.IsScalar()) {
                    *error = at(file, v, k) + "expected a string";
                    return false;
                }
                if (k == "mode")
                    s.mode = v.Scalar();
                else if (k == "encrypt")
                    s.encrypt = v.Scalar();
                else
                    s.listenerAddr = v.Scalar();
            } else if (k == "ipv6") {
                bool b = false;
                if (!v.IsScalar() || !YAML::convert<bool>::decode(v, b)) {
                    *error = at(file, v, k) + "expected true or false";
                    return false;
                }
                s.ipv6 = b;
            }
            // Other keys: the original ignores them too.
        }
    } catch (const YAML::Exception& e) {
        *error = file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg;
        return false;
    }
    if (s.mode == "half" && !s.hasStartup) {
        *error = file + ": mode is half but there is no startup list (startup list not found)";
        return false;
    }
    *out = std::move(s);
    return true;
}

bool parseChildYml(const std::string& text, const std::string& file, ChildYml* out, std::string* error) {
    ChildYml c;
    c.file = file;
    c.name = childNameOf(fs::path(file).filename().string());
    c.dir = dirOf(file);
    // The name comes from the file name, which may hold anything a file
    // name can: refuse what the daemon would refuse in its own config.
    if (std::string why; !validChildName(c.name, &why)) {
        *error = printable(file) + ": " + why;
        return false;
    }
    YAML::Node doc = parseDoc(text, file, error);
    if (!doc.IsDefined())
        return false;
    try {
        YAML::Node cmd = doc["command"];
        // yaml-cpp keeps plain scalars as text, so `command: true` is the
        // program "true" here (the original panicked on it).
        if (!cmd.IsDefined() || !cmd.IsScalar() || cmd.Scalar().empty()) {
            *error = file + ": command: missing, empty or not a string";
            return false;
        }
        c.command = cmd.Scalar();
        if (c.command[0] == ' ') {
            *error = at(file, cmd, "command") + "starts with a space, so the program name would be empty";
            return false;
        }
        if (YAML::Node o = doc["output"]; o.IsDefined() && !o.IsNull()) {
            bool good = o.IsSequence();
            ChildYml tmp;
            if (good)
                for (const auto& item : o)
                    good = good && outputItem(item, c.dir, &tmp);
            if (good) {
                c.stdoutFile = tmp.stdoutFile;
                c.stderrFile = tmp.stderrFile;
            } else {
                c.warnings.push_back(at(file, o, "output") +
                                     "ignored: expected a list of {stdout|stderr: path, mode: create|append}");
            }
        }
        if (YAML::Node r = doc["repeat"]; r.IsDefined() && !r.IsNull()) {
            long secs = 0;
            YAML::Node sn = r.IsMap() ? r["seconds"] : YAML::Node();
            if (sn.IsDefined() && sn.IsScalar() && YAML::convert<long>::decode(sn, secs) && secs > 0) {
                c.repeat = true;
                c.repeatSeconds = secs;
                if (YAML::Node a = r["action"]; a.IsDefined() && a.IsScalar())
                    c.repeatAction = a.Scalar();
            } else {
                c.warnings.push_back(at(file, r, "repeat") + "ignored: seconds must be a whole number above 0");
            }
        }
        if (YAML::Node h = doc["hooks"]; h.IsDefined() && !h.IsNull()) {
            if (!h.IsSequence()) {
                *error = at(file, h, "hooks") + "expected a list of {prehook|posthook: \"<op> <child>\"}";
                return false;
            }
            for (const auto& item : h) {
                if (!item.IsMap()) {
                    *error = at(file, item, "hooks") + "expected a {prehook|posthook: \"<op> <child>\"} item";
                    return false;
                }
                for (const auto& kv : item) {
                    const std::string k = kv.first.Scalar();
                    if (!kv.second.IsScalar()) {
                        *error = at(file, kv.second, "hooks") + k + " must be a string";
                        return false;
                    }
                    // A later duplicate overwrites an earlier one, as in the original.
                    if (k == "prehook")
                        c.prehook = kv.second.Scalar();
                    else if (k == "posthook")
                        c.posthook = kv.second.Scalar();
                    else
                        c.warnings.push_back(at(file, kv.first, "hooks") + "unknown hook '" + k + "' ignored");
                    c.hasHooks = true;
                }
            }
        }
    } catch (const YAML::Exception& e) {
        *error = file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg;
        return false;
    }
    *out = std::move(c);
    return true;
}

bool loadServerYml(const std::string& file, ServerYml* out, std::string* error) {
    std::string text;
    return readText(file, &text, error) && parseServerYml(text, file, out, error);
}

bool loadChildYml(const std::string& file, ChildYml* out, std::string* error) {
    std::string text;
    return readText(file, &text, error) && parseChildYml(text, file, out, error);
}

std::string childNameOf(const std::string& filename) {
    size_t dot = filename.rfind('.');
    if (dot == std::string::npos)
        return {};
    std::string ext = filename.substr(dot + 1);
    if (ext != "yml" && ext != "yaml")
        return {};
    return filename.substr(0, filename.find('.'));
}

bool listChildFiles(const ServerYml& s, std::vector<std::string>* files, std::string* error) {
    std::set<std::string> seen;
    for (const auto& dir : s.loadpaths) {
        std::error_code ec;
        std::vector<std::string> here;
        for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
            if (!childNameOf(it->path().filename().string()).empty() && it->is_regular_file())
                here.push_back(it->path().string());
        if (ec) {
            *error = s.file + ": loadpaths: " + dir + ": " + ec.message();
            return false;
        }
        std::sort(here.begin(), here.end());
        for (auto& f : here)
            if (seen.insert(childNameOf(fs::path(f).filename().string())).second)
                files->push_back(std::move(f));
    }
    return true;
}

std::string findChildFile(const ServerYml& s, const std::string& name, std::string* error) {
    for (const auto& dir : s.loadpaths) {
        std::error_code ec;
        std::vector<std::string> here;
        for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
            if (childNameOf(it->path().filename().string()) == name && it->is_regular_file())
                here.push_back(it->path().string());
        if (ec) {
            *error = s.file + ": loadpaths: " + dir + ": " + ec.message();
            return {};
        }
        if (!here.empty())
            return *std::min_element(here.begin(), here.end());
    }
    return {};
}

std::vector<std::string> splitCommand(const std::string& command) {
    // Program up to the first space, then the rest on every space: the same
    // as one split on every space.
    std::vector<std::string> argv;
    for (auto w : splitSpaces(command))
        argv.emplace_back(w);
    return argv;
}

bool validChildName(const std::string& name, std::string* why) {
    if (name.empty()) {
        *why = "the child name is empty";
        return false;
    }
    for (char c : name)
        if (c == ' ' || c == ':' || c == '/' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            *why = "invalid child name '" + printable(name) +
                   "' (a name may not contain a space, ':', '/' or a control character)";
            return false;
        }
    return true;
}

bool reservedName(const std::string& name) { return name == "all" || name == "on" || parseOp(name).has_value(); }

} // namespace srs
