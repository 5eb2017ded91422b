// SPDX-License-Identifier: LGPL-2.1-or-later
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "log_buffer.h"

using namespace scopevisor;

namespace {

constexpr size_t L = LogBuffer::kMaxLineBytes;

std::vector<std::string> held(const LogBuffer& b) { return b.lines(b.firstLine(), SIZE_MAX); }

std::vector<std::string> V(std::initializer_list<const char*> l) { return {l.begin(), l.end()}; }

} // namespace

TEST(LogBuffer, EmptyBufferHoldsNothingAndAllocatesNothing) {
    LogBuffer b(10000, 1 << 20);
    EXPECT_EQ(b.firstLine(), 0u);
    EXPECT_EQ(b.lastLine(), 0u);
    EXPECT_EQ(b.nextLine(), 1u);
    EXPECT_EQ(b.lineCount(), 0u);
    EXPECT_EQ(b.bytesBegin(), 0u);
    EXPECT_EQ(b.bytesEnd(), 0u);
    EXPECT_EQ(b.bytes(0, 100), "");
    EXPECT_EQ(b.line(1), "");
    EXPECT_TRUE(b.lines(0, 10).empty());
    EXPECT_EQ(b.memoryBytes(), 0u);
    uint64_t seq = 1;
    EXPECT_EQ(b.append("", seq), 0u);
    EXPECT_EQ(b.flush(seq), 0u);
    EXPECT_EQ(b.memoryBytes(), 0u);
    EXPECT_EQ(seq, 1u);
}

TEST(LogBuffer, NumbersLinesFromOne) {
    LogBuffer b(100, 4096);
    uint64_t seq = 1;
    EXPECT_EQ(b.append("a\nbb\n\nccc\n", seq), 4u);
    EXPECT_EQ(b.firstLine(), 1u);
    EXPECT_EQ(b.lastLine(), 4u);
    EXPECT_EQ(b.nextLine(), 5u);
    EXPECT_EQ(held(b), V({"a", "bb", "", "ccc"}));
    EXPECT_EQ(b.line(2), "bb");
    EXPECT_EQ(b.line(3), "");
    EXPECT_EQ(b.line(5), "");
    EXPECT_EQ(b.seqOf(1), 1u);
    EXPECT_EQ(b.seqOf(4), 4u);
    EXPECT_EQ(b.seqOf(5), 0u);
    EXPECT_EQ(seq, 5u);
    EXPECT_EQ(b.bytesEnd(), 10u);
    EXPECT_EQ(b.bytes(0, 100), "a\nbb\n\nccc\n");
    EXPECT_EQ(b.lines(2, 2), V({"bb", ""}));
    EXPECT_EQ(b.lines(0, 1), V({"a"})); // clamped to the oldest held
    EXPECT_TRUE(b.lines(9, 5).empty());
    EXPECT_TRUE(b.lines(1, 0).empty());
}

TEST(LogBuffer, KeepsCarriageReturns) {
    LogBuffer b(100, 4096);
    uint64_t seq = 1;
    b.append("dos\r\n", seq);
    EXPECT_EQ(b.line(1), "dos\r");
}

TEST(LogBuffer, PartialLineIsVisibleAsBytesButNotAsLine) {
    LogBuffer b(100, 4096);
    uint64_t seq = 1;
    EXPECT_EQ(b.append("hel", seq), 0u);
    EXPECT_EQ(b.lineCount(), 0u);
    EXPECT_EQ(b.bytesEnd(), 3u);
    EXPECT_EQ(b.bytes(0, 0xffff), "hel");
    EXPECT_EQ(b.append("lo\nwor", seq), 1u);
    EXPECT_EQ(held(b), V({"hello"}));
    EXPECT_EQ(b.bytes(0, 0xffff), "hello\nwor");
    EXPECT_EQ(b.append("ld", seq), 0u);
    EXPECT_EQ(b.flush(seq), 1u);
    EXPECT_EQ(held(b), V({"hello", "world"}));
    EXPECT_EQ(b.flush(seq), 0u);
    EXPECT_EQ(b.bytesEnd(), 11u);
    // After a flush the next bytes start a new line.
    b.append("!\n", seq);
    EXPECT_EQ(held(b), V({"hello", "world", "!"}));
    EXPECT_EQ(b.bytes(0, 0xffff), "hello\nworld!\n");
}

TEST(LogBuffer, ByteByByteAppends) {
    LogBuffer b(100, 4096);
    uint64_t seq = 1;
    const std::string text = "one\ntwo\nthree\n";
    for (char c : text)
        b.append(std::string_view(&c, 1), seq);
    EXPECT_EQ(held(b), V({"one", "two", "three"}));
}

TEST(LogBuffer, SplitsOverlongLines) {
    LogBuffer b(100, 4 << 20);
    uint64_t seq = 1;
    // Exactly kMaxLineBytes of text plus '\n': one line.
    EXPECT_EQ(b.append(std::string(L, 'a') + "\n", seq), 1u);
    EXPECT_EQ(b.line(1).size(), L);
    // One byte more: split after kMaxLineBytes.
    EXPECT_EQ(b.append(std::string(L + 1, 'b') + "\n", seq), 2u);
    EXPECT_EQ(b.line(2), std::string(L, 'b'));
    EXPECT_EQ(b.line(3), "b");
    // Two and a half lines' worth, fed in odd pieces.
    const std::string big = std::string(2 * L + 10, 'c');
    for (size_t i = 0; i < big.size(); i += 4999)
        b.append(std::string_view(big).substr(i, 4999), seq);
    EXPECT_EQ(b.lastLine(), 5u); // two cut lines; 10 bytes pending
    EXPECT_EQ(b.line(4), std::string(L, 'c'));
    EXPECT_EQ(b.line(5), std::string(L, 'c'));
    EXPECT_EQ(b.append("\n", seq), 1u);
    EXPECT_EQ(b.line(6), std::string(10, 'c'));
    // The bytes are all there, unchanged.
    EXPECT_EQ(b.bytesEnd(), (L + 1) + (L + 2) + (2 * L + 11));
    EXPECT_EQ(b.bytes(0, b.bytesEnd()), std::string(L, 'a') + "\n" + std::string(L + 1, 'b') + "\n" + big + "\n");
}

TEST(LogBuffer, SplitDoesNotCutUtf8Characters) {
    LogBuffer b(100, 4 << 20);
    uint64_t seq = 1;
    // "é" (C3 A9) straddles the cut: it moves to the next line whole.
    const std::string s = std::string(L - 1, 'a') + "\xC3\xA9" + "z\n";
    b.append(s, seq);
    EXPECT_EQ(b.line(1), std::string(L - 1, 'a'));
    EXPECT_EQ(b.line(2), "\xC3\xA9z");
    // Same with a 4-byte character whose lead byte came in an earlier append.
    const std::string t = std::string(L - 2, 'x') + "\xF0\x9F\x98\x80" + "\n";
    b.append(t.substr(0, L - 1), seq);
    b.append(t.substr(L - 1), seq);
    EXPECT_EQ(b.line(3), std::string(L - 2, 'x'));
    EXPECT_EQ(b.line(4), "\xF0\x9F\x98\x80");
    // Invalid UTF-8 (only continuation bytes): a plain cut.
    b.append(std::string(L + 5, '\x80') + "\n", seq);
    EXPECT_EQ(b.line(5).size(), L);
    EXPECT_EQ(b.line(6).size(), 5u);
}

TEST(LogBuffer, BoundedByLines) {
    LogBuffer b(3, 4096);
    uint64_t seq = 1;
    b.append("1\n2\n3\n4\n5\n", seq);
    EXPECT_EQ(b.firstLine(), 3u);
    EXPECT_EQ(b.lastLine(), 5u);
    EXPECT_EQ(held(b), V({"3", "4", "5"}));
    EXPECT_EQ(b.bytesBegin(), 4u);
    EXPECT_EQ(b.bytes(0, 100), "3\n4\n5\n");
    EXPECT_EQ(b.line(2), "");
    EXPECT_EQ(b.seqOf(3), 3u);
    EXPECT_EQ(b.droppedSeq(), 2u);
    b.append("6", seq);
    EXPECT_EQ(b.bytes(0, 100), "3\n4\n5\n6");
    b.append("\n", seq);
    EXPECT_EQ(held(b), V({"4", "5", "6"}));
}

TEST(LogBuffer, BoundedByBytesIncludingThePartialTail) {
    LogBuffer b(100, 10);
    uint64_t seq = 1;
    b.append("aaaa\nbbbb\ncccc\n", seq);
    EXPECT_EQ(held(b), V({"bbbb", "cccc"}));
    EXPECT_EQ(b.bytesBegin(), 5u);
    EXPECT_EQ(b.bytesEnd(), 15u);
    EXPECT_EQ(b.bytes(0, 100), "bbbb\ncccc\n");
    b.append("dd", seq); // 12 bytes wanted: the oldest line goes
    EXPECT_EQ(held(b), V({"cccc"}));
    EXPECT_EQ(b.bytesBegin(), 10u);
    EXPECT_EQ(b.bytes(0, 100), "cccc\ndd");
    EXPECT_EQ(b.bytes(12, 3), "cc\n");
    EXPECT_EQ(b.bytes(16, 3), "d");
    EXPECT_EQ(b.bytes(17, 3), "");
    EXPECT_EQ(b.bytes(1000, 3), "");
    // A line that cannot fit at all is numbered but not held; the tail keeps
    // its newest bytes.
    b.append("ddddddddddddd\nxyz", seq);
    EXPECT_EQ(b.lastLine(), 0u);
    EXPECT_EQ(b.nextLine(), 5u);
    EXPECT_EQ(b.bytes(0, 100), "xyz");
    b.append("0123456789ABC", seq);
    EXPECT_EQ(b.bytesBegin(), b.bytesEnd() - 10);
    EXPECT_EQ(b.bytes(0, 100), "3456789ABC");
    EXPECT_EQ(b.flush(seq), 1u); // too long to hold, but numbered
    EXPECT_EQ(b.nextLine(), 6u);
    EXPECT_EQ(b.bytesBegin(), b.bytesEnd());
    EXPECT_LE(b.memoryBytes(), 2 * 10u + 16 * 16); // ring, its mirror, the line ring
}

TEST(LogBuffer, ZeroBoundsHoldNothingButCount) {
    for (auto [ml, mb] : {std::pair<uint64_t, uint64_t>{0, 4096}, {100, 0}}) {
        LogBuffer b(ml, mb);
        uint64_t seq = 7;
        EXPECT_EQ(b.append("a\nb\nc", seq), 2u);
        EXPECT_EQ(b.lineCount(), 0u);
        EXPECT_EQ(b.nextLine(), 3u);
        EXPECT_EQ(b.bytesEnd(), 5u);
        EXPECT_EQ(b.droppedSeq(), 8u);
        EXPECT_EQ(b.flush(seq), 1u);
        EXPECT_EQ(b.nextLine(), 4u);
        EXPECT_EQ(seq, 10u);
    }
}

TEST(LogBuffer, RingsWrapAroundAndGrow) {
    // Many lines through small rings: the views stay right while the byte
    // ring and the line ring wrap many times.
    LogBuffer b(50, 700);
    uint64_t seq = 1;
    uint64_t n = 0;
    std::string chunk;
    for (int round = 0; round < 200; ++round) {
        chunk.clear();
        for (int i = 0; i < 37; ++i)
            chunk += "line " + std::to_string(++n) + "\n";
        b.append(chunk, seq);
        ASSERT_EQ(b.lastLine(), n);
        ASSERT_LE(b.bytesEnd() - b.bytesBegin(), 700u);
        ASSERT_LE(b.lineCount(), 50u);
        for (uint64_t k = b.firstLine(); k <= b.lastLine(); ++k)
            ASSERT_EQ(b.line(k), "line " + std::to_string(k));
    }
    EXPECT_EQ(b.lineCount(), 50u); // "line NNNN\n" is 10 bytes: 70 would fit
    EXPECT_LE(b.memoryBytes(), 2 * 700 + 50 * 16);
}

TEST(LogBuffer, ClearKeepsNumberingAndOffsets) {
    LogBuffer b(100, 4096);
    uint64_t seq = 1;
    b.append("a\nb\npart", seq);
    const size_t mem = b.memoryBytes();
    EXPECT_GT(mem, 0u);
    b.clear();
    EXPECT_EQ(b.lineCount(), 0u);
    EXPECT_EQ(b.firstLine(), 0u);
    EXPECT_EQ(b.nextLine(), 3u);
    EXPECT_EQ(b.bytesEnd(), 8u);
    EXPECT_EQ(b.bytesBegin(), 8u);
    EXPECT_EQ(b.bytes(0, 100), "");
    EXPECT_EQ(b.memoryBytes(), 0u);
    EXPECT_EQ(b.droppedSeq(), 2u);
    // The cleared partial is gone: the rest of its line is a line of its own.
    b.append("ial\nc\n", seq);
    EXPECT_EQ(held(b), V({"ial", "c"}));
    EXPECT_EQ(b.firstLine(), 3u);
    EXPECT_EQ(b.seqOf(3), 3u);
    EXPECT_EQ(b.bytesBegin(), 8u);
    EXPECT_EQ(b.bytes(0, 100), "ial\nc\n");
    EXPECT_EQ(b.bytes(12, 100), "c\n");
}

TEST(LogBuffer, Resume) {
    LogBuffer b(100, 4096);
    uint64_t seq = 500;
    b.resume(100, 5000);
    EXPECT_EQ(b.nextLine(), 100u);
    EXPECT_EQ(b.lineCount(), 0u);
    EXPECT_EQ(b.bytesBegin(), 5000u);
    EXPECT_EQ(b.bytesEnd(), 5000u);
    b.append("x\ny", seq);
    EXPECT_EQ(b.firstLine(), 100u);
    EXPECT_EQ(b.lastLine(), 100u);
    EXPECT_EQ(b.line(100), "x");
    EXPECT_EQ(b.seqOf(100), 500u);
    EXPECT_EQ(b.bytesEnd(), 5003u);
    EXPECT_EQ(b.bytes(5000, 2), "x\n");
    EXPECT_EQ(b.bytes(0, 100), "x\ny");
}

TEST(LogBuffer, LineAtOrAfterSeq) {
    LogBuffer b(100, 4096);
    uint64_t seq = 10;
    b.append("a\n", seq); // seq 10
    seq = 20;
    b.append("b\n", seq); // 20
    seq = 30;
    b.append("c\n", seq); // 30
    EXPECT_EQ(b.lineAtOrAfterSeq(0), 1u);
    EXPECT_EQ(b.lineAtOrAfterSeq(10), 1u);
    EXPECT_EQ(b.lineAtOrAfterSeq(11), 2u);
    EXPECT_EQ(b.lineAtOrAfterSeq(30), 3u);
    EXPECT_EQ(b.lineAtOrAfterSeq(31), 0u);
}

TEST(LogBuffer, IdleBuffersAreTiny) {
    std::vector<ProgramLog> logs;
    logs.reserve(1000);
    for (int i = 0; i < 1000; ++i)
        logs.emplace_back(10000, 1 << 20);
    size_t heap = 0;
    for (auto& l : logs)
        heap += l.memoryBytes();
    EXPECT_EQ(heap, 0u);
    EXPECT_LE(sizeof(ProgramLog), 256u);
    // A banner line each stays small too.
    for (auto& l : logs)
        l.append(false, "started, listening on 127.0.0.1:8080\n");
    heap = 0;
    for (auto& l : logs)
        heap += l.memoryBytes();
    EXPECT_LE(heap, 1000u * 1024);
}

// ---------------------------------------------------------------------------
// ProgramLog

TEST(ProgramLog, MergesStreamsBySeq) {
    ProgramLog p(100, 4096);
    p.append(false, "o1\n");
    p.append(true, "e1\ne2\n");
    p.append(false, "o2\no");
    p.append(true, "e3\n");
    p.flush(); // "o" becomes a line (seq 6)
    EXPECT_EQ(p.firstSeq(), 1u);
    EXPECT_EQ(p.lastSeq(), 6u);
    EXPECT_EQ(p.nextSeq(), 7u);
    auto all = p.allLines(0, 100);
    EXPECT_EQ(all.lines, V({"o1", "e1", "e2", "o2", "e3", "o"}));
    EXPECT_EQ(all.isStderr, (std::vector<bool>{false, true, true, false, true, false}));
    EXPECT_EQ(all.first, 1u);
    EXPECT_EQ(all.last, 6u);
    auto some = p.allLines(3, 2);
    EXPECT_EQ(some.lines, V({"e2", "o2"}));
    EXPECT_EQ(some.first, 3u);
    EXPECT_EQ(some.last, 4u);
    EXPECT_TRUE(p.allLines(7, 10).lines.empty());
    EXPECT_EQ(p.stdoutBuf().lastLine(), 3u);
    EXPECT_EQ(p.stderrBuf().lastLine(), 3u);
    // One stream at a time.
    p.append(false, "x");
    p.append(true, "y");
    EXPECT_EQ(p.flush(true).size(), 1u);
    EXPECT_EQ(p.flush(true).size(), 0u);
    EXPECT_EQ(p.stderrBuf().line(4), "y");
    EXPECT_EQ(p.stderrBuf().seqOf(4), 7u);
    EXPECT_EQ(p.stdoutBuf().lastLine(), 3u);
    EXPECT_EQ(p.stdoutBuf().bytes(0, 100), "o1\no2\nox");
}

TEST(ProgramLog, MergedViewHasNoGaps) {
    // stdout keeps only its 2 newest lines; stderr still has old ones. The
    // merged view must not show stderr's old lines with stdout's missing.
    ProgramLog p(2, 4096);
    p.append(true, "e1\n");  // 1
    p.append(false, "o1\n"); // 2
    p.append(false, "o2\n"); // 3
    p.append(false, "o3\n"); // 4: o1 (seq 2) dropped
    p.append(true, "e2\n");  // 5
    EXPECT_EQ(p.firstSeq(), 3u);
    auto all = p.allLines(1, 100);
    EXPECT_EQ(all.lines, V({"o2", "o3", "e2"}));
    EXPECT_EQ(all.first, 3u);
    EXPECT_EQ(all.last, 5u);
    // Still readable per stream.
    EXPECT_EQ(held(p.stderrBuf()), V({"e1", "e2"}));
}

TEST(ProgramLog, ClearAndResume) {
    ProgramLog p(100, 4096);
    p.append(false, "a\n");
    p.append(true, "b\n");
    p.clear();
    EXPECT_EQ(p.firstSeq(), 0u);
    EXPECT_EQ(p.lastSeq(), 0u);
    EXPECT_TRUE(p.allLines(0, 10).lines.empty());
    p.append(true, "c\n");
    auto all = p.allLines(0, 10);
    EXPECT_EQ(all.lines, V({"c"}));
    EXPECT_EQ(all.first, 3u);
    EXPECT_EQ(p.stderrBuf().firstLine(), 2u);

    ProgramLog q(100, 4096);
    q.stdoutBuf().resume(40, 1000);
    q.stderrBuf().resume(7, 20);
    q.resume(90);
    q.append(true, "x\n");
    q.append(false, "y\n");
    EXPECT_EQ(q.stderrBuf().firstLine(), 7u);
    EXPECT_EQ(q.stdoutBuf().firstLine(), 40u);
    EXPECT_EQ(q.stdoutBuf().bytesEnd(), 1002u);
    auto r = q.allLines(0, 10);
    EXPECT_EQ(r.lines, V({"x", "y"}));
    EXPECT_EQ(r.first, 90u);
    EXPECT_EQ(r.last, 91u);
}

namespace {

std::vector<std::string> texts(const ProgramLog::NewLines& n) { return {n.texts.begin(), n.texts.end()}; }

} // namespace

TEST(ProgramLog, AppendReturnsTheNumberedLinesItMade) {
    ProgramLog p(100, 1 << 20);
    p.append(true, "e\n"); // seq 1
    auto& a = p.append(false, "one\ntw");
    EXPECT_EQ(texts(a), V({"one"}));
    EXPECT_EQ(a.firstLine, 1u);
    EXPECT_EQ(a.firstSeq, 2u);
    auto& b = p.append(false, "o\nthree\nfo"); // "two" began in the read before
    EXPECT_EQ(texts(b), V({"two", "three"}));
    EXPECT_EQ(b.firstLine, 2u);
    EXPECT_EQ(b.firstSeq, 3u);
    EXPECT_TRUE(p.append(false, "u").texts.empty());
    auto& c = p.flush(false); // the pipe's EOF
    EXPECT_EQ(texts(c), V({"fou"}));
    EXPECT_EQ(c.firstLine, 4u);
    EXPECT_EQ(c.firstSeq, 5u);
}

TEST(ProgramLog, LinesBeyondTheBoundsStillComeOut) {
    ProgramLog p(0, 1 << 20); // holds no line, numbers every one
    p.append(false, "par");
    auto& n = p.append(false, "tial\nx\n");
    EXPECT_EQ(texts(n), V({"partial", "x"}));
    EXPECT_EQ(n.firstLine, 1u);
    EXPECT_EQ(p.stdoutBuf().lineCount(), 0u);
}

TEST(ProgramLog, ACutBackedOffIntoAnEarlierReadJoinsTwoLines) {
    // The pending line ends in the first byte of a two-byte character, and
    // the next read completes kMaxLineBytes: the cut moves before that
    // byte, so the second line too begins in the earlier read.
    const size_t max = LogBuffer::kMaxLineBytes;
    ProgramLog p(100, 4 * max);
    std::string text(max - 1, 'a');
    text += "\xc3\xa9" "bb\n";
    p.append(false, text.substr(0, max));
    auto& n = p.append(false, text.substr(max));
    ASSERT_EQ(n.size(), 2u);
    EXPECT_EQ(n.texts[0], std::string(max - 1, 'a'));
    EXPECT_EQ(n.texts[1], "\xc3\xa9" "bb");
    EXPECT_EQ(std::string(p.stdoutBuf().line(2)), "\xc3\xa9" "bb");
}

TEST(ProgramLog, TakePendingGivesOutAPartialLineOnce) {
    ProgramLog p(100, 1 << 20);
    p.append(false, "one\ntw");
    auto& t = p.takePending(false);
    EXPECT_EQ(texts(t), V({"tw"}));
    EXPECT_EQ(t.firstLine, 0u); // not numbered: the buffer still waits
    EXPECT_TRUE(p.takePending(false).texts.empty());
    EXPECT_TRUE(p.takePending(true).texts.empty());
    auto& rest = p.append(false, "o\n");
    EXPECT_EQ(texts(rest), V({"o"})); // only what was not given out
    EXPECT_EQ(rest.firstLine, 2u);
    EXPECT_EQ(std::string(p.stdoutBuf().line(2)), "two"); // the buffer has the whole line
}

// ---------------------------------------------------------------------------
// Randomized comparison with a simple model

namespace {

// Keeps every byte and every line forever and derives what the buffer must
// hold from the definition: the newest lines since the last clear, at most
// maxLines of them, all within the newest maxBytes bytes.
struct Model {
    struct Line {
        uint64_t start, end, seq;
    };
    uint64_t maxLines, maxBytes;
    std::string all;
    std::vector<Line> lines; // every line ever completed
    uint64_t pending = 0;    // start of the unterminated tail
    size_t clearedLines = 0; // lines[0..clearedLines) were cleared
    uint64_t clearedAt = 0;

    Model(uint64_t ml, uint64_t mb) : maxLines(ml), maxBytes(mb) {}

    uint64_t end() const { return all.size(); }

    void complete(uint64_t start, uint64_t stop, uint64_t& seq) { lines.push_back({start, stop, seq++}); }

    void append(const std::string& d, uint64_t& seq) {
        const uint64_t chunkBase = end();
        const uint64_t oldEnd = end();
        all += d;
        for (uint64_t o = chunkBase; o < end(); ++o) {
            if (all[o] == '\n') {
                complete(pending, o + 1, seq);
                pending = o + 1;
            } else if (o - pending == L) {
                // The UTF-8 back-off sees bytes of this chunk and bytes the
                // buffer still held (the tail's newest maxBytes).
                uint64_t cut = pending + L;
                auto known = [&](uint64_t x) { return x >= chunkBase || x + maxBytes >= oldEnd; };
                auto cont = [&](uint64_t x) { return (static_cast<unsigned char>(all[x]) & 0xC0) == 0x80; };
                auto lead = [&](uint64_t x) { return (static_cast<unsigned char>(all[x]) & 0xC0) == 0xC0; };
                if (cont(cut)) {
                    for (uint64_t k = 1; k <= 3 && cut - k > pending; ++k) {
                        if (!known(cut - k))
                            break;
                        if (lead(cut - k)) {
                            cut -= k;
                            break;
                        }
                        if (!cont(cut - k))
                            break;
                    }
                }
                complete(pending, cut, seq);
                pending = cut;
            }
        }
    }
    void flush(uint64_t& seq) {
        if (pending < end()) {
            complete(pending, end(), seq);
            pending = end();
        }
    }
    void clear() {
        clearedLines = lines.size();
        pending = end();
        clearedAt = end();
    }
    // Index range of held lines in `lines`.
    std::pair<size_t, size_t> heldRange() const {
        size_t first = lines.size();
        while (first > clearedLines && lines.size() - (first - 1) <= maxLines &&
               end() - lines[first - 1].start <= maxBytes)
            --first;
        return {first, lines.size()};
    }
    uint64_t begin() const {
        auto [f, e] = heldRange();
        if (f < e)
            return lines[f].start;
        return std::max({pending, end() - std::min(end(), maxBytes), clearedAt});
    }
};

void expectSame(const Model& m, const LogBuffer& b, const std::string& ctx) {
    auto [f, e] = m.heldRange();
    ASSERT_EQ(b.lineCount(), e - f) << ctx;
    ASSERT_EQ(b.nextLine(), m.lines.size() + 1) << ctx;
    ASSERT_EQ(b.bytesEnd(), m.end()) << ctx;
    ASSERT_EQ(b.bytesBegin(), m.begin()) << ctx;
    if (f < e) {
        ASSERT_EQ(b.firstLine(), f + 1) << ctx;
        ASSERT_EQ(b.lastLine(), e) << ctx;
    }
    for (size_t i = f; i < e; ++i) {
        std::string text = m.all.substr(m.lines[i].start, m.lines[i].end - m.lines[i].start);
        if (!text.empty() && text.back() == '\n')
            text.pop_back();
        ASSERT_EQ(b.line(i + 1), text) << ctx << " line " << i + 1;
        ASSERT_EQ(b.seqOf(i + 1), m.lines[i].seq) << ctx;
    }
    const uint64_t bb = m.begin();
    ASSERT_EQ(b.bytes(0, UINT64_MAX), m.all.substr(bb)) << ctx;
    if (m.end() > bb) {
        const uint64_t o = bb + (m.end() - bb) / 3;
        ASSERT_EQ(b.bytes(o, 7), m.all.substr(o, 7)) << ctx;
    }
}

std::string randomChunk(std::mt19937_64& rng, bool allowLong) {
    std::string s;
    const int kind = static_cast<int>(rng() % 20);
    if (allowLong && kind == 0) {
        // A long run without newline, with multi-byte characters about.
        const size_t n = L - 8 + rng() % (L + 20);
        s.reserve(n);
        while (s.size() < n) {
            switch (rng() % 8) {
            case 0: s += "\xC3\xA9"; break;
            case 1: s += "\xE2\x82\xAC"; break;
            case 2: s += "\xF0\x9F\x98\x80"; break;
            default: s += static_cast<char>('a' + rng() % 26);
            }
        }
        return s;
    }
    const size_t n = rng() % (kind < 10 ? 16 : 400);
    for (size_t i = 0; i < n; ++i) {
        const int r = static_cast<int>(rng() % 10);
        s += r < 2 ? '\n' : r < 3 ? static_cast<char>(0xC3) : static_cast<char>('a' + rng() % 26);
    }
    return s;
}

void randomRun(uint64_t seed, uint64_t maxLines, uint64_t maxBytes, bool allowLong, int steps) {
    std::mt19937_64 rng(seed);
    ProgramLog p(maxLines, maxBytes);
    Model out(maxLines, maxBytes), err(maxLines, maxBytes);
    uint64_t seq = 1;
    for (int step = 0; step < steps; ++step) {
        const std::string ctx = "seed " + std::to_string(seed) + " step " + std::to_string(step);
        const int op = static_cast<int>(rng() % 100);
        if (op < 2) {
            p.flush();
            out.flush(seq);
            err.flush(seq);
        } else if (op < 3) {
            p.clear();
            out.clear();
            err.clear();
        } else {
            const bool isErr = rng() % 3 == 0;
            const std::string d = randomChunk(rng, allowLong);
            p.append(isErr, d);
            (isErr ? err : out).append(d, seq);
        }
        ASSERT_EQ(p.nextSeq(), seq) << ctx;
        expectSame(out, p.stdoutBuf(), ctx + " stdout");
        expectSame(err, p.stderrBuf(), ctx + " stderr");
        if (step % 17 == 0) {
            // The merged view: seq order, no gaps, starting above the newest
            // line either stream no longer holds.
            uint64_t floor = 0;
            std::vector<std::pair<uint64_t, std::string>> expect;
            for (const Model* m : {&out, &err}) {
                auto [f, e] = m->heldRange();
                if (f > 0)
                    floor = std::max(floor, m->lines[f - 1].seq);
                for (size_t i = f; i < e; ++i) {
                    std::string t = m->all.substr(m->lines[i].start, m->lines[i].end - m->lines[i].start);
                    if (!t.empty() && t.back() == '\n')
                        t.pop_back();
                    expect.emplace_back(m->lines[i].seq, t);
                }
            }
            std::erase_if(expect, [&](const auto& x) { return x.first <= floor; });
            std::sort(expect.begin(), expect.end());
            auto all = p.allLines(0, SIZE_MAX);
            ASSERT_EQ(all.lines.size(), expect.size()) << ctx;
            for (size_t i = 0; i < expect.size(); ++i)
                ASSERT_EQ(all.lines[i], expect[i].second) << ctx;
            if (!expect.empty()) {
                ASSERT_EQ(all.first, expect.front().first) << ctx;
                ASSERT_EQ(all.last, expect.back().first) << ctx;
                ASSERT_EQ(all.last - all.first + 1, all.lines.size()) << ctx; // no gaps
                ASSERT_EQ(p.firstSeq(), all.first) << ctx;
            } else {
                ASSERT_EQ(p.firstSeq(), 0u) << ctx;
            }
        }
    }
}

} // namespace

TEST(LogBufferRandom, SmallBounds) {
    for (uint64_t seed = 1; seed <= 40; ++seed)
        randomRun(seed, 1 + seed % 30, 1 + (seed * 37) % 600, false, 400);
}

TEST(LogBufferRandom, GrowingRings) {
    // Bounds above the first allocation: the rings grow while their data
    // wraps around.
    for (uint64_t seed = 50; seed < 62; ++seed)
        randomRun(seed, 200 + seed * 10, 3000 + seed * 500, false, 500);
}

TEST(LogBufferRandom, TinyAndZeroBounds) {
    for (uint64_t seed = 100; seed < 120; ++seed)
        randomRun(seed, seed % 3, seed % 5, false, 200);
}

TEST(LogBufferRandom, LongLinesLargeBounds) {
    for (uint64_t seed = 200; seed < 206; ++seed)
        randomRun(seed, 5 + seed % 50, (2 * L + 300) + seed * 1000, true, 300);
}

TEST(LogBufferRandom, LongLinesSmallBytes) {
    // Lines longer than the byte bound: numbered, not held, tail truncated.
    for (uint64_t seed = 300; seed < 304; ++seed)
        randomRun(seed, 20, 1000 + seed, true, 200);
}
