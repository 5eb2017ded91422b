// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Every line a program writes goes to the journal (DESIGN.md §1, §3):
//
//   MESSAGE=<the line>            without its '\n' (a '\r' before it is kept)
//   PRIORITY=6 (stdout) | 3 (stderr)
//   SYSLOG_IDENTIFIER=<program>   the process name
//   SCOPEVISOR_PROGRAM=<namespec>
//   SCOPEVISOR_STREAM=stdout|stderr
//   OBJECT_PID=<pid of the main process>
//   OBJECT_SYSTEMD_UNIT=<scope>   systemd backend only
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
// DESIGN.md §3: nothing is dropped on the way. When journald is not there
// at all (the socket is gone), lines are not written and that is logged once.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

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
    void send(const std::string& namespec, const Prog& p, bool isStderr, std::string_view line);
    void flush(const std::string& namespec, Prog& p);

    Sender sender_;
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
