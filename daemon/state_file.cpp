// SPDX-License-Identifier: LGPL-2.1-or-later
#include "state_file.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace scopevisor {
namespace {

constexpr const char* kHeader = "# scopevisor state v1";

const char* desiredName(Desired d) {
    switch (d) {
    case Desired::Started: return "started";
    case Desired::Stopped: return "stopped";
    default: return "default";
    }
}

std::vector<std::string> split(const std::string& line) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : line) {
        if (c == '\t') {
            out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    out.push_back(cur);
    return out;
}

uint64_t num(const std::string& s) { return std::strtoull(s.c_str(), nullptr, 10); }

} // namespace

StateMap readStateFile(const std::string& path) {
    StateMap m;
    std::ifstream f(path);
    std::string line;
    if (!std::getline(f, line) || line != kHeader)
        return m;
    while (std::getline(f, line)) {
        auto v = split(line);
        if (v.size() != 11 || v[0].empty())
            continue;
        ProgramRecord r;
        r.desired = v[1] == "started" ? Desired::Started : v[1] == "stopped" ? Desired::Stopped : Desired::Default;
        r.pid = pid_t(num(v[2]));
        r.pidStartTicks = num(v[3]);
        r.startedAtUs = num(v[4]);
        r.unit = v[5];
        r.stdoutNextLine = std::max<uint64_t>(1, num(v[6]));
        r.stdoutBytes = num(v[7]);
        r.stderrNextLine = std::max<uint64_t>(1, num(v[8]));
        r.stderrBytes = num(v[9]);
        r.nextSeq = std::max<uint64_t>(1, num(v[10]));
        m[v[0]] = r;
    }
    return m;
}

std::string formatStateFile(const StateMap& state) {
    std::ostringstream out;
    out << kHeader << "\n";
    for (const auto& [name, r] : state)
        out << name << '\t' << desiredName(r.desired) << '\t' << r.pid << '\t' << r.pidStartTicks << '\t'
            << r.startedAtUs << '\t' << r.unit << '\t' << r.stdoutNextLine << '\t' << r.stdoutBytes << '\t'
            << r.stderrNextLine << '\t' << r.stderrBytes << '\t' << r.nextSeq << '\n';
    return out.str();
}

bool writeFileAtomically(const std::string& path, const std::string& data, std::string* error) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    const std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        *error = tmp + ": " + std::strerror(errno);
        return false;
    }
    bool ok = ::write(fd, data.data(), data.size()) == ssize_t(data.size());
    int saved = errno;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        *error = path + ": " + std::strerror(ok ? errno : saved);
        ::unlink(tmp.c_str());
        return false;
    }
    return true;
}

bool writeStateFile(const std::string& path, const StateMap& state, std::string* error) {
    return writeFileAtomically(path, formatStateFile(state), error);
}

uint64_t processStartTicks(pid_t pid) {
    if (pid <= 0)
        return 0;
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string s;
    if (!std::getline(f, s))
        return 0;
    // Field 2 (comm) may hold spaces and parentheses: count from the last ')'.
    auto close = s.rfind(')');
    if (close == std::string::npos)
        return 0;
    std::istringstream rest(s.substr(close + 2));
    std::string field;
    // Field 3 is the state: a zombie has exited already.
    if (!(rest >> field) || field == "Z" || field == "X")
        return 0;
    // Field 22 is the start time.
    for (int i = 4; i <= 22; ++i)
        if (!(rest >> field))
            return 0;
    return num(field);
}

std::string stateDirectory(const std::string& configured) {
    if (!configured.empty())
        return configured;
    if (geteuid() == 0)
        return "/var/lib/scopevisor";
    if (const char* x = getenv("XDG_STATE_HOME"); x && *x)
        return std::string(x) + "/scopevisor";
    if (const char* h = getenv("HOME"); h && *h)
        return std::string(h) + "/.local/state/scopevisor";
    return "/tmp/scopevisor-" + std::to_string(geteuid());
}

std::string stateFilePath(const std::string& stateDir, const std::string& configPath) {
    std::string abs = std::filesystem::absolute(configPath).lexically_normal().string();
    // systemd-escape style: '/' becomes '-', other unsafe bytes \xNN.
    std::string name;
    for (size_t i = 0; i < abs.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(abs[i]);
        if (c == '/')
            name += (i == 0 ? "" : "-");
        else if (std::isalnum(c) || c == '_' || c == '.')
            name += char(c);
        else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            name += buf;
        }
    }
    return stateDir + "/" + name + ".state";
}

} // namespace scopevisor
