// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The JSON form of messages that operators write to steward.sock: an array
// of Message objects with Steward's JSON keys, matched case-insensitively
// as Go's encoding/json does.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "message.h"

namespace steward {

// Limits of every JSON text the adapter reads: steward.sock documents and
// REQOpCommand's opArg. Nesting deeper than this is refused before a value
// is built.
constexpr unsigned kMaxJsonDepth = 64;
constexpr size_t kMaxMessageJson = 16 * 1024 * 1024; // a whole steward.sock document
constexpr size_t kMaxOpArgJson = 64 * 1024;          // one opArg

// Throws std::invalid_argument with a reason for malformed input (over a
// limit: the reason names it).
std::vector<Message> parseMessageArray(std::string_view json);

} // namespace steward
