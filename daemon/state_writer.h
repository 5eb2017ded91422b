// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Writes the state file (state_file.h) on a thread of its own. Replacing a
// file takes open, write and rename(2): 0.4 to 3 ms while the file system is
// busy, every 100 ms while a thousand programs change state, and the engine's
// loop must answer D-Bus callers meanwhile. The loop formats the text (cheap)
// and hands it over; the thread writes the newest text it has been given: a
// text not yet written when a newer one comes is dropped, as it is out of
// date anyway. The thread touches nothing but the text and the file.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace scopevisor {

class StateWriter {
public:
    explicit StateWriter(std::string path);
    ~StateWriter(); // writes what is pending, then ends the thread
    StateWriter(const StateWriter&) = delete;
    StateWriter& operator=(const StateWriter&) = delete;

    // Have `text` written soon; returns at once. A failure is logged.
    void post(std::string text);
    // Write `text` before returning, after anything posted before it: for
    // the daemon's last save before it exits.
    bool writeNow(std::string text, std::string* error);

private:
    void run();

    const std::string path_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::optional<std::string> pending_; // newest text not yet taken
    bool writing_ = false;               // the thread is writing a text
    bool stop_ = false;
    std::thread thread_; // last: starts once the members above exist
};

} // namespace scopevisor
