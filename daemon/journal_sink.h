// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Every line a program writes goes to the journal (docs/architecture.md §4, §10):
//
//   MESSAGE=<the line>            without its '\n' (a '\r' before it is kept)
//   PRIORITY=6 (stdout) | 3 (stderr)
//   SYSLOG_IDENTIFIER=<program>   the process name
//   SCOPEVISOR_PROGRAM=<namespec>
//   SCOPEVISOR_STREAM=stdout|stderr
//   OBJECT_PID=<pid of the main process>
//   OBJECT_SYSTEMD_UNIT=<scope>   systemd backend only
//   SCOPEVISOR_LINE=<n>           the line's number in its stream (LogBuffer)
//   SCOPEVISOR_SEQ=<n>            its number in the merged "all" view
//
// The lines, their two numbers, the pid and the scope all come in the
// engine's one output event (OutputEvent): the log buffer split and numbered
// the lines, so a new daemon continues the numbering from the journal and
// answers reads older than its buffer from it (journal_read.h). A partial
// line waits in the buffer for its newline, or for the pipe's EOF.
//
// `journalctl -u <scope>` matches OBJECT_SYSTEMD_UNIT=<scope> in entries
// whose sender is root (_UID=0). journald fills OBJECT_SYSTEMD_UNIT in from
// OBJECT_PID for root senders, but only while that process lives, so the
// last lines of a program that has just exited would be lost to `-u`:
// the sink sets the field itself (journald keeps one copy when both agree).
// A daemon that is not root (--user) cannot make `journalctl --user -u`
// match; `journalctl --user SCOPEVISOR_PROGRAM=<namespec>` shows its lines.
//
// The send blocks when journald is behind (its socket's queue is full): the
// engine thread stops reading the programs' pipes, and a program that keeps
// writing blocks when its pipe is full. That is the back-pressure of
// docs/architecture.md §4: nothing is dropped on the way. When journald is not there
// at all (the socket is gone), lines are not written and that is logged once.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include <sys/types.h>
#include <sys/uio.h>

#include "scopevisor/control.h"

namespace scopevisor {

class JournalSink : public Listener {
public:
    // Sends one entry; returns 0 or a negative errno (sd_journal_sendv's
    // contract). Tests replace it.
    using Sender = std::function<int(const struct iovec* iov, int n)>;

    JournalSink(); // sd_journal_sendv
    explicit JournalSink(Sender sender);

    void output(const OutputEvent& ev) override;

    uint64_t linesSent() const noexcept { return sent_; }
    uint64_t linesFailed() const noexcept { return failed_; }

    // Is there a journal to write to? (/run/systemd/journal/socket)
    static bool available();

private:
    void send(const OutputEvent& ev, std::string_view line, uint64_t lineNo, uint64_t seqNo);

    Sender sender_;
    uint64_t sent_ = 0;
    uint64_t failed_ = 0;
    bool warned_ = false;
};

} // namespace scopevisor
