// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A JournalSink::Sender for tests: each entry becomes a field -> value map.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "journal_sink.h"

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
