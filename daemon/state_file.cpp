// SPDX-License-Identifier: LGPL-2.1-or-later
#include "state_file.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdint>
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

StateMap parseStateFile(std::string_view text) {
    StateMap m;
    auto nextLine = [&text](std::string& line) {
        if (text.empty())
            return false;
        const size_t nl = text.find('\n');
        line.assign(text.substr(0, nl));
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        return true;
    };
    std::string line;
    if (!nextLine(line) || line != kHeader)
        return m;
    while (nextLine(line)) {
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

StateMap readStateFile(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f)
        return {};
    std::ostringstream text;
    text << f.rdbuf();
    return parseStateFile(text.str());
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
    const std::filesystem::path file(path);
    const std::string dir = file.has_parent_path() ? file.parent_path().string() : ".";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    // A name of our own in the same directory, made with O_EXCL: a fixed
    // name (path + ".tmp") could be a symlink planted by someone who can
    // write there, and two writers would share it.
    std::string tmp = path + ".XXXXXX";
    int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
    if (fd < 0) {
        *error = tmp + ": " + std::strerror(errno);
        return false;
    }
    auto failed = [&](const std::string& what, int e) {
        *error = what + ": " + std::strerror(e);
        if (fd >= 0)
            ::close(fd);
        ::unlink(tmp.c_str());
        return false;
    };
    // mkostemp makes it 0600, which is what the state wants (pids, units).
    for (size_t done = 0; done < data.size();) {
        const ssize_t w = ::write(fd, data.data() + done, data.size() - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return failed(tmp, w < 0 ? errno : EIO);
        done += size_t(w);
    }
    // On disk before the rename: after a power cut the name holds either
    // the old text or the whole new one, never an empty file.
    if (::fsync(fd) != 0)
        return failed(tmp, errno);
    const int closed = ::close(fd);
    fd = -1;
    if (closed != 0)
        return failed(tmp, errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0)
        return failed(path, errno);
    // And the rename itself.
    const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d >= 0) {
        ::fsync(d);
        ::close(d);
    }
    return true;
}

bool writeStateFile(const std::string& path, const StateMap& state, std::string* error) {
    return writeFileAtomically(path, formatStateFile(state), error);
}

uint64_t parseStatStartTicks(std::string_view s) {
    // Field 2 (comm) may hold spaces and parentheses: count from the last ')'.
    const size_t close = s.rfind(')');
    if (close == std::string_view::npos)
        return 0;
    s.remove_prefix(close + 1);
    // Fields 3 (the state) to 22 (the start time), separated by one space.
    std::string_view field;
    for (int i = 3; i <= 22; ++i) {
        if (s.empty() || s[0] != ' ')
            return 0;
        s.remove_prefix(1);
        const size_t end = s.find_first_of(" \n");
        field = s.substr(0, end);
        s.remove_prefix(field.size());
        if (field.empty())
            return 0;
        // A zombie has exited already.
        if (i == 3 && (field == "Z" || field == "X"))
            return 0;
    }
    uint64_t v = 0;
    for (char c : field) {
        if (c < '0' || c > '9' || v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + uint64_t(c - '0');
    }
    return v;
}

uint64_t processStartTicks(pid_t pid) {
    if (pid <= 0)
        return 0;
    // One read(): the kernel makes the whole line at once.
    const std::string path = "/proc/" + std::to_string(pid) + "/stat";
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[1024];
    ssize_t n;
    do
        n = ::read(fd, buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    ::close(fd);
    return n > 0 ? parseStatStartTicks(std::string_view(buf, size_t(n))) : 0;
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
