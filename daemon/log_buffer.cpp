// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The per-program log buffer (see log_buffer.h for the model).
//
// append() is on the hot path of every program's output: a pipe read hands it
// up to 64 KiB at a time, possibly thousands of short lines. Per line it does
// one memchr and two stores into a preallocated ring; the bytes are copied
// once per chunk (and only those that will still be held after trimming).
// Nothing is allocated per line, and the rings only allocate when they grow.
#include "log_buffer.h"

#include <algorithm>
#include <cstring>

namespace scopevisor {

namespace {

// First allocation sizes: small, because a daemon may supervise a thousand
// programs that print a banner and then stay quiet.
constexpr size_t kMinByteCap = 256;
constexpr size_t kMinLineCap = 16;

constexpr bool isUtf8Continuation(unsigned char b) noexcept { return (b & 0xC0) == 0x80; }
constexpr bool isUtf8Lead(unsigned char b) noexcept { return (b & 0xC0) == 0xC0; }

} // namespace

LogBuffer::LogBuffer(uint64_t maxLines, uint64_t maxBytes) : maxLines_(maxLines), maxBytes_(maxBytes) {}

// ---------------------------------------------------------------------------
// Line ring

inline void LogBuffer::popLine() noexcept {
    droppedSeq_ = lines_[head_].seq;
    if (++head_ == lineCap_)
        head_ = 0;
    --count_;
    ++firstNo_;
}

void LogBuffer::growLines() {
    size_t newCap = std::max(kMinLineCap, lineCap_ * 2);
    if (newCap > maxLines_)
        newCap = static_cast<size_t>(maxLines_);
    auto fresh = std::make_unique_for_overwrite<LineRec[]>(newCap);
    for (size_t i = 0; i < count_; ++i) {
        size_t j = head_ + i;
        if (j >= lineCap_)
            j -= lineCap_;
        fresh[i] = lines_[j];
    }
    lines_ = std::move(fresh);
    lineCap_ = newCap;
    head_ = 0;
}

inline void LogBuffer::completeLine(uint64_t start, uint64_t& nextSeq) {
    const uint64_t seq = nextSeq++;
    if (count_ == lineCap_) {
        if (count_ >= maxLines_) {
            if (count_ == 0) { // maxLines_ == 0: numbered, never held
                droppedSeq_ = seq;
                ++firstNo_;
                return;
            }
            popLine();
        } else {
            growLines();
        }
    }
    size_t i = head_ + count_;
    if (i >= lineCap_)
        i -= lineCap_;
    lines_[i] = LineRec{start, seq};
    ++count_;
}

size_t LogBuffer::lineIndex(uint64_t number) const noexcept {
    size_t i = head_ + static_cast<size_t>(number - firstNo_);
    if (i >= lineCap_)
        i -= lineCap_;
    return i;
}

uint64_t LogBuffer::lineEnd(uint64_t number) const noexcept {
    // Lines are contiguous: each ends where the next begins, the newest where
    // the unterminated tail begins.
    if (number + 1 == firstNo_ + count_)
        return pendingStart_;
    return lines_[lineIndex(number + 1)].start;
}

// ---------------------------------------------------------------------------
// Byte ring

void LogBuffer::copyIn(uint64_t offset, const char* src, size_t n) noexcept {
    // n <= cap_: callers only store what is held.
    const size_t pos = static_cast<size_t>(offset % cap_);
    const size_t first = std::min(n, cap_ - pos);
    char* b = bytes_.get();
    std::memcpy(b + pos, src, first);
    if (pos < mirror_)
        std::memcpy(b + cap_ + pos, src, std::min(first, mirror_ - pos));
    if (n > first) {
        const size_t rest = n - first;
        std::memcpy(b, src + first, rest);
        std::memcpy(b + cap_, src + first, std::min(rest, mirror_));
    }
}

void LogBuffer::copyOut(uint64_t offset, size_t n, char* dst) const noexcept {
    const size_t pos = static_cast<size_t>(offset % cap_);
    const size_t first = std::min(n, cap_ - pos);
    std::memcpy(dst, bytes_.get() + pos, first);
    if (n > first)
        std::memcpy(dst + first, bytes_.get(), n - first);
}

void LogBuffer::growBytes(uint64_t need, uint64_t keepEnd) {
    // Called before a chunk's bytes are stored: the old ring's [begin_,
    // keepEnd) is still wanted and moves over. `need` <= maxBytes_ by
    // construction (trim() ran).
    size_t newCap = std::max(kMinByteCap, cap_ * 2);
    while (newCap < need)
        newCap *= 2;
    if (newCap > maxBytes_)
        newCap = static_cast<size_t>(maxBytes_);

    const std::unique_ptr<char[]> old = std::move(bytes_);
    const size_t oldCap = cap_;
    cap_ = newCap;
    mirror_ = std::min(newCap, kMaxLineBytes + 1);
    bytes_ = std::make_unique_for_overwrite<char[]>(cap_ + mirror_);
    if (oldCap && begin_ < keepEnd) {
        const uint64_t len = keepEnd - begin_;
        const size_t pos = static_cast<size_t>(begin_ % oldCap);
        const size_t first = static_cast<size_t>(std::min<uint64_t>(len, oldCap - pos));
        copyIn(begin_, old.get() + pos, first);
        if (len > first)
            copyIn(begin_ + first, old.get(), static_cast<size_t>(len - first));
    }
}

void LogBuffer::storeBytes(uint64_t chunkBase, const char* data, size_t n) {
    const uint64_t need = end_ - begin_;
    if (need == 0)
        return;
    if (need > cap_)
        growBytes(need, chunkBase);
    const uint64_t from = std::max(begin_, chunkBase);
    copyIn(from, data + (from - chunkBase), static_cast<size_t>(chunkBase + n - from));
}

void LogBuffer::releaseMemory() noexcept {
    bytes_.reset();
    cap_ = mirror_ = 0;
    lines_.reset();
    lineCap_ = head_ = count_ = 0;
}

// ---------------------------------------------------------------------------
// Appending

uint64_t LogBuffer::splitPoint(uint64_t lineStart, uint64_t chunkBase, const char* data) const noexcept {
    // Cut after kMaxLineBytes of text, but not inside a UTF-8 sequence, so
    // both halves stay valid text for readers that need it (D-Bus strings).
    // Bytes before this chunk are read from the ring, which append() has not
    // touched yet; bytes no longer held just stop the back-off.
    const uint64_t cut = lineStart + kMaxLineBytes;
    auto byteAt = [&](uint64_t o, unsigned char& b) {
        if (o >= chunkBase) {
            b = static_cast<unsigned char>(data[o - chunkBase]);
            return true;
        }
        if (cap_ == 0 || o < begin_)
            return false;
        b = static_cast<unsigned char>(bytes_[static_cast<size_t>(o % cap_)]);
        return true;
    };
    unsigned char b;
    if (!byteAt(cut, b) || !isUtf8Continuation(b))
        return cut;
    for (uint64_t k = 1; k <= 3 && cut - k > lineStart; ++k) {
        if (!byteAt(cut - k, b))
            break;
        if (isUtf8Lead(b))
            return cut - k;
        if (!isUtf8Continuation(b))
            break;
    }
    return cut;
}

size_t LogBuffer::append(std::string_view data, uint64_t& nextSeq, std::vector<std::string_view>* texts,
                         std::string* joined) {
    // Two copies of the loop: without texts (no listener wants lines) the
    // per-line work is what it was before lines were handed out.
    return texts ? appendLines<true>(data, nextSeq, texts, joined) : appendLines<false>(data, nextSeq, nullptr, nullptr);
}

template <bool kTexts>
size_t LogBuffer::appendLines(std::string_view data, uint64_t& nextSeq, std::vector<std::string_view>* texts,
                              std::string* joined) {
    if (data.empty())
        return 0;
    const char* p0 = data.data();
    const uint64_t base = end_; // absolute offset of data[0]
    const uint64_t stop = base + data.size();
    uint64_t pos = base;           // where the newline search resumes
    uint64_t ls = pendingStart_;   // start of the line being scanned
    size_t completed = 0;
    // The text of [start, end). A line that starts before this chunk has
    // its older part in the ring still (nothing is trimmed or overwritten
    // before the end of append). That is the pending line, and after a cut
    // backed off into the older bytes (splitPoint) the line after it too:
    // two at most, hence two strings.
    size_t joinedUsed = 0;
    auto emit = [&](uint64_t start, uint64_t end) {
        if constexpr (!kTexts)
            return;
        if (start >= base) {
            texts->emplace_back(p0 + (start - base), static_cast<size_t>(end - start));
            return;
        }
        std::string& j = joined[joinedUsed++];
        j = bytes(start, std::min(end, base) - start);
        if (end > base) // else a cut backed off into the earlier bytes
            j.append(p0, static_cast<size_t>(end - base));
        texts->emplace_back(j);
    };
    // Invariant: pos - ls <= kMaxLineBytes (a tail never exceeds it), so the
    // search window below is never empty.
    while (pos < stop) {
        // A line's text holds at most kMaxLineBytes, so its '\n' can be at
        // offset ls + kMaxLineBytes at the latest.
        const uint64_t limit = ls + kMaxLineBytes + 1;
        const uint64_t windowEnd = std::min(stop, limit);
        const char* from = p0 + (pos - base);
        const auto* nl = static_cast<const char*>(std::memchr(from, '\n', static_cast<size_t>(windowEnd - pos)));
        if (nl) {
            const uint64_t at = base + static_cast<uint64_t>(nl - p0);
            emit(ls, at);
            completeLine(ls, nextSeq);
            ++completed;
            ls = pos = at + 1;
        } else if (windowEnd == limit) {
            const uint64_t cut = splitPoint(ls, base, p0);
            emit(ls, cut);
            completeLine(ls, nextSeq);
            ++completed;
            ls = cut;
            pos = windowEnd; // [cut, windowEnd) has no '\n'
        } else {
            break;
        }
    }
    pendingStart_ = ls;
    end_ = stop;
    trim();
    storeBytes(base, p0, data.size());
    return completed;
}

size_t LogBuffer::flush(uint64_t& nextSeq, std::vector<std::string_view>* texts, std::string* joined) {
    if (pendingStart_ == end_)
        return 0;
    if (texts) {
        *joined = bytes(pendingStart_, end_ - pendingStart_);
        texts->emplace_back(*joined);
    }
    completeLine(pendingStart_, nextSeq);
    pendingStart_ = end_;
    trim();
    return 1;
}

void LogBuffer::trim() {
    // Lines are already bounded by maxLines_ (completeLine pops); here the
    // byte bound. Offsets only grow, so the oldest lines are the ones to go.
    while (count_ && end_ - lines_[head_].start > maxBytes_)
        popLine();
    if (count_)
        begin_ = lines_[head_].start;
    else
        begin_ = std::max(pendingStart_, end_ - std::min(end_, maxBytes_));
}

// ---------------------------------------------------------------------------
// Reading

uint64_t LogBuffer::firstLine() const noexcept { return count_ ? firstNo_ : 0; }
uint64_t LogBuffer::lastLine() const noexcept { return count_ ? firstNo_ + count_ - 1 : 0; }
uint64_t LogBuffer::nextLine() const noexcept { return firstNo_ + count_; }
uint64_t LogBuffer::lineCount() const noexcept { return count_; }

std::string_view LogBuffer::line(uint64_t number) const {
    if (count_ == 0 || number < firstNo_ || number >= firstNo_ + count_)
        return {};
    const uint64_t start = lines_[lineIndex(number)].start;
    size_t len = static_cast<size_t>(lineEnd(number) - start);
    // A held line is at most kMaxLineBytes + 1 <= cap_ + mirror_ - pos bytes,
    // so thanks to the mirror it is contiguous.
    const char* p = bytes_.get() + static_cast<size_t>(start % cap_);
    if (len && p[len - 1] == '\n')
        --len;
    return {p, len};
}

std::vector<std::string> LogBuffer::lines(uint64_t first, size_t max) const {
    std::vector<std::string> out;
    if (count_ == 0 || max == 0)
        return out;
    const uint64_t last = firstNo_ + count_ - 1;
    first = std::max(first, firstNo_);
    if (first > last)
        return out;
    const uint64_t n = std::min<uint64_t>(max, last - first + 1);
    out.reserve(static_cast<size_t>(n));
    for (uint64_t k = first; k < first + n; ++k)
        out.emplace_back(line(k));
    return out;
}

uint64_t LogBuffer::seqOf(uint64_t number) const {
    if (count_ == 0 || number < firstNo_ || number >= firstNo_ + count_)
        return 0;
    return lines_[lineIndex(number)].seq;
}

uint64_t LogBuffer::lineAtOrAfterSeq(uint64_t seq) const {
    // Seqs grow with line numbers: binary search over the held lines.
    size_t lo = 0, hi = count_;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        size_t i = head_ + mid;
        if (i >= lineCap_)
            i -= lineCap_;
        if (lines_[i].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < count_ ? firstNo_ + lo : 0;
}

uint64_t LogBuffer::bytesBegin() const noexcept { return begin_; }
uint64_t LogBuffer::bytesEnd() const noexcept { return end_; }

std::string LogBuffer::bytes(uint64_t offset, uint64_t length) const {
    offset = std::clamp(offset, begin_, end_);
    const uint64_t n = std::min(length, end_ - offset);
    std::string out;
    if (n == 0)
        return out;
    out.resize(static_cast<size_t>(n));
    copyOut(offset, static_cast<size_t>(n), out.data());
    return out;
}

size_t LogBuffer::memoryBytes() const noexcept {
    return cap_ + mirror_ + lineCap_ * sizeof(LineRec);
}

// ---------------------------------------------------------------------------
// Clearing and resuming

void LogBuffer::clear() {
    if (count_)
        droppedSeq_ = std::max(droppedSeq_, lines_[lineIndex(firstNo_ + count_ - 1)].seq);
    firstNo_ += count_;
    // The unterminated tail goes too: whatever the program writes next
    // starts a new line.
    pendingStart_ = begin_ = end_;
    // An emptied buffer gives its memory back; it grows again if needed.
    releaseMemory();
}

void LogBuffer::resume(uint64_t nextLine, uint64_t bytesEnd) {
    clear();
    firstNo_ = std::max<uint64_t>(nextLine, 1);
    pendingStart_ = begin_ = end_ = bytesEnd;
}

// ---------------------------------------------------------------------------
// ProgramLog

ProgramLog::ProgramLog(uint64_t maxLines, uint64_t maxBytes) : out_(maxLines, maxBytes), err_(maxLines, maxBytes) {}

namespace {

// The lines of the newest append or flush of any ProgramLog on this thread,
// and the texts of lines begun by an earlier read (LogBuffer::append).
struct Scratch {
    ProgramLog::NewLines lines;
    std::string joined[2];
};
thread_local Scratch scratch;

} // namespace

ProgramLog::NewLines& ProgramLog::startLines(const LogBuffer& b, uint64_t nextSeq) {
    NewLines& n = scratch.lines;
    n.firstLine = b.nextLine();
    n.firstSeq = nextSeq;
    n.texts.clear();
    return n;
}

const ProgramLog::NewLines& ProgramLog::dropGivenOut(bool isStderr, NewLines& n) {
    uint32_t& given = givenOut_[isStderr];
    if (given && !n.texts.empty()) {
        std::string_view& first = n.texts.front();
        first.remove_prefix(std::min<size_t>(given, first.size()));
        given = 0;
    }
    return n;
}

const ProgramLog::NewLines& ProgramLog::append(bool isStderr, std::string_view data, bool withTexts) {
    LogBuffer& b = isStderr ? err_ : out_;
    NewLines& n = startLines(b, nextSeq_);
    if (!withTexts) {
        b.append(data, nextSeq_);
        givenOut_[isStderr] = 0; // nobody was given anything either
        return n;
    }
    b.append(data, nextSeq_, &n.texts, scratch.joined);
    return dropGivenOut(isStderr, n);
}

void ProgramLog::flush() {
    out_.flush(nextSeq_);
    err_.flush(nextSeq_);
    givenOut_[0] = givenOut_[1] = 0;
}

const ProgramLog::NewLines& ProgramLog::flush(bool isStderr) {
    LogBuffer& b = isStderr ? err_ : out_;
    NewLines& n = startLines(b, nextSeq_);
    b.flush(nextSeq_, &n.texts, scratch.joined);
    return dropGivenOut(isStderr, n);
}

const ProgramLog::NewLines& ProgramLog::takePending(bool isStderr) {
    const LogBuffer& b = isStderr ? err_ : out_;
    NewLines& n = startLines(b, nextSeq_);
    n.firstLine = n.firstSeq = 0; // the buffer has not made it a line
    const uint64_t pending = b.bytesEnd() - b.pendingStart_;
    uint32_t& given = givenOut_[isStderr];
    if (pending > given) {
        scratch.joined[0] = b.bytes(b.pendingStart_ + given, pending - given);
        n.texts.emplace_back(scratch.joined[0]);
        given = static_cast<uint32_t>(pending);
    }
    return n;
}

uint64_t ProgramLog::firstSeq() const noexcept {
    const uint64_t floor = std::max(out_.droppedSeq_, err_.droppedSeq_);
    uint64_t best = 0;
    for (const LogBuffer* b : {&out_, &err_}) {
        const uint64_t n = b->lineAtOrAfterSeq(floor + 1);
        if (n) {
            const uint64_t s = b->seqOf(n);
            best = best ? std::min(best, s) : s;
        }
    }
    return best;
}

uint64_t ProgramLog::lastSeq() const noexcept {
    return std::max(out_.seqOf(out_.lastLine()), err_.seqOf(err_.lastLine()));
}

ProgramLog::AllLines ProgramLog::allLines(uint64_t firstSeq, size_t max) const {
    AllLines r;
    const uint64_t floor = std::max(out_.droppedSeq_, err_.droppedSeq_);
    const uint64_t from = std::max(firstSeq, floor + 1);
    uint64_t i = out_.lineAtOrAfterSeq(from);
    uint64_t j = err_.lineAtOrAfterSeq(from);
    const uint64_t iEnd = out_.nextLine(), jEnd = err_.nextLine();
    if (i == 0)
        i = iEnd;
    if (j == 0)
        j = jEnd;
    while (r.lines.size() < max && (i < iEnd || j < jEnd)) {
        const uint64_t si = i < iEnd ? out_.seqOf(i) : UINT64_MAX;
        const uint64_t sj = j < jEnd ? err_.seqOf(j) : UINT64_MAX;
        const bool fromErr = sj < si;
        const uint64_t s = fromErr ? sj : si;
        r.lines.emplace_back(fromErr ? err_.line(j++) : out_.line(i++));
        r.isStderr.push_back(fromErr);
        if (r.first == 0)
            r.first = s;
        r.last = s;
    }
    return r;
}

void ProgramLog::clear() {
    out_.clear();
    err_.clear();
    givenOut_[0] = givenOut_[1] = 0; // the pending lines went too
}

void ProgramLog::resume(uint64_t nextSeq) {
    nextSeq_ = std::max<uint64_t>(nextSeq, 1);
    // Everything numbered before belongs to the previous daemon.
    out_.droppedSeq_ = err_.droppedSeq_ = nextSeq_ - 1;
}

} // namespace scopevisor
