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
// The two numbers are those the program's log buffer gave the line, so a
// new daemon continues the numbering from the journal and answers reads
// older than its buffer from it (journal_read.h). They are read from the
// buffer (setLogs) right after it took the same bytes: the sink splits
// lines exactly as the buffer does, so the lines completed by one chunk
// are the buffer's newest. A line the buffer does not have (a partial line
// that only the sink completes) carries no numbers rather than a wrong one.
//
// `journalctl -u <scope>` matches OBJECT_SYSTEMD_UNIT=<scope> in entries
// whose sender is root (_UID=0). journald fills OBJECT_SYSTEMD_UNIT in from
// OBJECT_PID for root senders, but only while that process lives, so the
// last lines of a program that has just exited would be lost to `-u`:
// the sink sets the field itself (journald keeps one copy when both agree).
// A daemon that is not root (--user) cannot make `journalctl --user -u`
// match; `journalctl --user SCOPEVISOR_PROGRAM=<namespec>` shows its lines.
//
// Lines are split exactly as the log buffer splits them (at '\n', and at
// LogBuffer::kMaxLineBytes, backed off to a UTF-8 character boundary), so
// the journal holds the same lines as the buffer. A partial line waits for
// its newline, and is written as it is when the program stops.
//
// The send blocks when journald is behind (its socket's queue is full): the
// engine thread stops reading the programs' pipes, and a program that keeps
// writing blocks when its pipe is full. That is the back-pressure of
// docs/architecture.md §4: nothing is dropped on the way. When journald is not there
// at all (the socket is gone), lines are not written and that is logged once.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <sys/types.h>
#include <sys/uio.h>

#include "scopevisor/control.h"

namespace scopevisor {

class LogBuffer;
class ProgramLog;

class JournalSink : public Listener {
public:
    // The log buffer of a program, to number its lines; nullptr if unknown.
    using Logs = std::function<const ProgramLog*(const std::string& namespec)>;

    // Sends one entry; returns 0 or a negative errno (sd_journal_sendv's
    // contract). Tests replace it.
    using Sender = std::function<int(const struct iovec* iov, int n)>;

    JournalSink(); // sd_journal_sendv
    explicit JournalSink(Sender sender);

    // Without it (tests of the splitting) lines carry no numbers.
    void setLogs(Logs logs) { logs_ = std::move(logs); }

    // The pid (and scope) whose output follows; also learnt from state
    // changes, but those come only once the program is RUNNING.
    void processStarted(const std::string& namespec, pid_t pid, const std::string& unit);

    void programAdded(const ProgramInfo& info) override;
    void programRemoved(const ProgramInfo& info) override;
    void programStateChanged(const ProgramInfo& now, ProcessState old) override;
    void programOutput(const std::string& namespec, Stream s, std::string_view data) override;

    uint64_t linesSent() const noexcept { return sent_; }
    uint64_t linesFailed() const noexcept { return failed_; }

    // Is there a journal to write to? (/run/systemd/journal/socket)
    static bool available();

private:
    struct Prog {
        std::string name; // SYSLOG_IDENTIFIER
        pid_t pid = 0;
        std::string unit;
        std::string partial[2]; // stdout, stderr
    };
    Prog& prog(const std::string& namespec);
    struct Numbers {
        uint64_t line = 0, seq = 0; // 0: not numbered
    };
    void send(const std::string& namespec, const Prog& p, bool isStderr, std::string_view line, Numbers no);
    void flush(const std::string& namespec, Prog& p);
    const LogBuffer* buffer(const std::string& namespec, bool isStderr) const;

    Sender sender_;
    Logs logs_;
    std::vector<std::string_view> lines_; // of one programOutput call, reused
    std::unordered_map<std::string, Prog> progs_;
    uint64_t sent_ = 0;
    uint64_t failed_ = 0;
    bool warned_ = false;
};

// A Backend in front of another that tells a JournalSink each program's pid
// and scope as soon as it is spawned, before its first line can arrive.
class Backend;
std::unique_ptr<Backend> withJournalPids(std::unique_ptr<Backend> inner, JournalSink& sink);

} // namespace scopevisor
