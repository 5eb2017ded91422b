// SPDX-License-Identifier: LGPL-2.1-or-later
#include "log_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace scopevisor {

LogFile::LogFile(std::string path, uint64_t maxBytes, int backups)
    : path_(std::move(path)), maxBytes_(maxBytes), backups_(std::max(backups, 0)) {}

LogFile::~LogFile() { close(); }

void LogFile::close() noexcept {
    if (fd_ >= 0)
        ::close(fd_);
    fd_ = -1;
}

bool LogFile::fail(int e, const std::string& what, std::string* err) {
    lastErrno_ = e;
    if (err)
        *err = what + ": " + std::strerror(e);
    return false;
}

namespace {

// The names of the daemon's own stdout and stderr: symlinks by nature
// (/dev/stdout -> /proc/self/fd/1), followed on purpose, and whatever they
// lead to (a pipe in a container, a terminal) is written as it is.
bool namesOwnStream(const std::string& p) {
    return p == "/dev/stdout" || p == "/dev/stderr" || p.rfind("/dev/fd/", 0) == 0 ||
           p.rfind("/proc/self/fd/", 0) == 0;
}

const char* kindOf(mode_t m) {
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISSOCK(m))
        return "a socket";
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISBLK(m))
        return "a block device";
    return "not a regular file";
}

} // namespace

bool LogFile::openFlags(int extraFlags, std::string* err) {
    close();
    // O_NOFOLLOW: a symlink planted at the name must not make the daemon
    // (root) append to, or with O_TRUNC empty, the file it points at.
    // O_NONBLOCK: opening a FIFO would otherwise wait for a reader, with the
    // engine's thread. 0640 less the umask: output is nobody else's
    // business (supervisord used 0666). O_APPEND so that a file truncated
    // by someone else is not refilled with a hole.
    const bool own = namesOwnStream(path_);
    const int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (own ? 0 : O_NOFOLLOW);
    const int fd = ::open(path_.c_str(), flags | extraFlags, 0640);
    if (fd < 0) {
        const int e = errno;
        struct stat st;
        if (e == ELOOP || e == ENXIO) {
            // ENXIO: a FIFO without a reader (or a socket). Say what is there.
            lastErrno_ = e;
            if (err && e == ELOOP)
                *err = path_ + ": is a symbolic link, not followed for a log file";
            else if (err && ::lstat(path_.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
                *err = path_ + ": is " + std::string(kindOf(st.st_mode)) + ", not a file to write a log to";
            else if (err)
                *err = path_ + ": " + std::strerror(e);
            return false;
        }
        return fail(e, path_, err);
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
        const int e = errno;
        ::close(fd);
        return fail(e, path_, err);
    }
    // A regular file, or a character device (/dev/null, a terminal: only
    // root makes those). Anything else only through the daemon's own
    // stdout/stderr.
    if (!own && !S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) {
        ::close(fd);
        lastErrno_ = EINVAL;
        if (err)
            *err = path_ + ": is " + std::string(kindOf(st.st_mode)) + ", not a file to write a log to";
        return false;
    }
    // Blocking again: a write to a terminal or a pipe waits rather than
    // drops, as before (regular files ignore the flag anyway).
    const int fl = ::fcntl(fd, F_GETFL);
    if (fl >= 0)
        ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    regular_ = S_ISREG(st.st_mode);
    size_ = regular_ ? static_cast<uint64_t>(st.st_size) : 0;
    fd_ = fd;
    return true;
}

bool LogFile::open(std::string* err) {
    if (fd_ >= 0)
        return true;
    return openFlags(0, err);
}

bool LogFile::reopen(std::string* err) { return openFlags(0, err); }

std::string LogFile::backupPath(int n) const { return path_ + "." + std::to_string(n); }

bool LogFile::writeAll(const char* p, size_t n) {
    while (n) {
        const ssize_t w = ::write(fd_, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            lastErrno_ = errno;
            dropped_ += n;
            return false;
        }
        p += w;
        n -= static_cast<size_t>(w);
        size_ += static_cast<uint64_t>(w);
    }
    return true;
}

void LogFile::write(std::string_view data) {
    if (data.empty())
        return;
    if (fd_ < 0 && !open()) {
        dropped_ += data.size();
        return;
    }
    const char* p = data.data();
    size_t n = data.size();
    for (;;) {
        if (maxBytes_ == 0 || !regular_ || size_ + n <= maxBytes_) {
            writeAll(p, n);
            return;
        }
        // Before rotating, make sure the file really is that full: someone
        // may have truncated it (copytruncate) since we last looked.
        struct stat st;
        if (::fstat(fd_, &st) == 0)
            size_ = static_cast<uint64_t>(st.st_size);
        if (size_ + n <= maxBytes_) {
            writeAll(p, n);
            return;
        }
        const uint64_t room = size_ < maxBytes_ ? maxBytes_ - size_ : 0;
        size_t take = 0;
        if (room) {
            // Rotation is rare: one memrchr per rotation is all the line
            // awareness there is.
            const void* nl = ::memrchr(p, '\n', static_cast<size_t>(std::min<uint64_t>(room, n)));
            if (nl)
                take = static_cast<size_t>(static_cast<const char*>(nl) - p) + 1;
            else if (size_ == 0)
                take = static_cast<size_t>(room); // one line longer than maxBytes: split it
        }
        if (take) {
            if (!writeAll(p, take)) {
                dropped_ += n - take;
                return;
            }
            p += take;
            n -= take;
        }
        if (!rotate()) {
            // Not rotated but still open (rename refused): keep appending
            // rather than lose output; the file grows past maxBytes.
            if (fd_ >= 0)
                writeAll(p, n);
            else
                dropped_ += n;
            return;
        }
        // n > 0 here: the chunk did not fit, so something is left.
    }
}

bool LogFile::rotate(std::string* err) {
    if (!regular_)
        return true; // nothing to rename: a device or a pipe
    close();
    if (backups_ > 0) {
        for (int i = backups_ - 1; i >= 1; --i) {
            // A missing backup is normal (not that many rotations yet).
            if (::rename(backupPath(i).c_str(), backupPath(i + 1).c_str()) < 0 && errno != ENOENT)
                lastErrno_ = errno;
        }
        if (::rename(path_.c_str(), backupPath(1).c_str()) < 0 && errno != ENOENT) {
            // Truncating a file we could not move would lose it: keep it.
            const int e = errno;
            std::string ignored;
            openFlags(0, &ignored);
            return fail(e, "rename " + path_ + " to " + backupPath(1), err);
        }
        return openFlags(O_TRUNC, err);
    }
    return openFlags(O_TRUNC, err);
}

namespace {

// Only regular files are deleted: unlinking /dev/stdout (a symlink, as root)
// would break the whole system's notion of it. lstat: a symlink planted at
// the name is left alone too, and the name stays unusable (O_NOFOLLOW).
bool deletable(const std::string& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) < 0 || S_ISREG(st.st_mode);
}

} // namespace

bool LogFile::clear(std::string* err) {
    close();
    bool ok = true;
    if (deletable(path_) && ::unlink(path_.c_str()) < 0 && errno != ENOENT)
        ok = fail(errno, "unlink " + path_, err);
    // Reopen even if the unlink failed: output must keep going somewhere.
    std::string openErr;
    if (!openFlags(0, &openErr)) {
        if (err && ok)
            *err = openErr;
        ok = false;
    }
    return ok;
}

bool LogFile::removeAll(std::string* err) {
    const bool wasOpen = fd_ >= 0;
    close();
    bool ok = true;
    for (int i = 0; i <= backups_; ++i) {
        const std::string p = i == 0 ? path_ : backupPath(i);
        if (!deletable(p))
            continue;
        if (::unlink(p.c_str()) < 0 && errno != ENOENT && ok)
            ok = fail(errno, "unlink " + p, err);
    }
    if (wasOpen) {
        std::string openErr;
        if (!openFlags(0, &openErr)) {
            if (err && ok)
                *err = openErr;
            ok = false;
        }
    } else {
        size_ = 0;
    }
    return ok;
}

void LogFile::setLimits(uint64_t maxBytes, int backups) noexcept {
    maxBytes_ = maxBytes;
    backups_ = std::max(backups, 0);
}

} // namespace scopevisor
