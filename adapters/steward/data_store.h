// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Where the writing methods (REQToFile, REQToFileAppend, REQErrorLog,
// REQPing, REQPong, REQHello) put their data: Steward's selectFileNaming,
// under data_folder, with names from the message checked so that no message
// can write outside the folder, and within a quota: messages from other
// nodes must not fill the disk.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "message.h"

namespace steward {

struct DataQuota {
    uint64_t total = 64ull << 20;   // bytes in the whole folder (data_folder_quota)
    uint64_t perFile = 16ull << 20; // bytes in one file (data_file_max)
};

class DataStore {
public:
    explicit DataStore(std::string root, DataQuota quota = {}) : root_(std::move(root)), quota_(quota) {}
    const std::string& root() const { return root_; }

    // <root>/<Directory>/<node>/<FileName> following selectFileNaming; nullopt
    // with *error set when a component is empty or would leave the folder.
    std::optional<std::string> pathFor(const Message& m, std::string* error) const;
    // <root>/<dir>/<node>/<file> for REQHello (always the sender's folder).
    std::optional<std::string> pathOf(const std::string& dir, const std::string& node, const std::string& file,
                                      std::string* error) const;

    enum class Mode { Append, Truncate };
    // Creates the folders (0700) and writes `data`; false with *error set.
    // A write that would take the file over quota.perFile or the folder
    // over quota.total writes nothing and names the key in *error.
    bool write(const std::string& path, const std::string& data, Mode mode, std::string* error);

private:
    // Bytes in regular files under root_ (walked once, then kept up to date).
    uint64_t usedLocked(bool rescan);

    std::string root_;
    DataQuota quota_;
    std::mutex mu_; // one write at a time: the quota check and the write go together
    std::optional<uint64_t> used_;
};

} // namespace steward
