// SPDX-License-Identifier: LGPL-2.1-or-later
#include "srs_settings.h"

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <set>

#include <fcntl.h>
#include <unistd.h>

#include "scopevisor/settings_reader.h"

namespace srs {
namespace fs = std::filesystem;
namespace {

constexpr const char* kSection = "adapter:supervisor-rs";

using scopevisor::pathRelativeTo;
using scopevisor::settingWhere;


// Directories separated by commas or blanks.
std::vector<std::string> pathList(const scopevisor::AdapterSetting& st) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : st.value + ",") {
        if (c == ',' || c == ' ' || c == '\t') {
            if (!cur.empty())
                out.push_back(pathRelativeTo(st.file, cur));
            cur.clear();
        } else {
            cur += c;
        }
    }
    return out;
}

} // namespace

bool readSettings(const scopevisor::AdapterConfig& cfg, Settings* out, std::string* error) {
    Settings s;
    bool addrSet = false, encryptSet = false, keysSet = false, ipv6 = false, ipv6Set = false, replaySet = false;
    for (const auto& st : cfg.settings) {
        if (st.section != kSection)
            continue;
        const std::string& k = st.key;
        if (k == "port") {
            if (!scopevisor::readPort(st, &s.port, error))
                return false;
        } else if (k == "listener_addr") {
            if (st.value.empty()) {
                *error = settingWhere(st) + "empty (0.0.0.0 for every IPv4 address, :: for IPv4 and IPv6)";
                return false;
            }
            s.listenerAddr = st.value;
            addrSet = true;
        } else if (k == "ipv6" || k == "encrypt") {
            auto b = scopevisor::parseYesNo(st.value);
            if (!b) {
                *error = settingWhere(st) + "expected on or off, not '" + st.value + "'";
                return false;
            }
            (k == "ipv6" ? ipv6 : s.encrypt) = *b;
            (k == "ipv6" ? ipv6Set : encryptSet) = true;
        } else if (k == "pub_keys_path") {
            s.pubKeysPath = pathList(st);
            keysSet = true;
        } else if (k == "replay_window") {
            const auto window = scopevisor::parseUnsigned(st.value, 0, 86400 * 366);
            if (!window) {
                *error = settingWhere(st) + "expected seconds (0 = off), not '" + st.value + "'";
                return false;
            }
            s.replayWindow = long(*window);
            replaySet = true;
        } else if (k == "server_yml") {
            s.serverYmlPath = pathRelativeTo(st.file, st.value);
        } else if (k == "default_role" || k == "required" || k == "enabled") {
            // the daemon's keys
        } else {
            *error = settingWhere(st) + "unknown key (known: listener_addr, port, ipv6, encrypt, pub_keys_path, "
                                 "replay_window, server_yml, default_role, required, enabled)";
            return false;
        }
    }
    if (!s.serverYmlPath.empty()) {
        if (!loadServerYml(s.serverYmlPath, &s.server, error))
            return false;
        if (!encryptSet)
            s.encrypt = s.server.encrypt == "on"; // only the exact "on", as the original
        if (!keysSet)
            s.pubKeysPath = s.server.pubKeysPath;
        if (!addrSet && s.server.listenerAddr) {
            s.listenerAddr = *s.server.listenerAddr;
            addrSet = true;
        }
        if (!ipv6Set)
            ipv6 = s.server.ipv6;
    }
    if (!addrSet && ipv6)
        s.listenerAddr = "::";
    if (!replaySet && s.encrypt)
        s.replayWindow = kDefaultReplayWindow;
    if (s.encrypt && s.pubKeysPath.empty()) {
        *error = std::string("[") + kSection + "] encrypt is on but pub_keys_path names no directory";
        return false;
    }
    *out = std::move(s);
    return true;
}

scopevisor::ImportedProgram programFor(const ChildYml& c, bool autostart) {
    scopevisor::ImportedProgram ip;
    ip.name = c.name;
    ip.argv = splitCommand(c.command); // no shell, as the original
    ip.directory = fs::absolute(c.dir).lexically_normal().string();
    ip.autostart = autostart;
    ip.autorestart = false; // the original restarts nothing (except by repeat)
    ip.startsecs = 0;       // a spawned child counts as started at once
    if (c.stdoutFile) {
        ip.stdoutLogfile = c.stdoutFile->path;
        ip.stdoutLogfileAppend = c.stdoutFile->append;
    }
    if (c.stderrFile) {
        ip.stderrLogfile = c.stderrFile->path;
        ip.stderrLogfileAppend = c.stderrFile->append;
    }
    ip.source = c.file;
    return ip;
}

bool importedPrograms(const Settings& s, std::vector<scopevisor::ImportedProgram>* out, std::string* error) {
    if (s.serverYmlPath.empty())
        return true;
    std::vector<std::string> files;
    if (!listChildFiles(s.server, &files, error))
        return false;
    // The module stays loaded across reloads: truncate a create-mode file
    // only at its first import (the daemon's start), never under a child
    // that a reload leaves running.
    static std::mutex m;
    static std::set<std::string> truncated;
    for (const auto& f : files) {
        ChildYml c;
        if (!loadChildYml(f, &c, error))
            return false;
        if (reservedName(c.name))
            continue; // the original skips them too
        const bool autostart = s.server.mode == "full" ||
                               (s.server.mode == "half" &&
                                std::find(s.server.startup.begin(), s.server.startup.end(), c.name) != s.server.startup.end());
        for (const auto* o : {&c.stdoutFile, &c.stderrFile}) {
            std::lock_guard lock(m);
            if (autostart && *o && !(*o)->append && truncated.insert((*o)->path).second) {
                int fd = ::open((*o)->path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
                if (fd >= 0)
                    ::close(fd);
            }
        }
        out->push_back(programFor(c, autostart));
    }
    return true;
}

} // namespace srs
