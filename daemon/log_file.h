// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A program's log file (stdout_logfile=, stderr_logfile=), written raw and
// rotated like supervisord's: `f` -> `f.1` -> ... -> `f.<backups>`.
//
// Rotation. A chunk that would make the file larger than maxBytes is written
// up to its last newline that still fits, then the files are rotated and the
// rest goes into the fresh `f` (repeated as often as needed). So no file
// exceeds maxBytes and lines are only split across files when a single line
// is longer than maxBytes (or when the previous chunk ended in the middle of
// a line). supervisord instead writes the whole chunk and rotates after the
// write once the size has reached maxBytes, so its files overshoot by up to
// one read; the file names, their order and the rotation trigger are the
// same, only the split point differs. maxBytes 0 never rotates; backups 0
// truncates `f` instead of renaming it.
//
// Writes go straight to write(2) with O_APPEND, one call per chunk: the data
// is on disk (in the page cache) as soon as write() returns, and nothing is
// done per line. The size is tracked, and re-read with fstat() before a
// rotation so that a file truncated behind our back (logrotate's
// copytruncate) is not rotated early.
//
// Only regular files rotate: `stdout_logfile=/dev/stdout` (a common setup in
// containers) is written as it is, whatever maxBytes says; supervisord would
// try to rename /dev/stdout there. Other paths are never followed through a
// symlink and must be regular files or character devices (open()).
//
// Errors (disk full, directory gone) never reach the program: the bytes are
// counted in droppedBytes(), the errno is kept in lastError(), and a closed
// file is reopened at the next write. The journal keeps the output anyway.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace scopevisor {

class LogFile {
public:
    LogFile(std::string path, uint64_t maxBytes, int backups);
    ~LogFile();
    LogFile(const LogFile&) = delete;
    LogFile& operator=(const LogFile&) = delete;

    // Open (create if missing, mode 0640 less the umask) for appending.
    // True if already open. Refused, with *err naming the path and why: a
    // symlink at the path (O_NOFOLLOW), and anything but a regular file or
    // a character device (a FIFO never blocks the caller: it is opened
    // non-blocking and refused). /dev/stdout, /dev/stderr, /dev/fd/N and
    // /proc/self/fd/N are the daemon's own streams: followed and accepted.
    bool open(std::string* err = nullptr);
    bool isOpen() const noexcept { return fd_ >= 0; }
    void close() noexcept;

    // Append raw bytes, rotating as described above. Not open: tries to open.
    void write(std::string_view data);

    // Close and open the path again (SIGUSR2, or after logrotate moved the
    // file away): later writes go to the file now at the path.
    bool reopen(std::string* err = nullptr);

    // supervisord's clearProcessLogs: delete `f` (the backups stay) and open
    // a fresh, empty `f`.
    bool clear(std::string* err = nullptr);
    // Delete `f` and every backup `f.1` ... `f.<backups>`, then open a fresh,
    // empty `f` if the file was open.
    bool removeAll(std::string* err = nullptr);

    // Rotate now (also what write() does when the file is full).
    bool rotate(std::string* err = nullptr);

    // New limits (config reload); they apply from the next write.
    void setLimits(uint64_t maxBytes, int backups) noexcept;

    uint64_t size() const noexcept { return size_; }
    const std::string& path() const noexcept { return path_; }
    uint64_t maxBytes() const noexcept { return maxBytes_; }
    int backups() const noexcept { return backups_; }
    std::string backupPath(int n) const; // "f.<n>"

    int lastError() const noexcept { return lastErrno_; } // errno of the last failure, 0 if none
    uint64_t droppedBytes() const noexcept { return dropped_; }

private:
    bool openFlags(int extraFlags, std::string* err);
    bool writeAll(const char* p, size_t n);
    bool fail(int e, const std::string& what, std::string* err);

    std::string path_;
    uint64_t maxBytes_;
    int backups_;
    int fd_ = -1;
    uint64_t size_ = 0;
    bool regular_ = true; // false for /dev/stdout, a FIFO, a tty: never rotated
    int lastErrno_ = 0;
    uint64_t dropped_ = 0;
};

} // namespace scopevisor
