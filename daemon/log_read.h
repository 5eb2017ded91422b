// SPDX-License-Identifier: LGPL-2.1-or-later
//
// supervisord's byte readers of a log (docs/protocols/xmlrpc.md §4.1 and
// §4.2), over anything that has absolutely addressed bytes: a program's
// LogBuffer or a log file.
//
// Bytes before begin() are forgotten (a LogBuffer drops its oldest lines).
// A read that asks for forgotten bytes gets the bytes that are still held,
// starting at begin(), with at most the requested length; LogBytes::overflow
// is then true, so a caller that can say so knows bytes were skipped. For a
// file begin() is 0 and the results are exactly supervisord's.
#pragma once

#include <cstdint>
#include <string>

#include "scopevisor/control.h"

namespace scopevisor {

class LogBuffer;

// A sized, absolutely addressed byte source: [begin(), end()) is readable.
class ByteSource {
public:
    virtual ~ByteSource() = default;
    virtual uint64_t begin() const = 0;
    virtual uint64_t end() const = 0; // "the file size"
    // Bytes [offset, offset + length); callers keep the range inside
    // [begin(), end()). An I/O error gives ErrorCode::Failed.
    virtual Result<std::string> read(uint64_t offset, uint64_t length) const = 0;
};

// The byte view of one LogBuffer stream. Refers to the buffer; use it on the
// thread that owns the buffer and before the next append.
class BufferByteSource final : public ByteSource {
public:
    explicit BufferByteSource(const LogBuffer& b) noexcept : b_(b) {}
    uint64_t begin() const override;
    uint64_t end() const override;
    Result<std::string> read(uint64_t offset, uint64_t length) const override;

private:
    const LogBuffer& b_;
};

// An in-memory string at offset 0 (the daemon's own log, tests).
class StringByteSource final : public ByteSource {
public:
    explicit StringByteSource(std::string s) noexcept : s_(std::move(s)) {}
    uint64_t begin() const override { return 0; }
    uint64_t end() const override { return s_.size(); }
    Result<std::string> read(uint64_t offset, uint64_t length) const override;

private:
    std::string s_;
};

// A log file opened for one read, as supervisord does (the file is opened
// fresh for every call; its size is taken once, at open).
class FileByteSource final : public ByteSource {
public:
    // ErrorCode::NoFile if the file does not exist, Failed on other errors.
    static Result<FileByteSource> open(const std::string& path);
    FileByteSource(FileByteSource&& o) noexcept;
    FileByteSource& operator=(FileByteSource&& o) noexcept;
    FileByteSource(const FileByteSource&) = delete;
    FileByteSource& operator=(const FileByteSource&) = delete;
    ~FileByteSource() override;

    uint64_t begin() const override { return 0; }
    uint64_t end() const override { return size_; }
    Result<std::string> read(uint64_t offset, uint64_t length) const override;

private:
    FileByteSource(int fd, uint64_t size, std::string path) noexcept
        : fd_(fd), size_(size), path_(std::move(path)) {}
    int fd_ = -1;
    uint64_t size_ = 0;
    std::string path_;
};

// readProcessStdoutLog(offset, length), docs/protocols/xmlrpc.md §4.1:
//   offset < 0, length == 0: the last -offset bytes (all if fewer);
//   offset < 0, length != 0 or offset >= 0, length < 0: ErrorCode::BadArguments;
//   offset >= 0, length == 0: from offset to the end;
//   offset >= 0, length > 0: up to length bytes from offset;
//   offset at or beyond the end: "".
// LogBytes::end is src.end(). Read errors come back as ErrorCode::Failed.
Result<LogBytes> readLogBytes(const ByteSource& src, int64_t offset, int64_t length);

// tailProcessStdoutLog(offset, length), docs/protocols/xmlrpc.md §4.2: supervisord's tailFile
// algorithm step by step; the returned end is always src.end(), overflow
// says whether bytes between `offset` and the returned ones were skipped.
// A read error gives {"", max(offset, 0), false}, as supervisord.
LogBytes tailLogBytes(const ByteSource& src, int64_t offset, int64_t length);

// The same two over a log file, with supervisord's handling of a missing
// file: readLogFile fails with ErrorCode::NoFile (NO_FILE), tailLogFile
// answers {"", 0, false}. An empty path means "no log file" (NONE).
Result<LogBytes> readLogFile(const std::string& path, int64_t offset, int64_t length);
LogBytes tailLogFile(const std::string& path, int64_t offset, int64_t length);

} // namespace scopevisor
