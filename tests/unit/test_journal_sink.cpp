// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The journal sink's lines and fields, with the send captured. The lines
// come as the engine publishes them (ProgramOutputs, journal_capture.h).
#include <gtest/gtest.h>

#include <cerrno>
#include <map>
#include <string>
#include <vector>

#include "journal_capture.h"
#include "journal_sink.h"
#include "log_buffer.h"

using namespace scopevisor;

namespace {

using Entry = JournalEntry;

struct Capture {
    std::vector<Entry> entries;
    int fail = 0; // errno to return
    JournalSink::Sender sender() { return captureInto(entries, &fail); }
};

} // namespace

TEST(JournalSink, LinesCarryTheFieldsOfDesign) {
    Capture cap;
    JournalSink sink(cap.sender());
    ProgramOutputs web(sink, "grp:web");
    web.pid = 1234;
    web.unit = "scopevisor-grp:web.scope";
    web.out(false, "hello\nworld\n");
    web.out(true, "oops\r\n");
    ASSERT_EQ(cap.entries.size(), 3u);
    Entry e = cap.entries[0];
    EXPECT_EQ(e["MESSAGE"], "hello");
    EXPECT_EQ(e["PRIORITY"], "6");
    EXPECT_EQ(e["SYSLOG_IDENTIFIER"], "web");
    EXPECT_EQ(e["SCOPEVISOR_PROGRAM"], "grp:web");
    EXPECT_EQ(e["SCOPEVISOR_STREAM"], "stdout");
    EXPECT_EQ(e["OBJECT_PID"], "1234");
    EXPECT_EQ(e["OBJECT_SYSTEMD_UNIT"], "scopevisor-grp:web.scope");
    EXPECT_EQ(cap.entries[1]["MESSAGE"], "world");
    e = cap.entries[2];
    EXPECT_EQ(e["MESSAGE"], "oops\r"); // the program's bytes, as the buffer keeps them
    EXPECT_EQ(e["PRIORITY"], "3");
    EXPECT_EQ(e["SCOPEVISOR_STREAM"], "stderr");
    EXPECT_EQ(sink.linesSent(), 3u);
}

TEST(JournalSink, PartialLinesWaitPerStreamAndFlushAtStop) {
    Capture cap;
    JournalSink sink(cap.sender());
    ProgramOutputs web(sink, "web");
    web.pid = 10;
    web.out(false, "hel");
    web.out(true, "err-");
    web.out(false, "lo\npart");
    ASSERT_EQ(cap.entries.size(), 1u);
    EXPECT_EQ(cap.entries[0]["MESSAGE"], "hello");
    EXPECT_EQ(cap.entries[0].count("OBJECT_SYSTEMD_UNIT"), 0u); // direct backend: no scope
    web.runOver(); // EXITED (Program::setState publishes what is pending)
    ASSERT_EQ(cap.entries.size(), 3u);
    EXPECT_EQ(cap.entries[1]["MESSAGE"], "part");
    EXPECT_EQ(cap.entries[2]["MESSAGE"], "err-");
    // The exited run's pid stays on lines written after the exit.
    EXPECT_EQ(cap.entries[1]["OBJECT_PID"], "10");
}

TEST(JournalSink, PidAndScopeComeWithTheEvent) {
    Capture cap;
    JournalSink sink(cap.sender());
    ProgramOutputs web(sink, "web");
    web.pid = 77;
    web.unit = "scopevisor-web.scope";
    web.out(false, "x\n");
    ASSERT_EQ(cap.entries.size(), 1u);
    EXPECT_EQ(cap.entries[0]["OBJECT_PID"], "77");
    EXPECT_EQ(cap.entries[0]["OBJECT_SYSTEMD_UNIT"], "scopevisor-web.scope");
}

TEST(JournalSink, LongLinesAreSplitAsTheLogBufferSplitsThem) {
    Capture cap;
    JournalSink sink(cap.sender());
    ProgramOutputs web(sink, "web");
    const size_t max = LogBuffer::kMaxLineBytes;
    // A two-byte character straddles the cut: it moves to the next line.
    std::string text(max - 1, 'a');
    text += "\xc3\xa9";
    text += std::string(10, 'b');
    web.out(false, text.substr(0, 1000));
    web.out(false, text.substr(1000) + "\n");

    LogBuffer buf(100, 4 * max);
    uint64_t seq = 1;
    buf.append(text + "\n", seq);
    ASSERT_EQ(cap.entries.size(), buf.lineCount());
    for (size_t i = 0; i < cap.entries.size(); ++i)
        EXPECT_EQ(cap.entries[i]["MESSAGE"], std::string(buf.line(buf.firstLine() + i))) << i;
    EXPECT_EQ(cap.entries[0]["MESSAGE"].size(), max - 1);

    // Exactly kMaxLineBytes before the newline: one line.
    cap.entries.clear();
    web.out(false, std::string(max, 'c') + "\n");
    ASSERT_EQ(cap.entries.size(), 1u);
}

TEST(JournalSink, NoJournalIsCountedNotFatal) {
    Capture cap;
    cap.fail = ENOENT;
    JournalSink sink(cap.sender());
    ProgramOutputs web(sink, "web");
    web.out(false, "a\nb\n");
    EXPECT_EQ(sink.linesFailed(), 2u);
    EXPECT_EQ(sink.linesSent(), 0u);
}

TEST(JournalSink, RemovedProgramFlushes) {
    Capture cap;
    JournalSink sink(cap.sender());
    ProgramOutputs web(sink, "web");
    web.out(false, "tail");
    web.runOver(); // removed (Engine::deactivateGroup publishes what is pending)
    ASSERT_EQ(cap.entries.size(), 1u);
    EXPECT_EQ(cap.entries[0]["MESSAGE"], "tail");
    EXPECT_EQ(cap.entries[0]["SYSLOG_IDENTIFIER"], "web");
}
