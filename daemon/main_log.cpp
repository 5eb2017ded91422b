// SPDX-License-Identifier: LGPL-2.1-or-later
#include "main_log.h"

#include "log_read.h"
#include "logging.h"

namespace scopevisor {

MainLog::MainLog(const std::string& path, uint64_t maxBytes, int backups, Publish publish)
    : publish_(std::move(publish)) {
    log::setSink([this](log::Level, std::string_view line) { write(line); });
    if (path.empty())
        return;
    file_ = std::make_unique<LogFile>(path, maxBytes, backups);
    std::string err;
    if (!file_->open(&err)) {
        file_.reset();
        log::error("cannot open the log file: " + err);
    }
}

MainLog::~MainLog() { uninstall(); }

void MainLog::uninstall() { log::setSink(nullptr); }

void MainLog::write(std::string_view line) {
    std::lock_guard lock(mutex_);
    std::string l(line);
    l += '\n';
    ring_.append(l, seq_);
    if (file_)
        file_->write(l);
    if (publish_)
        publish_(line);
}

Result<LogBytes> MainLog::read(int64_t offset, int64_t length) {
    std::lock_guard lock(mutex_);
    BufferByteSource src(ring_);
    return readLogBytes(src, offset, length);
}

void MainLog::clear() {
    std::lock_guard lock(mutex_);
    ring_.clear();
    if (file_)
        file_->clear();
}

void MainLog::reopen() {
    std::lock_guard lock(mutex_);
    if (file_)
        file_->reopen();
}

} // namespace scopevisor
