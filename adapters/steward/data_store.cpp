// SPDX-License-Identifier: LGPL-2.1-or-later
#include "data_store.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scopevisor/text.h"

namespace steward {

namespace {

// Steward joins these with filepath.Join, which lets "../" climb out of the
// data folder; here a directory may have several components but none of
// them may be "..", and node and file names are single components.
bool safeRelative(const std::string& p, bool allowSlash) {
    if (p.empty() || p.front() == '/' || p.size() > 1024)
        return false;
    size_t start = 0;
    for (;;) {
        size_t slash = p.find('/', start);
        std::string comp = p.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
        if (comp.empty() || comp == "." || comp == ".." || comp.find('\0') != std::string::npos)
            return false;
        if (slash == std::string::npos)
            return true;
        if (!allowSlash)
            return false;
        start = slash + 1;
    }
}

} // namespace

std::optional<std::string> DataStore::pathOf(const std::string& dir, const std::string& node,
                                             const std::string& file, std::string* error) const {
    if (!safeRelative(dir, true)) {
        *error = "invalid directory '" + dir + "'";
        return std::nullopt;
    }
    if (!safeRelative(node, false)) {
        *error = "invalid node name '" + node + "'";
        return std::nullopt;
    }
    if (!safeRelative(file, false)) {
        *error = "invalid file name '" + file + "'";
        return std::nullopt;
    }
    return root_ + "/" + dir + "/" + node + "/" + file;
}

std::optional<std::string> DataStore::pathFor(const Message& m, std::string* error) const {
    if (!m.previous)
        return pathOf(m.directory, m.toNode, m.fileName, error);
    const Message& p = *m.previous;
    if (!p.toNode.empty())
        return pathOf(p.directory, p.toNode, p.fileName, error);
    return pathOf(p.directory, m.fromNode, p.fileName, error);
}

uint64_t DataStore::usedLocked(bool rescan) {
    namespace fs = std::filesystem;
    if (used_ && !rescan)
        return *used_;
    uint64_t total = 0;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root_, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        std::error_code e2;
        if (it->is_regular_file(e2) && !it->is_symlink(e2))
            total += it->file_size(e2);
    }
    used_ = total;
    return total;
}

bool DataStore::write(const std::string& path, const std::string& data, Mode mode, std::string* error) {
    namespace fs = std::filesystem;
    std::lock_guard lock(mu_);
    std::error_code ec;
    uint64_t before = 0;
    if (struct stat st{}; ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode))
        before = static_cast<uint64_t>(st.st_size);
    const uint64_t after = mode == Mode::Append ? before + data.size() : data.size();
    if (after > quota_.perFile) {
        *error = "write " + path + ": " + std::to_string(data.size()) + " bytes would make the file " +
                 std::to_string(after) + " bytes, over data_file_max (" + std::to_string(quota_.perFile) +
                 " bytes); nothing written";
        return false;
    }
    if (after > before) {
        const uint64_t grow = after - before;
        // Files removed by hand since the last walk give their room back.
        if (usedLocked(false) + grow > quota_.total && usedLocked(true) + grow > quota_.total) {
            *error = "write " + path + ": " + std::to_string(grow) + " more bytes would take " + root_ +
                     " over data_folder_quota (" + std::to_string(quota_.total) + " bytes, " +
                     std::to_string(*used_) + " used); nothing written";
            return false;
        }
    }
    fs::path dir = fs::path(path).parent_path();
    fs::create_directories(dir, ec);
    if (ec) {
        *error = "mkdir " + dir.string() + ": " + ec.message();
        return false;
    }
    // Steward's modes: 0700 folders, 0600 appended files, 0755 truncated ones.
    for (fs::path d = dir; d.string().size() > root_.size(); d = d.parent_path())
        fs::permissions(d, fs::perms::owner_all, fs::perm_options::replace, ec);
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (mode == Mode::Append ? O_APPEND | O_SYNC : O_TRUNC);
    int fd = ::open(path.c_str(), flags, mode == Mode::Append ? 0600 : 0755);
    if (fd < 0) {
        *error = "open " + path + ": " + scopevisor::errnoText(errno);
        return false;
    }
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *error = "write " + path + ": " + scopevisor::errnoText(errno);
            ::close(fd);
            return false;
        }
        off += static_cast<size_t>(n);
    }
    ::close(fd);
    if (used_)
        *used_ = *used_ + after - std::min(before, *used_);
    return true;
}

} // namespace steward
