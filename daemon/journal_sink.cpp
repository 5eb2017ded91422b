// SPDX-License-Identifier: LGPL-2.1-or-later
#include "journal_sink.h"

#include <cerrno>
#include <cstring>
#include <string>

#include <systemd/sd-journal.h>
#include <unistd.h>

#include "logging.h"

namespace scopevisor {
namespace {

int sendToJournal(const struct iovec* iov, int n) { return sd_journal_sendv(iov, n); }

} // namespace

JournalSink::JournalSink() : sender_(sendToJournal) {}
JournalSink::JournalSink(Sender sender) : sender_(std::move(sender)) {}

bool JournalSink::available() { return access("/run/systemd/journal/socket", F_OK) == 0; }

void JournalSink::output(const OutputEvent& ev) {
    for (size_t i = 0; i < ev.lines.size(); ++i)
        send(ev, ev.lines[i], ev.firstLine + i, ev.firstSeq + i);
}

void JournalSink::send(const OutputEvent& ev, std::string_view line, uint64_t lineNo, uint64_t seqNo) {
    // Field texts are built once per line; sd_journal_sendv copies nothing
    // it does not have to, and switches to a memfd for huge entries.
    static const std::string_view kMessage = "MESSAGE=";
    const bool isStderr = ev.stream == Stream::Stderr;
    std::string msg;
    msg.reserve(kMessage.size() + line.size());
    msg.append(kMessage).append(line);
    std::string ident = "SYSLOG_IDENTIFIER=";
    ident.append(ev.name);
    const std::string program = "SCOPEVISOR_PROGRAM=" + ev.namespec;
    const char* stream = isStderr ? "SCOPEVISOR_STREAM=stderr" : "SCOPEVISOR_STREAM=stdout";
    const char* priority = isStderr ? "PRIORITY=3" : "PRIORITY=6";
    std::string pid, unit, lineField, seqField;
    struct iovec iov[9];
    int n = 0;
    auto add = [&](const char* s, size_t len) { iov[n++] = {const_cast<char*>(s), len}; };
    add(msg.data(), msg.size());
    add(priority, std::strlen(priority));
    add(ident.data(), ident.size());
    add(program.data(), program.size());
    add(stream, std::strlen(stream));
    if (ev.pid > 0) {
        pid = "OBJECT_PID=" + std::to_string(ev.pid);
        add(pid.data(), pid.size());
    }
    if (!ev.unit.empty()) {
        unit = "OBJECT_SYSTEMD_UNIT=";
        unit.append(ev.unit);
        add(unit.data(), unit.size());
    }
    if (lineNo > 0 && seqNo > 0) {
        lineField = "SCOPEVISOR_LINE=" + std::to_string(lineNo);
        seqField = "SCOPEVISOR_SEQ=" + std::to_string(seqNo);
        add(lineField.data(), lineField.size());
        add(seqField.data(), seqField.size());
    }
    int r;
    do {
        r = sender_(iov, n);
    } while (r == -EINTR);
    if (r >= 0) {
        ++sent_;
        return;
    }
    ++failed_;
    if (!warned_) {
        warned_ = true;
        log::warn(std::string("cannot write program output to the journal: ") + std::strerror(-r) +
                  " (the log buffer still has it; reported once)");
    }
}

} // namespace scopevisor
