// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The daemon's own log, as supervisord keeps it: every line the daemon logs
// (logging.h) goes to a byte ring that readMainLog reads (supervisord's
// readLog, XML-RPC /mainlogtail), to `[scopevisord] logfile=` when set, and
// to whoever publishes it to the listeners. Lines come from any thread, so
// the ring and the file are guarded by a mutex; `publish` runs on the
// logging thread and must only hand the line over (the engine posts it to
// its loop).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "log_buffer.h"
#include "log_file.h"
#include "scopevisor/control.h"

namespace scopevisor {

class MainLog {
public:
    using Publish = std::function<void(std::string_view line)>;

    // Installs itself as the log sink for its lifetime. `path` empty: no file.
    MainLog(const std::string& path, uint64_t maxBytes, int backups, Publish publish);
    ~MainLog();
    MainLog(const MainLog&) = delete;
    MainLog& operator=(const MainLog&) = delete;

    // supervisord's readLog: bytes [offset, offset + length) of the ring.
    Result<LogBytes> read(int64_t offset, int64_t length);
    // supervisord's clearLog: the ring and the file.
    void clear();
    // SIGUSR2: open the file again at its path.
    void reopen();
    // Stop being the log sink (before the destructor, for an owner that
    // goes away first).
    void uninstall();

private:
    void write(std::string_view line);

    std::mutex mutex_;
    LogBuffer ring_{100000, 1024 * 1024};
    uint64_t seq_ = 1;
    std::unique_ptr<LogFile> file_;
    Publish publish_;
};

} // namespace scopevisor
