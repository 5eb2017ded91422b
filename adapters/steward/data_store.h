// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Where the writing methods (REQToFile, REQToFileAppend, REQErrorLog,
// REQPing, REQPong, REQHello) put their data: Steward's selectFileNaming,
// under data_folder, with names from the message checked so that no message
// can write outside the folder.
#pragma once

#include <optional>
#include <string>

#include "message.h"

namespace steward {

class DataStore {
public:
    explicit DataStore(std::string root) : root_(std::move(root)) {}
    const std::string& root() const { return root_; }

    // <root>/<Directory>/<node>/<FileName> following selectFileNaming; nullopt
    // with *error set when a component is empty or would leave the folder.
    std::optional<std::string> pathFor(const Message& m, std::string* error) const;
    // <root>/<dir>/<node>/<file> for REQHello (always the sender's folder).
    std::optional<std::string> pathOf(const std::string& dir, const std::string& node, const std::string& file,
                                      std::string* error) const;

    enum class Mode { Append, Truncate };
    // Creates the folders (0700) and writes `data`; false with *error set.
    bool write(const std::string& path, const std::string& data, Mode mode, std::string* error) const;

private:
    std::string root_;
};

} // namespace steward
