// SPDX-License-Identifier: LGPL-2.1-or-later
#include "journal_read.h"

#include <algorithm>
#include <cstring>

#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "log_buffer.h"
#include "logging.h"

namespace scopevisor {
namespace {

class SdJournal final : public JournalSource {
public:
    explicit SdJournal(sd_journal* j) : j_(j) {}
    ~SdJournal() override { sd_journal_close(j_); }

    std::vector<JournalLine> tail(const std::string& namespec, Stream s, size_t max) override {
        std::vector<JournalLine> out;
        if (!match(namespec, s, nullptr) || sd_journal_seek_tail(j_) < 0)
            return out;
        JournalLine e;
        while (out.size() < max && sd_journal_previous(j_) > 0 && entry(e))
            out.push_back(std::move(e));
        std::reverse(out.begin(), out.end());
        return out;
    }

    std::vector<JournalLine> range(const std::string& namespec, Stream s, uint64_t first, size_t max) override {
        std::vector<JournalLine> out;
        // The field index finds the entry numbered `first` (its newest copy);
        // from there on, the entries of the program in journal order.
        const std::string number = (s == Stream::All ? "SCOPEVISOR_SEQ=" : "SCOPEVISOR_LINE=") + std::to_string(first);
        char* cursor = nullptr;
        if (!match(namespec, s, &number) || sd_journal_seek_tail(j_) < 0 || sd_journal_previous(j_) <= 0 ||
            sd_journal_get_cursor(j_, &cursor) < 0)
            return out;
        const bool found = match(namespec, s, nullptr) && sd_journal_seek_cursor(j_, cursor) >= 0;
        free(cursor);
        JournalLine e;
        uint64_t want = first;
        while (found && out.size() < max && sd_journal_next(j_) > 0 && entry(e)) {
            if ((s == Stream::All ? e.seq : e.line) != want++)
                break; // a gap: what follows is not this run's
            out.push_back(std::move(e));
        }
        return out;
    }

private:
    bool match(const std::string& namespec, Stream s, const std::string* number) {
        sd_journal_process(j_); // notice rotated and new journal files
        sd_journal_flush_matches(j_);
        const std::string program = "SCOPEVISOR_PROGRAM=" + namespec;
        const std::string uid = "_UID=" + std::to_string(getuid());
        const char* stream = s == Stream::Stderr ? "SCOPEVISOR_STREAM=stderr" : "SCOPEVISOR_STREAM=stdout";
        return sd_journal_add_match(j_, program.data(), program.size()) >= 0 &&
               sd_journal_add_match(j_, uid.data(), uid.size()) >= 0 &&
               (s == Stream::All || sd_journal_add_match(j_, stream, 0) >= 0) &&
               (!number || sd_journal_add_match(j_, number->data(), number->size()) >= 0);
    }

    std::string_view field(const char* name) {
        const void* data = nullptr;
        size_t len = 0;
        if (sd_journal_get_data(j_, name, &data, &len) < 0)
            return {};
        std::string_view v(static_cast<const char*>(data), len);
        v.remove_prefix(std::min(v.size(), std::strlen(name) + 1)); // "NAME="
        return v;
    }

    static uint64_t number(std::string_view v) {
        uint64_t n = 0;
        for (char c : v) {
            if (c < '0' || c > '9')
                return 0;
            n = n * 10 + uint64_t(c - '0');
        }
        return n;
    }

    // False for an entry without numbers (written before they existed).
    bool entry(JournalLine& e) {
        e.line = number(field("SCOPEVISOR_LINE"));
        e.seq = number(field("SCOPEVISOR_SEQ"));
        if (e.line == 0 || e.seq == 0)
            return false;
        e.isStderr = field("SCOPEVISOR_STREAM") == "stderr";
        e.text = field("MESSAGE");
        return true;
    }

    sd_journal* j_;
};

// The lines of `s` that the buffer holds (the line view of control.h).
LogLines fromBuffer(const ProgramLog& log, Stream s, uint64_t firstLine, uint64_t maxLines) {
    LogLines out;
    if (s == Stream::All) {
        out.oldestAvailable = log.firstSeq();
        out.newestAvailable = log.lastSeq();
    } else {
        const LogBuffer& b = s == Stream::Stderr ? log.stderrBuf() : log.stdoutBuf();
        out.oldestAvailable = b.firstLine();
        out.newestAvailable = b.lastLine();
    }
    if (out.newestAvailable == 0)
        return out;
    const uint64_t count = maxLines == 0 ? out.newestAvailable - out.oldestAvailable + 1 : maxLines;
    uint64_t first = firstLine;
    if (first == 0) // the newest `count` lines
        first = out.newestAvailable >= count ? out.newestAvailable - count + 1 : 1;
    first = std::max(first, out.oldestAvailable);
    if (first > out.newestAvailable)
        return out;
    if (s == Stream::All) {
        auto a = log.allLines(first, size_t(count));
        out.first = a.first;
        out.last = a.last;
        out.lines = std::move(a.lines);
    } else {
        const LogBuffer& b = s == Stream::Stderr ? log.stderrBuf() : log.stdoutBuf();
        out.lines = b.lines(first, size_t(count));
        out.first = out.lines.empty() ? 0 : first;
        out.last = out.lines.empty() ? 0 : first + out.lines.size() - 1;
    }
    return out;
}

// Lines a killed daemon sent may still wait in journald's socket queue:
// ask journald to write everything it has received (what `journalctl
// --sync` does, over its varlink socket; root only), so that the numbering
// is continued from the true last line. Without it (not root, older
// journald) a restart a second after the crash is late enough in practice.
void syncJournald() {
    static const char kPath[] = "/run/systemd/journal/io.systemd.journal";
    if (geteuid() != 0)
        return;
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    struct sockaddr_un sa = {};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, kPath, sizeof kPath);
    const struct timeval timeout = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    static const char kCall[] = "{\"method\":\"io.systemd.Journal.Synchronize\",\"parameters\":{}}";
    std::string reply;
    if (connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0 &&
        send(fd, kCall, sizeof kCall, MSG_NOSIGNAL) == ssize_t(sizeof kCall)) { // with its '\0'
        char buf[256];
        ssize_t n;
        while (reply.find('\0') == std::string::npos && (n = recv(fd, buf, sizeof buf, 0)) > 0)
            reply.append(buf, size_t(n));
    }
    close(fd);
    if (reply.find("\"error\"") != std::string::npos || reply.find('\0') == std::string::npos)
        log::warn("journald did not confirm that it wrote all it received (" +
                  (reply.empty() ? std::string("no answer") : reply.substr(0, reply.find('\0'))) +
                  "); line numbers may repeat if it had not");
}

} // namespace

std::unique_ptr<JournalSource> openJournal() {
    syncJournald();
    sd_journal* j = nullptr;
    int r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
    if (r < 0) {
        log::warn(std::string("cannot open the journal to read program lines back: ") + std::strerror(-r) +
                  " (log buffers start empty after a restart)");
        return nullptr;
    }
    sd_journal_set_data_threshold(j, 0); // whole lines, up to LogBuffer::kMaxLineBytes
    // Watch the journal directories, so sd_journal_process() sees new files.
    sd_journal_get_fd(j);
    return std::make_unique<SdJournal>(j);
}

size_t refillLog(ProgramLog& log, JournalSource& journal, const std::string& namespec, size_t maxLines) {
    LogBuffer* bufs[2] = {&log.stdoutBuf(), &log.stderrBuf()};
    const uint64_t want = std::max<uint64_t>(
        std::min<uint64_t>({bufs[0]->maxLines() + bufs[1]->maxLines(), 10 * kMaxJournalLines, maxLines}), 1);
    std::vector<JournalLine> t = journal.tail(namespec, Stream::All, size_t(want));
    if (t.empty())
        return 0;
    // Only the newest run without gaps is used, so numbers stay exact.
    size_t start = t.size() - 1;
    uint64_t later[2] = {0, 0}; // line number of the next-newer line of each stream
    later[t.back().isStderr] = t.back().line;
    while (start > 0) {
        const JournalLine& e = t[start - 1];
        if (e.seq + 1 != t[start].seq || (later[e.isStderr] && e.line + 1 != later[e.isStderr]))
            break;
        later[e.isStderr] = e.line;
        --start;
    }
    // The state file is newer than the journal (lines lost to it): keep its numbering.
    if (log.nextSeq() > t.back().seq + 1)
        return 0;
    for (int k = 0; k < 2; ++k) {
        LogBuffer& b = *bufs[k];
        uint64_t firstLine = 0, total = 0, unsaved = 0;
        for (size_t i = start; i < t.size(); ++i) {
            if (t[i].isStderr != bool(k))
                continue;
            if (!firstLine)
                firstLine = t[i].line;
            total += t[i].text.size() + 1;
            if (t[i].line >= b.nextLine())
                unsaved += t[i].text.size() + 1;
        }
        if (!firstLine) { // none of this stream's lines is that new
            auto last = journal.tail(namespec, k ? Stream::Stderr : Stream::Stdout, 1);
            const uint64_t next = last.empty() ? 1 : last.back().line + 1;
            b.resume(std::max(next, b.nextLine()), b.bytesEnd());
            continue;
        }
        const uint64_t end = b.bytesEnd() + unsaved;
        b.resume(firstLine, end >= total ? end - total : 0);
    }
    log.resume(t[start].seq);
    for (size_t i = start; i < t.size(); ++i) {
        t[i].text += '\n';
        log.append(t[i].isStderr, t[i].text);
    }
    return t.size() - start;
}

LogLines readLines(const ProgramLog& log, JournalSource* journal, const std::string& namespec, Stream s,
                   uint64_t first, uint32_t max) {
    LogLines out = fromBuffer(log, s, first, max);
    if (!journal || first == 0 || (out.newestAvailable != 0 && first >= out.oldestAvailable))
        return out;
    // Older than the buffer: from the journal, up to where the buffer starts.
    uint64_t count = max == 0 ? kMaxJournalLines : std::min<uint64_t>(max, kMaxJournalLines);
    if (out.newestAvailable != 0)
        count = std::min(count, out.oldestAvailable - first);
    auto old = journal->range(namespec, s, first, size_t(count));
    if (old.empty())
        return out; // the journal does not have it either: what the buffer has
    LogLines r;
    r.oldestAvailable = out.oldestAvailable;
    r.newestAvailable = out.newestAvailable;
    r.first = first;
    r.last = first + old.size() - 1;
    r.lines.reserve(old.size());
    for (auto& e : old)
        r.lines.push_back(std::move(e.text));
    // Then the buffer, if the journal's lines reach it.
    if (out.newestAvailable != 0 && r.last + 1 == out.oldestAvailable && (max == 0 || r.lines.size() < max)) {
        LogLines rest = fromBuffer(log, s, out.oldestAvailable, max == 0 ? 0 : max - r.lines.size());
        r.last = rest.lines.empty() ? r.last : rest.last;
        for (auto& l : rest.lines)
            r.lines.push_back(std::move(l));
    }
    return r;
}

} // namespace scopevisor
