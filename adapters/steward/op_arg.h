// SPDX-License-Identifier: LGPL-2.1-or-later
//
// REQOpCommand's opArg (raw JSON from the network, see node_opcommand.cpp):
// parsed within the bounds of message_json.h before anything acts on it,
// and reduced to the few keys startProc and stopProc read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace steward {

struct OpArg {
    std::string program;       // a program's name, as sent (not yet canonical)
    std::string group;
    std::string method;        // Steward's own subscriber/publisher
    std::string kind;          // "subscriber" or "publisher"
    std::string receivingNode;
    std::optional<int64_t> id; // only when "id" is an integer
};

// nullopt with *error set (naming the limit when one was crossed) when
// `json` is too large, too deep, malformed or not an object. Keys of
// another type than expected are ignored, as before.
std::optional<OpArg> parseOpArg(std::string_view json, std::string* error);

} // namespace steward
