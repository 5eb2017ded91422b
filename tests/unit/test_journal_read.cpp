// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Numbers in the journal, the refill of a new daemon's buffers and reads
// older than the buffer: a real JournalSink writes into a list that stands
// in for journald (the container tests use the real one).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "journal_capture.h"
#include "journal_read.h"
#include "journal_sink.h"
#include "log_buffer.h"

using namespace scopevisor;

namespace {

using Entry = JournalEntry;

// Journal order is write order, as journald's for one sender.
class ListJournal final : public JournalSource {
public:
    std::vector<Entry> entries;

    JournalSink::Sender sender() { return captureInto(entries); }

    std::vector<JournalLine> tail(const std::string& namespec, Stream s, size_t max) override {
        std::vector<JournalLine> out;
        for (size_t i = entries.size(); i-- > 0 && out.size() < max;) {
            if (!matches(entries[i], namespec, s))
                continue;
            if (!entries[i].count("SCOPEVISOR_LINE"))
                break;
            out.insert(out.begin(), line(entries[i]));
        }
        return out;
    }

    std::vector<JournalLine> range(const std::string& namespec, Stream s, uint64_t first, size_t max) override {
        const char* key = s == Stream::All ? "SCOPEVISOR_SEQ" : "SCOPEVISOR_LINE";
        size_t at = entries.size();
        for (size_t i = entries.size(); i-- > 0;)
            if (matches(entries[i], namespec, s) && entries[i].count(key) && entries[i][key] == std::to_string(first)) {
                at = i;
                break;
            }
        std::vector<JournalLine> out;
        for (size_t i = at; i < entries.size() && out.size() < max; ++i) {
            if (!matches(entries[i], namespec, s))
                continue;
            JournalLine l = line(entries[i]);
            if ((s == Stream::All ? l.seq : l.line) != first + out.size())
                break;
            out.push_back(l);
        }
        return out;
    }

private:
    static bool matches(const Entry& e, const std::string& namespec, Stream s) {
        if (e.at("SCOPEVISOR_PROGRAM") != namespec)
            return false;
        return s == Stream::All || e.at("SCOPEVISOR_STREAM") == (s == Stream::Stderr ? "stderr" : "stdout");
    }
    static JournalLine line(const Entry& e) {
        JournalLine l;
        l.isStderr = e.at("SCOPEVISOR_STREAM") == "stderr";
        l.line = e.count("SCOPEVISOR_LINE") ? std::stoull(e.at("SCOPEVISOR_LINE")) : 0;
        l.seq = e.count("SCOPEVISOR_SEQ") ? std::stoull(e.at("SCOPEVISOR_SEQ")) : 0;
        l.text = e.at("MESSAGE");
        return l;
    }
};

// One daemon's view of one program "p": its buffer and the sink, as the
// engine drives them (the buffer makes the lines, the sink gets the event).
struct Daemon {
    JournalSink sink;
    ProgramOutputs prog;
    ProgramLog& log;
    Daemon(ListJournal& j, uint64_t lines) : sink(j.sender()), prog(sink, "p", lines), log(prog.log) {}
    void out(bool isStderr, const std::string& data) { prog.out(isStderr, data); }
};

std::vector<std::string> texts(const std::vector<JournalLine>& ls) {
    std::vector<std::string> out;
    for (const auto& l : ls)
        out.push_back(l.text);
    return out;
}

} // namespace

TEST(JournalNumbers, EveryEntryCarriesItsBufferNumbers) {
    ListJournal j;
    Daemon d(j, 100);
    d.out(false, "a\nb\n");
    d.out(true, "x\n");
    d.out(false, "c\npart");
    d.out(false, "ial\n");
    ASSERT_EQ(j.entries.size(), 5u);
    const char* want[][4] = {{"a", "stdout", "1", "1"}, {"b", "stdout", "2", "2"}, {"x", "stderr", "1", "3"},
                             {"c", "stdout", "3", "4"}, {"partial", "stdout", "4", "5"}};
    for (size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(j.entries[i]["MESSAGE"], want[i][0]) << i;
        EXPECT_EQ(j.entries[i]["SCOPEVISOR_STREAM"], want[i][1]) << i;
        EXPECT_EQ(j.entries[i]["SCOPEVISOR_LINE"], want[i][2]) << i;
        EXPECT_EQ(j.entries[i]["SCOPEVISOR_SEQ"], want[i][3]) << i;
    }
}

TEST(JournalNumbers, NumbersGoOnPastTheBufferBound) {
    ListJournal j;
    Daemon d(j, 2); // holds 2 lines per stream
    for (int i = 1; i <= 5; ++i)
        d.out(false, "l" + std::to_string(i) + "\n");
    ASSERT_EQ(j.entries.size(), 5u);
    EXPECT_EQ(j.entries[4]["SCOPEVISOR_LINE"], "5");
    EXPECT_EQ(j.entries[4]["SCOPEVISOR_SEQ"], "5");
}

TEST(JournalNumbers, AnUnfinishedLineTheBufferDoesNotHaveIsNotNumbered) {
    ListJournal j;
    Daemon d(j, 10);
    d.out(false, "one\ntwo");
    d.prog.runOver(); // exited; a descendant still holds the pipe
    ASSERT_EQ(j.entries.size(), 2u);
    EXPECT_EQ(j.entries[1]["MESSAGE"], "two");
    EXPECT_EQ(j.entries[1].count("SCOPEVISOR_LINE"), 0u);
}

TEST(JournalNumbers, ALastLineCompletedAtTheExitIsNumbered) {
    ListJournal j;
    Daemon d(j, 10);
    d.out(true, "err\n");
    d.out(false, "one\ntwo");
    d.prog.eof(false); // the pipe's EOF
    d.prog.runOver();  // exited
    ASSERT_EQ(j.entries.size(), 3u);
    EXPECT_EQ(j.entries[2]["MESSAGE"], "two");
    EXPECT_EQ(j.entries[2]["SCOPEVISOR_LINE"], "2");
    EXPECT_EQ(j.entries[2]["SCOPEVISOR_SEQ"], "3");
}

TEST(JournalRefill, ANewDaemonContinuesTheNumberingAndHasTheNewestLines) {
    ListJournal j;
    {
        Daemon old(j, 100);
        for (int i = 1; i <= 7; ++i)
            old.out(i % 3 == 0, "line " + std::to_string(i) + "\n");
    } // killed: no state file was written
    Daemon d(j, 3);
    EXPECT_EQ(refillLog(d.log, j, "p"), 6u); // 3 + 3: as many as the buffers hold
    // stdout had 1 2 4 5 7, stderr 3 6; the buffer keeps 3 lines per stream.
    EXPECT_EQ(d.log.stdoutBuf().firstLine(), 3u);
    EXPECT_EQ(d.log.stdoutBuf().lines(3, 10), (std::vector<std::string>{"line 4", "line 5", "line 7"}));
    EXPECT_EQ(d.log.stderrBuf().lines(1, 10), (std::vector<std::string>{"line 3", "line 6"}));
    EXPECT_EQ(d.log.lastSeq(), 7u);
    d.out(false, "line 8\n");
    EXPECT_EQ(d.log.stdoutBuf().lastLine(), 6u);
    EXPECT_EQ(j.entries.back()["SCOPEVISOR_LINE"], "6");
    EXPECT_EQ(j.entries.back()["SCOPEVISOR_SEQ"], "8");
    // The merged view continues too.
    auto all = d.log.allLines(7, 10);
    EXPECT_EQ(all.first, 7u);
    EXPECT_EQ(all.lines, (std::vector<std::string>{"line 7", "line 8"}));
}

TEST(JournalRefill, ABudgetOfOneLineStillContinuesTheNumbering) {
    ListJournal j;
    {
        Daemon old(j, 100);
        old.out(false, "a\nb\nc\n");
        old.out(true, "x\n");
    }
    Daemon d(j, 100);
    EXPECT_EQ(refillLog(d.log, j, "p", 0), 1u);
    EXPECT_EQ(d.log.stdoutBuf().nextLine(), 4u);
    EXPECT_EQ(d.log.stderrBuf().lines(1, 10), std::vector<std::string>{"x"});
    EXPECT_EQ(d.log.nextSeq(), 5u);
}

TEST(JournalRefill, ByteOffsetsGoOnFromTheStateFile) {
    ListJournal j;
    Daemon old(j, 100);
    old.out(false, "aa\nbbb\n");                      // 7 bytes; the state file saw these
    const uint64_t savedNext = old.log.stdoutBuf().nextLine();
    const uint64_t savedBytes = old.log.stdoutBuf().bytesEnd();
    const uint64_t savedSeq = old.log.nextSeq();
    old.out(false, "cccc\n");                          // 5 more before a kill -9
    Daemon d(j, 100);
    d.log.stdoutBuf().resume(savedNext, savedBytes);   // Program::adopt, from the state file
    d.log.resume(savedSeq);
    refillLog(d.log, j, "p");
    EXPECT_EQ(d.log.stdoutBuf().bytesEnd(), 12u);
    EXPECT_EQ(d.log.stdoutBuf().bytesBegin(), 0u);
    EXPECT_EQ(d.log.stdoutBuf().bytes(0, 12), "aa\nbbb\ncccc\n");
}

TEST(JournalRefill, OnlyTheNewestRunWithoutGapsIsUsed) {
    ListJournal j;
    {
        Daemon first(j, 100);
        first.out(false, "old 1\nold 2\nold 3\n");
    }
    // The numbering started again (state file and buffer lost): 1, 2 again.
    {
        Daemon second(j, 100);
        second.out(false, "new 1\nnew 2\n");
    }
    Daemon d(j, 100);
    EXPECT_EQ(refillLog(d.log, j, "p"), 2u);
    EXPECT_EQ(d.log.stdoutBuf().lines(1, 10), (std::vector<std::string>{"new 1", "new 2"}));
    EXPECT_EQ(d.log.stdoutBuf().nextLine(), 3u);
}

TEST(JournalRefill, AStreamSilentLatelyKeepsItsNumbering) {
    ListJournal j;
    {
        Daemon old(j, 100);
        old.out(true, "e1\ne2\n");
        for (int i = 0; i < 10; ++i)
            old.out(false, "o\n");
    }
    Daemon d(j, 4); // the 8 newest lines are all stdout's
    refillLog(d.log, j, "p");
    EXPECT_EQ(d.log.stderrBuf().lineCount(), 0u);
    EXPECT_EQ(d.log.stderrBuf().nextLine(), 3u);
    EXPECT_EQ(d.log.stdoutBuf().lastLine(), 10u);
}

TEST(JournalRefill, ANewerStateFileWins) {
    ListJournal j;
    {
        Daemon old(j, 100);
        old.out(false, "a\nb\n");
    }
    Daemon d(j, 100);
    d.log.stdoutBuf().resume(10, 100); // the journal lost lines 3..9
    d.log.resume(10);
    EXPECT_EQ(refillLog(d.log, j, "p"), 0u);
    EXPECT_EQ(d.log.stdoutBuf().nextLine(), 10u);
}

TEST(JournalRefill, NothingInTheJournalNothingChanges) {
    ListJournal j;
    Daemon d(j, 100);
    EXPECT_EQ(refillLog(d.log, j, "p"), 0u);
    EXPECT_EQ(d.log.stdoutBuf().nextLine(), 1u);
    EXPECT_EQ(d.log.nextSeq(), 1u);
}

TEST(JournalReadLines, OlderThanTheBufferComesFromTheJournal) {
    ListJournal j;
    Daemon d(j, 3);
    for (int i = 1; i <= 10; ++i)
        d.out(false, "n" + std::to_string(i) + "\n");
    ASSERT_EQ(d.log.stdoutBuf().firstLine(), 8u);
    LogLines r = readLines(d.log, &j, "p", Stream::Stdout, 2, 4);
    EXPECT_EQ(r.first, 2u);
    EXPECT_EQ(r.last, 5u);
    EXPECT_EQ(r.lines, (std::vector<std::string>{"n2", "n3", "n4", "n5"}));
    EXPECT_EQ(r.oldestAvailable, 8u); // the buffer's numbers, as before
    EXPECT_EQ(r.newestAvailable, 10u);
    // Across the border: journal, then buffer.
    r = readLines(d.log, &j, "p", Stream::Stdout, 6, 0);
    EXPECT_EQ(r.first, 6u);
    EXPECT_EQ(r.last, 10u);
    EXPECT_EQ(r.lines, (std::vector<std::string>{"n6", "n7", "n8", "n9", "n10"}));
    r = readLines(d.log, &j, "p", Stream::Stdout, 7, 2);
    EXPECT_EQ(r.lines, (std::vector<std::string>{"n7", "n8"}));
    EXPECT_EQ(r.last, 8u);
}

TEST(JournalReadLines, TheMergedViewByItsNumbers) {
    ListJournal j;
    Daemon d(j, 1);
    d.out(false, "o1\n");
    d.out(true, "e1\n");
    d.out(false, "o2\n");
    d.out(true, "e2\n");
    LogLines r = readLines(d.log, &j, "p", Stream::All, 1, 0);
    EXPECT_EQ(r.first, 1u);
    EXPECT_EQ(r.lines, (std::vector<std::string>{"o1", "e1", "o2", "e2"}));
}

TEST(JournalReadLines, WithoutJournalOrWhenItLacksTheLinesTheBufferAnswers) {
    ListJournal j;
    Daemon d(j, 2);
    for (int i = 1; i <= 4; ++i)
        d.out(false, "n" + std::to_string(i) + "\n");
    LogLines r = readLines(d.log, nullptr, "p", Stream::Stdout, 1, 10);
    EXPECT_EQ(r.first, 3u);
    EXPECT_EQ(r.lines, (std::vector<std::string>{"n3", "n4"}));
    j.entries.clear();
    r = readLines(d.log, &j, "p", Stream::Stdout, 1, 10);
    EXPECT_EQ(r.first, 3u);
    EXPECT_EQ(texts(j.tail("p", Stream::All, 10)).size(), 0u);
}
