// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The per-program log buffer.
//
// One LogBuffer holds one stream (stdout or stderr) of one program: a byte
// ring with the start offset of every line beside it, so the same memory
// answers line-numbered reads (D-Bus, Khanat: lines numbered from 1, no gaps,
// across restarts of the program) and byte-offset reads (supervisord's
// readProcessStdoutLog/tailProcessStdoutLog, where offsets count every byte
// the stream ever produced). The buffer is bounded by lines and by bytes; the
// oldest lines go first. A line is complete at its '\n'; bytes after the last
// '\n' are visible to byte readers at once and become a line when the newline
// comes (or when flush() is called, at the program's exit).
//
// ProgramLog pairs the two streams and gives every line a program-wide
// sequence number too, which is the numbering of the merged "all" view.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace scopevisor {

class LogBuffer {
public:
    // Lines longer than this are split (the rest continues as a new line).
    static constexpr size_t kMaxLineBytes = 64 * 1024;

    LogBuffer(uint64_t maxLines, uint64_t maxBytes);

    // Append raw bytes. Each completed line gets the next stream line number
    // and, via `nextSeq`, the next program-wide sequence number. Returns the
    // number of lines completed.
    size_t append(std::string_view data, uint64_t& nextSeq);
    // Turn a pending partial line into a line (program exited). Returns 1 if
    // a line was completed.
    size_t flush(uint64_t& nextSeq);

    // Line numbers held: [firstLine(), lastLine()]; both 0 when no line is held.
    uint64_t firstLine() const noexcept;
    uint64_t lastLine() const noexcept;
    // Number that the next completed line will get (lastLine()+1 once any line exists).
    uint64_t nextLine() const noexcept;
    uint64_t lineCount() const noexcept;
    // Up to `max` lines starting at `first` (clamped to what is held), without '\n'.
    std::vector<std::string> lines(uint64_t first, size_t max) const;
    std::string_view line(uint64_t number) const; // empty if not held; valid until the next append
    uint64_t seqOf(uint64_t number) const;        // program-wide number of a held line
    // The held line with the smallest seq >= `seq`; 0 if none.
    uint64_t lineAtOrAfterSeq(uint64_t seq) const;

    // Byte view. Offsets are absolute: bytesEnd() is the number of bytes ever
    // appended; bytesBegin() the offset of the oldest byte still held.
    uint64_t bytesBegin() const noexcept;
    uint64_t bytesEnd() const noexcept;
    // Bytes [offset, offset+length) clamped to what is held.
    std::string bytes(uint64_t offset, uint64_t length) const;

    // Forget everything held (supervisord's clearProcessLogs). Numbering and
    // offsets continue: the next line gets nextLine(), bytesEnd() is kept.
    void clear();

    // Restore numbering after a daemon restart: the next line is `nextLine`
    // and the stream's size is `bytesEnd`. Only valid on an empty buffer.
    void resume(uint64_t nextLine, uint64_t bytesEnd);

    uint64_t maxLines() const noexcept { return maxLines_; }
    uint64_t maxBytes() const noexcept { return maxBytes_; }
    size_t memoryBytes() const noexcept; // approximate heap use

private:
    void trim();

    uint64_t maxLines_;
    uint64_t maxBytes_;
    // Implementation-defined storage (see log_buffer.cpp).
    std::string data_;
    uint64_t base_ = 0;
    std::deque<uint64_t> starts_;
    std::deque<uint64_t> seqs_;
    uint64_t firstNo_ = 1;
    uint64_t pendingStart_ = 0;
};

class ProgramLog {
public:
    ProgramLog(uint64_t maxLines, uint64_t maxBytes);

    size_t append(bool isStderr, std::string_view data);
    void flush();

    LogBuffer& stdoutBuf() noexcept { return out_; }
    LogBuffer& stderrBuf() noexcept { return err_; }
    const LogBuffer& stdoutBuf() const noexcept { return out_; }
    const LogBuffer& stderrBuf() const noexcept { return err_; }

    struct AllLines {
        uint64_t first = 0, last = 0; // seq numbers of the returned lines
        std::vector<std::string> lines;
        std::vector<bool> isStderr;
    };
    // Merged view by program-wide sequence number.
    AllLines allLines(uint64_t firstSeq, size_t max) const;
    uint64_t firstSeq() const noexcept; // oldest seq held, 0 if none
    uint64_t lastSeq() const noexcept;  // newest seq held, 0 if none
    uint64_t nextSeq() const noexcept { return nextSeq_; }

    void clear();
    void resume(uint64_t nextSeq) { nextSeq_ = nextSeq; }

private:
    LogBuffer out_, err_;
    uint64_t nextSeq_ = 1;
};

} // namespace scopevisor
