// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A program's pipes and files: its output read into the log buffer and
// published as one event a read (docs/architecture.md §4), its stdin, and
// its log files.
#include "program.h"

#include <cerrno>
#include <cstring>

#include <sys/epoll.h>
#include <unistd.h>

#include "logging.h"

namespace scopevisor {
namespace {

// Read at most kReadChunk * kReadsPerEvent (2 MiB) per readiness event, so
// one chatty program cannot starve the others (and the D-Bus connection) on
// the single engine thread. The chunk is kept small because every page of
// the shared read buffer that a burst touches stays resident for good; a
// 64 KiB read costs no measurable throughput over a larger one.
constexpr size_t kReadChunk = 64 * 1024;
constexpr int kReadsPerEvent = 32;

} // namespace

// ---- output -------------------------------------------------------------

void Program::watchOutput(int fd, bool isStderr) {
    Reader& r = isStderr ? errReader_ : outReader_;
    r.src = host_.loop().addIo(fd, EPOLLIN, [this, fd, isStderr](uint32_t) { readOutput(fd, isStderr); });
}

void Program::readOutput(int fd, bool isStderr) {
    // Not zero-filled: only the pages that reads touch cost memory.
    static thread_local std::unique_ptr<char[]> buf(new char[kReadChunk]);
    for (int i = 0; i < kReadsPerEvent; ++i) {
        ssize_t n = read(fd, buf.get(), kReadChunk);
        if (n > 0) {
            const std::string_view data(buf.get(), size_t(n));
            publishOutput(isStderr, log_.append(isStderr, data, host_.wantsLines()), data);
            if (size_t(n) < kReadChunk)
                return; // drained
            continue;
        }
        if (n < 0 && (errno == EINTR))
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        // EOF or error: nobody holds the write end any more.
        if (const auto& last = log_.flush(isStderr); last.size())
            publishOutput(isStderr, last, {});
        closeStream(isStderr);
        return;
    }
}

void Program::publishOutput(bool isStderr, const ProgramLog::NewLines& lines, std::string_view data) {
    const OutputEvent ev{.namespec = namespec_,
                         .name = cfg_.name,
                         .stream = isStderr ? Stream::Stderr : Stream::Stdout,
                         .pid = runPid_,
                         .unit = runUnit_,
                         .firstLine = lines.firstLine,
                         .firstSeq = lines.firstSeq,
                         .lines = lines.texts,
                         .data = data};
    // Log files are written raw, a chunk at a time (docs/architecture.md §4).
    if (auto& f = isStderr ? stderrFile_ : stdoutFile_; f && !data.empty())
        f->write(data);
    host_.output(*this, ev);
}

void Program::publishPending() {
    for (bool isStderr : {false, true})
        if (const auto& pending = log_.takePending(isStderr); pending.size())
            publishOutput(isStderr, pending, {});
}

void Program::closeStream(bool isStderr) {
    Reader& r = isStderr ? errReader_ : outReader_;
    r.src.reset();
    if (r.fd >= 0)
        close(r.fd);
    r.fd = -1;
}

// ---- input --------------------------------------------------------------

Status Program::writeInput(std::string data) {
    if (!child_ || state_ == ProcessState::Stopping || !isSignallableState(state_))
        return Error{ErrorCode::NotRunning, namespec_ + " is not running"};
    if (stdinFd_ < 0)
        return Error{ErrorCode::NoFile, namespec_ + ": stdin is closed"};
    // A program that does not read its stdin must not make the daemon hold
    // whatever a client sends: past the bound the sender is told, and
    // nothing of this write is kept.
    const uint64_t pending = stdinPending_.size() - stdinSent_;
    const uint64_t limit = cfg_.stdinBufferMax;
    if (data.size() > limit || pending > limit - data.size())
        return Error{ErrorCode::Failed, namespec_ + ": stdin is full: " + std::to_string(pending) +
                                            " bytes not read yet, " + std::to_string(data.size()) +
                                            " more would pass stdin_buffer_max (" + std::to_string(limit) +
                                            " bytes)"};
    stdinPending_ += data;
    flushInput();
    if (stdinFd_ < 0)
        return Error{ErrorCode::NoFile, namespec_ + ": stdin is closed"};
    return okStatus();
}

void Program::flushInput() {
    // stdinSent_ marks what was written; the written prefix is dropped only
    // when it is at least half the buffer, so draining is linear in the
    // bytes sent, however small the pipe's writes are.
    while (stdinSent_ < stdinPending_.size() && stdinFd_ >= 0) {
        ssize_t n = write(stdinFd_, stdinPending_.data() + stdinSent_, stdinPending_.size() - stdinSent_);
        if (n > 0) {
            stdinSent_ += size_t(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (stdinSent_ * 2 >= stdinPending_.size()) {
                stdinPending_.erase(0, stdinSent_);
                stdinSent_ = 0;
            }
            // The program is not reading: keep the bytes, never drop them,
            // and write the rest when the pipe has room.
            if (!stdinSrc_)
                stdinSrc_ = host_.loop().addIo(stdinFd_, EPOLLOUT, [this](uint32_t) { flushInput(); });
            return;
        }
        log::warn("stdin of " + namespec_ + " closed: " + std::strerror(errno));
        closeInput();
        return;
    }
    stdinPending_.clear();
    stdinSent_ = 0;
    stdinSrc_.reset();
}

void Program::closeInput() {
    stdinSrc_.reset();
    stdinPending_.clear();
    stdinSent_ = 0;
    if (stdinFd_ >= 0)
        close(stdinFd_);
    stdinFd_ = -1;
}

// ---- log files ----------------------------------------------------------

void Program::setLogPaths(std::string out, std::string err) {
    stdoutLogPath_ = std::move(out);
    stderrLogPath_ = std::move(err);
}

void Program::openLogFiles() {
    auto open = [this](const std::string& path, const config::LogFileConfig& c, std::unique_ptr<LogFile>& f) {
        if (path.empty())
            return;
        f = std::make_unique<LogFile>(path, c.maxBytes, c.backups);
        std::string err;
        if (!f->open(&err)) {
            log::error("cannot open log file for " + namespec_ + ": " + err);
            f.reset();
        }
    };
    open(stdoutLogPath_, cfg_.stdoutLog, stdoutFile_);
    open(stderrLogPath_, cfg_.stderrLog, stderrFile_);
}

void Program::reopenLogFiles() {
    if (stdoutFile_)
        stdoutFile_->reopen();
    if (stderrFile_)
        stderrFile_->reopen();
}

void Program::clearLogs() {
    log_.clear();
    if (stdoutFile_)
        stdoutFile_->clear();
    if (stderrFile_)
        stderrFile_->clear();
}

} // namespace scopevisor
