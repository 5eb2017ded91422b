// SPDX-License-Identifier: LGPL-2.1-or-later
#include "log_read.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log_buffer.h"

namespace scopevisor {

namespace {

// Python's integers do not overflow; int64 sums of client-supplied values
// can. Saturating keeps every comparison of the algorithm right (see
// tailLogBytes).
int64_t satAdd(int64_t a, int64_t b) noexcept {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
    return r;
}

Error failed(std::string msg) { return Error{ErrorCode::Failed, std::move(msg)}; }

} // namespace

// ---------------------------------------------------------------------------
// Sources

uint64_t BufferByteSource::begin() const { return b_.bytesBegin(); }
uint64_t BufferByteSource::end() const { return b_.bytesEnd(); }

Result<std::string> BufferByteSource::read(uint64_t offset, uint64_t length) const {
    return b_.bytes(offset, length);
}

Result<std::string> StringByteSource::read(uint64_t offset, uint64_t length) const {
    if (offset >= s_.size())
        return std::string();
    return s_.substr(static_cast<size_t>(offset), static_cast<size_t>(std::min<uint64_t>(length, s_.size() - offset)));
}

Result<FileByteSource> FileByteSource::open(const std::string& path) {
    if (path.empty())
        return Error{ErrorCode::NoFile, "no log file"};
    // O_NONBLOCK: opening a FIFO without a writer must not block the engine.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return Error{ErrorCode::NoFile, path};
        return failed(path + ": " + std::strerror(errno));
    }
    struct stat st;
    if (::fstat(fd, &st) < 0) {
        const int e = errno;
        ::close(fd);
        return failed(path + ": " + std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        // A pipe or a terminal (stdout_logfile=/dev/stdout) has no size and
        // reading it would steal or wait for data; supervisord fails on
        // these too (no seek on a pipe, IOError on a directory).
        ::close(fd);
        return failed(path + ": not a regular file");
    }
    return FileByteSource(fd, static_cast<uint64_t>(st.st_size), path);
}

FileByteSource::FileByteSource(FileByteSource&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), size_(o.size_), path_(std::move(o.path_)) {}

FileByteSource& FileByteSource::operator=(FileByteSource&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = std::exchange(o.fd_, -1);
        size_ = o.size_;
        path_ = std::move(o.path_);
    }
    return *this;
}

FileByteSource::~FileByteSource() {
    if (fd_ >= 0)
        ::close(fd_);
}

Result<std::string> FileByteSource::read(uint64_t offset, uint64_t length) const {
    std::string out;
    if (offset >= size_ || length == 0)
        return out;
    // The size was taken at open; the file may have shrunk since (then the
    // read is short) or grown (the bytes beyond size_ are not asked for).
    out.resize(static_cast<size_t>(std::min(length, size_ - offset)));
    size_t got = 0;
    while (got < out.size()) {
        const ssize_t r = ::pread(fd_, out.data() + got, out.size() - got, static_cast<off_t>(offset + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return failed(path_ + ": " + std::strerror(errno));
        }
        if (r == 0)
            break;
        got += static_cast<size_t>(r);
    }
    out.resize(got);
    return out;
}

// ---------------------------------------------------------------------------
// supervisord's readers

Result<LogBytes> readLogBytes(const ByteSource& src, int64_t offset, int64_t length) {
    const uint64_t begin = src.begin();
    const uint64_t end = src.end();
    uint64_t start, count;
    if (offset < 0) {
        if (length != 0)
            return Error{ErrorCode::BadArguments, "a negative offset (read from the end) requires length 0"};
        const uint64_t back = 0 - static_cast<uint64_t>(offset); // |offset|, also for INT64_MIN
        start = end > back ? end - back : 0;
        count = end - start;
    } else {
        if (length < 0)
            return Error{ErrorCode::BadArguments, "length must not be negative"};
        start = static_cast<uint64_t>(offset);
        count = length == 0 ? std::numeric_limits<uint64_t>::max() : static_cast<uint64_t>(length);
    }
    LogBytes r;
    r.end = end;
    if (start < begin) {
        // Forgotten bytes: serve what is still held, from its beginning.
        r.overflow = true;
        start = begin;
    }
    if (start >= end)
        return r;
    auto data = src.read(start, std::min(count, end - start));
    if (!data)
        return data.error();
    r.data = std::move(data.value());
    return r;
}

LogBytes tailLogBytes(const ByteSource& src, int64_t offset, int64_t length) {
    const int64_t requested = offset;
    const int64_t sz = static_cast<int64_t>(std::min<uint64_t>(src.end(), std::numeric_limits<int64_t>::max()));
    // supervisord's options.tailFile, step by step.
    bool overflow = false;
    if (sz > satAdd(offset, length)) {
        overflow = true;
        offset = sz - 1;
    }
    if (satAdd(offset, length) > sz) {
        if (offset > sz - 1)
            length = 0;
        // Here either length == 0 or 1 <= length: no overflow.
        offset = sz - length;
    }
    if (offset < 0)
        offset = 0;
    if (length < 0)
        length = 0;

    LogBytes r;
    r.end = static_cast<uint64_t>(sz);
    r.overflow = overflow;
    uint64_t from = static_cast<uint64_t>(offset);
    uint64_t to = std::min(static_cast<uint64_t>(satAdd(offset, length)), static_cast<uint64_t>(sz));
    const uint64_t begin = src.begin();
    if (static_cast<uint64_t>(std::max<int64_t>(requested, 0)) < begin)
        r.overflow = true; // some bytes from `requested` on are forgotten
    from = std::max(from, begin);
    if (length == 0 || from >= to)
        return r;
    auto data = src.read(from, to - from);
    if (!data)
        return LogBytes{"", static_cast<uint64_t>(std::max<int64_t>(requested, 0)), false};
    r.data = std::move(data.value());
    return r;
}

Result<LogBytes> readLogFile(const std::string& path, int64_t offset, int64_t length) {
    auto src = FileByteSource::open(path);
    if (!src)
        return src.error();
    return readLogBytes(src.value(), offset, length);
}

LogBytes tailLogFile(const std::string& path, int64_t offset, int64_t length) {
    auto src = FileByteSource::open(path);
    if (!src) {
        if (src.error().code == ErrorCode::NoFile)
            return LogBytes{};
        return LogBytes{"", static_cast<uint64_t>(std::max<int64_t>(offset, 0)), false};
    }
    return tailLogBytes(src.value(), offset, length);
}

} // namespace scopevisor
