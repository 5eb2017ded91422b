// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libFuzzer target for the gob decoder and the Message binding: any payload
// either decodes or is refused with a DecodeError; it never crashes, leaks
// or hangs. What decodes must survive a re-encode/decode round trip.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gob_codec.h"
#include "message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    try {
        steward::gob::Decoder d;
        (void)d.decodeStream(in);
    } catch (const steward::gob::DecodeError&) {
    }
    try {
        const steward::Message m = steward::decodeMessage(in);
        (void)steward::goFormat(m);
        if (!(steward::decodeMessage(steward::encodeMessage(m)) == m))
            __builtin_trap();
    } catch (const steward::gob::DecodeError&) {
    }
    return 0;
}
