// SPDX-License-Identifier: LGPL-2.1-or-later
#include "state_writer.h"

#include <utility>

#include "logging.h"
#include "state_file.h"

namespace scopevisor {

StateWriter::StateWriter(std::string path) : path_(std::move(path)), thread_([this] { run(); }) {}

StateWriter::~StateWriter() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    changed_.notify_all();
    thread_.join();
}

void StateWriter::post(std::string text) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        pending_ = std::move(text);
    }
    changed_.notify_all();
}

bool StateWriter::writeNow(std::string text, std::string* error) {
    std::unique_lock<std::mutex> lock(mutex_);
    // What was posted is older than `text`: it need not be written, but a
    // write in progress must end first, or it could rename its file over ours.
    pending_.reset();
    changed_.wait(lock, [this] { return !writing_; });
    return writeFileAtomically(path_, text, error);
}

void StateWriter::run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        changed_.wait(lock, [this] { return stop_ || pending_; });
        if (!pending_)
            return; // stopping, nothing left to write
        std::string text = std::move(*pending_);
        pending_.reset();
        writing_ = true;
        lock.unlock();
        std::string error;
        if (!writeFileAtomically(path_, text, &error))
            log::warn("cannot save the state: " + error);
        lock.lock();
        writing_ = false;
        changed_.notify_all();
    }
}

} // namespace scopevisor
