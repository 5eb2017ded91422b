// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The JSON form of messages that operators write to steward.sock: an array
// of Message objects with Steward's JSON keys, matched case-insensitively
// as Go's encoding/json does.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "message.h"

namespace steward {

// Throws std::invalid_argument with a reason for malformed input.
std::vector<Message> parseMessageArray(std::string_view json);

} // namespace steward
