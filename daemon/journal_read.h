// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Reading program lines back from the journal (docs/architecture.md §4: the journal is
// the durable copy of every log buffer). The journal sink writes each line
// with SCOPEVISOR_LINE (its number in its stream) and SCOPEVISOR_SEQ (its
// number in the merged view); with them a new daemon
//
// - refills each program's buffer with its newest lines at start-up and
//   continues the numbering where the last daemon stopped, even after a
//   kill -9 that left the state file seconds behind (refillLog), and
// - answers line reads older than the buffer (readLines).
//
// Why the reads are synchronous, on the engine thread: every read is
// bounded (the refill by the buffer's size, once, before the daemon says it
// is ready; a read of old lines by kMaxJournalLines) and finds its first
// entry through the journal's field index (one lookup of
// SCOPEVISOR_LINE=<n>), so it costs milliseconds. A reader thread would
// have to copy the engine's view of the buffer to merge its answer and
// would make the numbering at start-up race with the first new line.
//
// Entries are those the daemon's own uid wrote for the program's namespec.
// A line numbered twice (the numbering started again, e.g. when the state
// file and the journal were both lost) is found in its newest run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "scopevisor/control.h"

namespace scopevisor {

class ProgramLog;

struct JournalLine {
    bool isStderr = false;
    uint64_t line = 0; // SCOPEVISOR_LINE
    uint64_t seq = 0;  // SCOPEVISOR_SEQ
    std::string text;
};

// The seam: the journal, or a list in unit tests.
class JournalSource {
public:
    virtual ~JournalSource() = default;
    // The newest `max` numbered lines of `namespec` in stream `s` (All: both),
    // oldest first.
    virtual std::vector<JournalLine> tail(const std::string& namespec, Stream s, size_t max) = 0;
    // Up to `max` lines of `namespec` from number `first` on (the stream's
    // line numbers; for All the seqs), oldest first, consecutive: the read
    // stops at a gap. Empty if line `first` is not in the journal.
    virtual std::vector<JournalLine> range(const std::string& namespec, Stream s, uint64_t first, size_t max) = 0;
};

// The system's journal (sd_journal_open, local only); nullptr with the
// reason logged when it cannot be opened.
std::unique_ptr<JournalSource> openJournal();

// At most this many lines come from the journal per read.
constexpr size_t kMaxJournalLines = 10000;

// Start-up: fill `log` (empty; numbering possibly resumed from the state
// file) with the newest lines the journal has of `namespec`, as many as the
// buffers hold, and continue the numbering after the journal's newest line
// when that is newer than the state file's. Byte offsets go on from the
// state file's, plus the lines the state file did not count yet (each line
// counted with its '\n'). At most `maxLines` lines are read (at least one,
// for the numbering). Returns the number of lines refilled.
size_t refillLog(ProgramLog& log, JournalSource& journal, const std::string& namespec, size_t maxLines = SIZE_MAX);

// Engine::readLog: the line view of `s`, from the buffer, and from the
// journal (when there is one) for lines older than the buffer. first 0:
// the newest `max` lines; max 0: all the buffer holds.
LogLines readLines(const ProgramLog& log, JournalSource* journal, const std::string& namespec, Stream s,
                   uint64_t first, uint32_t max);

} // namespace scopevisor
