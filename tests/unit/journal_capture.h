// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A JournalSink::Sender for tests: each entry becomes a field -> value map.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "journal_sink.h"
#include "log_buffer.h"

using JournalEntry = std::map<std::string, std::string>;

// Appends to `entries`; fails with -*fail instead while *fail is set.
inline scopevisor::JournalSink::Sender captureInto(std::vector<JournalEntry>& entries, const int* fail = nullptr) {
    return [&entries, fail](const struct iovec* iov, int n) {
        if (fail && *fail)
            return -*fail;
        JournalEntry e;
        for (int i = 0; i < n; ++i) {
            std::string f(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
            auto eq = f.find('=');
            e[f.substr(0, eq)] = f.substr(eq + 1);
        }
        entries.push_back(std::move(e));
        return 0;
    };
}

// One program's output as the engine publishes it (Program::readOutput,
// Program::publishPending): its log buffer splits and numbers the lines and
// every read becomes one OutputEvent for `listener`.
struct ProgramOutputs {
    std::string namespec, name;
    pid_t pid = 0;
    std::string unit;
    scopevisor::ProgramLog log;
    scopevisor::Listener& listener;

    ProgramOutputs(scopevisor::Listener& to, std::string ns, uint64_t lines = 100, uint64_t bytes = 1 << 20)
        : namespec(std::move(ns)), log(lines, bytes), listener(to) {
        const size_t colon = namespec.find(':');
        name = colon == std::string::npos ? namespec : namespec.substr(colon + 1);
    }
    // A pipe read.
    void out(bool isStderr, std::string_view data) { publish(isStderr, log.append(isStderr, data), data); }
    // The pipe's EOF.
    void eof(bool isStderr) { publish(isStderr, log.flush(isStderr), {}); }
    // The run is over (or the program removed) with the pipes still open.
    void runOver() {
        for (bool isStderr : {false, true})
            publish(isStderr, log.takePending(isStderr), {});
    }

private:
    void publish(bool isStderr, const scopevisor::ProgramLog::NewLines& n, std::string_view data) {
        if (n.texts.empty() && data.empty())
            return;
        const scopevisor::OutputEvent ev{.namespec = namespec,
                                         .name = name,
                                         .stream = isStderr ? scopevisor::Stream::Stderr : scopevisor::Stream::Stdout,
                                         .pid = pid,
                                         .unit = unit,
                                         .firstLine = n.firstLine,
                                         .firstSeq = n.firstSeq,
                                         .lines = n.texts,
                                         .data = data};
        listener.output(ev);
    }
};
