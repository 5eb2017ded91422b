// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libFuzzer target for the steward.sock JSON parser: any input gives
// messages or std::invalid_argument; what parses must gob-encode and decode.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "message.h"
#include "gob_codec.h"
#include "message_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    try {
        for (const auto& m : steward::parseMessageArray(std::string_view(reinterpret_cast<const char*>(data), size))) {
            if (!(steward::decodeMessage(steward::encodeMessage(m)) == m))
                __builtin_trap();
        }
    } catch (const std::invalid_argument&) {
    } catch (const steward::gob::DecodeError&) {
        // Only a PreviousMessage chain deeper than the decoder accepts.
    }
    return 0;
}
