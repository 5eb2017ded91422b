// SPDX-License-Identifier: LGPL-2.1-or-later
#include "journal_sink.h"

#include <cstring>
#include <memory>

#include <systemd/sd-journal.h>
#include <unistd.h>

#include "backend.h"
#include "log_buffer.h"
#include "logging.h"

namespace scopevisor {
namespace {

constexpr bool isUtf8Continuation(unsigned char b) noexcept { return (b & 0xC0) == 0x80; }
constexpr bool isUtf8Lead(unsigned char b) noexcept { return (b & 0xC0) == 0xC0; }

// LogBuffer::splitPoint for a line held in one string: cut after
// kMaxLineBytes, backed off to the start of a UTF-8 sequence it would split.
size_t splitPoint(std::string_view s) {
    const size_t cut = LogBuffer::kMaxLineBytes;
    if (!isUtf8Continuation(static_cast<unsigned char>(s[cut])))
        return cut;
    for (size_t k = 1; k <= 3 && cut - k > 0; ++k) {
        const auto b = static_cast<unsigned char>(s[cut - k]);
        if (isUtf8Lead(b))
            return cut - k;
        if (!isUtf8Continuation(b))
            break;
    }
    return cut;
}

int sendToJournal(const struct iovec* iov, int n) { return sd_journal_sendv(iov, n); }

std::string nameOf(const std::string& namespec) {
    const size_t colon = namespec.find(':');
    return colon == std::string::npos ? namespec : namespec.substr(colon + 1);
}

} // namespace

JournalSink::JournalSink() : sender_(sendToJournal) {}
JournalSink::JournalSink(Sender sender) : sender_(std::move(sender)) {}

bool JournalSink::available() { return access("/run/systemd/journal/socket", F_OK) == 0; }

JournalSink::Prog& JournalSink::prog(const std::string& namespec) {
    auto [it, fresh] = progs_.try_emplace(namespec);
    if (fresh)
        it->second.name = nameOf(namespec);
    return it->second;
}

void JournalSink::processStarted(const std::string& namespec, pid_t pid, const std::string& unit) {
    Prog& p = prog(namespec);
    // Lines of the previous run still waiting for their newline belong to it.
    flush(namespec, p);
    p.pid = pid;
    p.unit = unit;
}

void JournalSink::programAdded(const ProgramInfo& info) { prog(info.namespec).name = info.name; }

void JournalSink::programRemoved(const ProgramInfo& info) {
    auto it = progs_.find(info.namespec);
    if (it == progs_.end())
        return;
    flush(info.namespec, it->second);
    progs_.erase(it);
}

void JournalSink::programStateChanged(const ProgramInfo& now, ProcessState) {
    Prog& p = prog(now.namespec);
    if (!now.name.empty())
        p.name = now.name;
    if (now.pid > 0) {
        p.pid = now.pid;
        if (!now.unit.empty())
            p.unit = now.unit;
    }
    // The engine has read what the pipes held at the exit before it tells
    // of the new state: an unterminated last line is complete now. The pid
    // and unit stay: output written by leftovers after the exit still
    // belongs to that run.
    if (isStoppedState(now.state) || now.state == ProcessState::Backoff)
        flush(now.namespec, p);
}

void JournalSink::programOutput(const std::string& namespec, Stream s, std::string_view data) {
    Prog& p = prog(namespec);
    const bool isStderr = s == Stream::Stderr;
    std::string& buf = p.partial[isStderr ? 1 : 0];
    // Split `buf + data` without copying data into buf first when buf is
    // empty (the common case: whole lines in one read).
    std::string joined;
    std::string_view rest = data;
    if (!buf.empty()) {
        joined = std::move(buf);
        joined.append(data);
        rest = joined;
    }
    lines_.clear();
    while (!rest.empty()) {
        const size_t window = std::min(rest.size(), LogBuffer::kMaxLineBytes + 1);
        const void* nl = std::memchr(rest.data(), '\n', window);
        if (nl) {
            const size_t len = static_cast<const char*>(nl) - rest.data();
            lines_.push_back(rest.substr(0, len));
            rest.remove_prefix(len + 1);
        } else if (window == LogBuffer::kMaxLineBytes + 1) {
            const size_t cut = splitPoint(rest);
            lines_.push_back(rest.substr(0, cut));
            rest.remove_prefix(cut);
        } else {
            break;
        }
    }
    // The buffer took the same bytes just before: its newest lines are these.
    const LogBuffer* b = buffer(namespec, isStderr);
    const uint64_t k = lines_.size();
    for (uint64_t i = 0; i < k; ++i) {
        Numbers no;
        if (b && b->nextLine() > k) {
            no.line = b->nextLine() - k + i;
            no.seq = b->seqOf(no.line);
            if (no.seq == 0) // not held (a buffer of zero lines): seqs are consecutive
                no.seq = logs_(namespec)->nextSeq() - k + i;
        }
        send(namespec, p, isStderr, lines_[i], no);
    }
    buf.assign(rest.data(), rest.size());
}

const LogBuffer* JournalSink::buffer(const std::string& namespec, bool isStderr) const {
    const ProgramLog* log = logs_ ? logs_(namespec) : nullptr;
    if (!log)
        return nullptr;
    return isStderr ? &log->stderrBuf() : &log->stdoutBuf();
}

void JournalSink::flush(const std::string& namespec, Prog& p) {
    for (int i = 0; i < 2; ++i) {
        if (p.partial[i].empty())
            continue;
        std::string line = std::move(p.partial[i]);
        p.partial[i].clear();
        // Numbered only if the buffer completed the same line (at the pipe's EOF).
        Numbers no;
        const LogBuffer* b = buffer(namespec, i == 1);
        if (b && b->lastLine() != 0 && b->line(b->lastLine()) == line)
            no = {b->lastLine(), b->seqOf(b->lastLine())};
        send(namespec, p, i == 1, line, no);
    }
}

void JournalSink::send(const std::string& namespec, const Prog& p, bool isStderr, std::string_view line,
                       Numbers no) {
    // Field texts are built once per line; sd_journal_sendv copies nothing
    // it does not have to, and switches to a memfd for huge entries.
    static const std::string_view kMessage = "MESSAGE=";
    std::string msg;
    msg.reserve(kMessage.size() + line.size());
    msg.append(kMessage).append(line);
    const std::string ident = "SYSLOG_IDENTIFIER=" + p.name;
    const std::string program = "SCOPEVISOR_PROGRAM=" + namespec;
    const char* stream = isStderr ? "SCOPEVISOR_STREAM=stderr" : "SCOPEVISOR_STREAM=stdout";
    const char* priority = isStderr ? "PRIORITY=3" : "PRIORITY=6";
    std::string pid, unit, lineNo, seqNo;
    struct iovec iov[9];
    int n = 0;
    auto add = [&](const char* s, size_t len) { iov[n++] = {const_cast<char*>(s), len}; };
    add(msg.data(), msg.size());
    add(priority, std::strlen(priority));
    add(ident.data(), ident.size());
    add(program.data(), program.size());
    add(stream, std::strlen(stream));
    if (p.pid > 0) {
        pid = "OBJECT_PID=" + std::to_string(p.pid);
        add(pid.data(), pid.size());
    }
    if (!p.unit.empty()) {
        unit = "OBJECT_SYSTEMD_UNIT=" + p.unit;
        add(unit.data(), unit.size());
    }
    if (no.line > 0 && no.seq > 0) {
        lineNo = "SCOPEVISOR_LINE=" + std::to_string(no.line);
        seqNo = "SCOPEVISOR_SEQ=" + std::to_string(no.seq);
        add(lineNo.data(), lineNo.size());
        add(seqNo.data(), seqNo.size());
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

namespace {

// Forwards everything; on a successful spawn, tells the sink the pid first.
class JournalPidBackend final : public Backend {
public:
    JournalPidBackend(std::unique_ptr<Backend> inner, JournalSink& sink)
        : inner_(std::move(inner)), sink_(sink) {}
    const char* name() const override { return inner_->name(); }
    void spawn(const SpawnSpec& spec, SpawnDone done, ExitFn exited) override {
        inner_->spawn(spec,
                      [this, namespec = spec.namespec, done = std::move(done)](Result<Child> r) {
                          if (r)
                              sink_.processStarted(namespec, r->pid, r->unit);
                          done(std::move(r));
                      },
                      std::move(exited));
    }
    int kill(const Child& c, int sig, bool tree) override { return inner_->kill(c, sig, tree); }
    void cleanup(const Child& c) override { inner_->cleanup(c); }
    Status adopt(const std::string& namespec, const Child& c, ExitFn exited) override {
        Status st = inner_->adopt(namespec, c, std::move(exited));
        if (st)
            sink_.processStarted(namespec, c.pid, c.unit);
        return st;
    }

private:
    std::unique_ptr<Backend> inner_;
    JournalSink& sink_;
};

} // namespace

std::unique_ptr<Backend> withJournalPids(std::unique_ptr<Backend> inner, JournalSink& sink) {
    return std::make_unique<JournalPidBackend>(std::move(inner), sink);
}

} // namespace scopevisor
