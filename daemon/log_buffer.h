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
//
// Details of the bounds:
// - The byte bound is strict: bytesEnd() - bytesBegin() <= maxBytes(), and
//   the held bytes are exactly the held lines plus the unterminated tail.
//   A line whose text exceeds kMaxLineBytes is cut there (backed off to a
//   UTF-8 character boundary when the cut would fall inside one), so with
//   maxBytes > kMaxLineBytes every line fits; with a smaller maxBytes a line
//   that cannot fit is numbered but not held, and only the newest maxBytes
//   bytes of the tail are.
// - maxLines == 0 or maxBytes == 0 hold no lines; numbering, seqs and
//   offsets still advance.
// - Line text is returned without its '\n'; a '\r' before it is kept (the
//   bytes are the program's).
// - The storage is allocated on the first byte and grows by doubling, so an
//   idle program costs only the object itself.
#pragma once

#include <cstdint>
#include <memory>
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
    // number of lines completed. With `texts`, the text of each completed
    // line (without its '\n') is appended to it: views into `data`, except
    // for a line begun by an earlier append, whose text is put together in
    // `joined[0]` or `joined[1]` (so it is there even when the bounds do not
    // hold the line).
    size_t append(std::string_view data, uint64_t& nextSeq, std::vector<std::string_view>* texts = nullptr,
                  std::string* joined = nullptr);
    // Turn a pending partial line into a line (program exited). Returns 1 if
    // a line was completed; its text goes to `texts` (kept in `joined`).
    size_t flush(uint64_t& nextSeq, std::vector<std::string_view>* texts = nullptr, std::string* joined = nullptr);

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

    // Program-wide number of the newest line this buffer no longer holds
    // (dropped by a bound, cleared, or never held); 0 if none. Seqs above
    // it that belong to this stream are all held, which is what makes the
    // merged view gapless (see ProgramLog::firstSeq()).
    uint64_t droppedSeq() const noexcept { return droppedSeq_; }

private:
    friend class ProgramLog;

    // One held line: its absolute start offset and its program-wide seq. The
    // line ends where the next one starts (the newest at pendingStart_).
    struct LineRec {
        uint64_t start;
        uint64_t seq;
    };

    template <bool kTexts>
    size_t appendLines(std::string_view data, uint64_t& nextSeq, std::vector<std::string_view>* texts,
                       std::string* joined);
    void completeLine(uint64_t start, uint64_t& nextSeq);
    void popLine() noexcept;
    void growLines();
    void trim();
    void storeBytes(uint64_t chunkBase, const char* data, size_t n);
    void growBytes(uint64_t need, uint64_t keepEnd);
    void copyIn(uint64_t offset, const char* src, size_t n) noexcept;
    void copyOut(uint64_t offset, size_t n, char* dst) const noexcept;
    size_t lineIndex(uint64_t number) const noexcept; // ring slot of a held line
    uint64_t lineEnd(uint64_t number) const noexcept;  // absolute end offset (incl. '\n')
    uint64_t splitPoint(uint64_t lineStart, uint64_t chunkBase, const char* data) const noexcept;
    void releaseMemory() noexcept;

    uint64_t maxLines_;
    uint64_t maxBytes_;

    // Byte ring: the byte at absolute offset o (begin_ <= o < end_) lives at
    // bytes_[o % cap_]. The first mirror_ slots are copied again after slot
    // cap_ - 1, so any held line (at most kMaxLineBytes + 1 bytes) is
    // contiguous in memory and line() can return a view without copying.
    // Allocated on the first byte and grown by doubling up to maxBytes_.
    std::unique_ptr<char[]> bytes_;
    size_t cap_ = 0;
    size_t mirror_ = 0;
    uint64_t begin_ = 0;        // oldest byte held
    uint64_t end_ = 0;          // bytes ever appended
    uint64_t pendingStart_ = 0; // start of the unterminated tail; == end_ if none

    // Line ring: lines_[(head_ + i) % lineCap_] is the i-th oldest held line.
    std::unique_ptr<LineRec[]> lines_;
    size_t lineCap_ = 0;
    size_t head_ = 0;
    size_t count_ = 0;
    uint64_t firstNo_ = 1; // number of the oldest held line (of the next one when none is held)
    uint64_t droppedSeq_ = 0;
};

class ProgramLog {
public:
    ProgramLog(uint64_t maxLines, uint64_t maxBytes);

    // The lines one append or flush completed, numbered as the buffer
    // numbered them: line `firstLine + i` of its stream, `firstSeq + i` of
    // the program (one stream appends at a time, so both run without gaps).
    // The texts are valid until the next append, flush or takePending of any
    // ProgramLog on this thread: they live in one scratch per thread, so an
    // idle program does not pay for them (the engine publishes each read's
    // lines before it reads again).
    struct NewLines {
        uint64_t firstLine = 0;
        uint64_t firstSeq = 0;
        std::vector<std::string_view> texts;
        size_t size() const noexcept { return texts.size(); }
    };

    // The one place program output is split into lines: the journal and
    // every listener get these lines (docs/architecture.md §4).
    // `withTexts` false: numbers only, for an owner nobody listens to (the
    // texts cost a store per line).
    const NewLines& append(bool isStderr, std::string_view data, bool withTexts = true);
    void flush();                          // both streams (the program exited)
    const NewLines& flush(bool isStderr); // one stream (its pipe reached EOF)
    // The unterminated line of a stream as it stands, for the journal when a
    // run is over but a descendant still holds the pipe (no EOF yet): one
    // unnumbered line (firstLine 0) of the bytes not given out so before.
    // The buffer still waits for the newline; the line that ends it then
    // gives out only the rest, so no byte reaches a listener twice.
    const NewLines& takePending(bool isStderr);

    LogBuffer& stdoutBuf() noexcept { return out_; }
    LogBuffer& stderrBuf() noexcept { return err_; }
    const LogBuffer& stdoutBuf() const noexcept { return out_; }
    const LogBuffer& stderrBuf() const noexcept { return err_; }

    struct AllLines {
        uint64_t first = 0, last = 0; // seq numbers of the returned lines
        std::vector<std::string> lines;
        std::vector<bool> isStderr;
    };
    // Merged view by program-wide sequence number: up to `max` lines with
    // seq >= firstSeq (clamped to firstSeq()), in seq order.
    AllLines allLines(uint64_t firstSeq, size_t max) const;
    // Oldest seq of the merged view, 0 if none. Each stream keeps its own
    // newest lines, so the older end of the union can have holes (stdout's
    // old lines gone, stderr's still there); the merged view starts above
    // the newest line either stream has dropped, so every seq in
    // [firstSeq(), lastSeq()] is held and the "all" numbering has no gaps.
    uint64_t firstSeq() const noexcept;
    uint64_t lastSeq() const noexcept;  // newest seq held, 0 if none
    uint64_t nextSeq() const noexcept { return nextSeq_; }
    size_t memoryBytes() const noexcept { return out_.memoryBytes() + err_.memoryBytes(); }

    void clear();
    // After a daemon restart: the next completed line (either stream) gets
    // `nextSeq`. Call on empty buffers, with LogBuffer::resume for each stream.
    void resume(uint64_t nextSeq);

private:
    static NewLines& startLines(const LogBuffer& b, uint64_t nextSeq);
    const NewLines& dropGivenOut(bool isStderr, NewLines& n);

    LogBuffer out_, err_;
    uint64_t nextSeq_ = 1;
    // After takePending: bytes of each stream's pending line given out
    // already (a pending line is at most kMaxLineBytes).
    uint32_t givenOut_[2] = {0, 0};
};

} // namespace scopevisor
