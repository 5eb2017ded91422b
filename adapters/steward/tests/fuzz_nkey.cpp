// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libFuzzer target for the nkey seed file reader (nkey.h): any file content
// gives a seed or none, and any seed a public key or a reason.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "nkey.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    std::string err;
    if (auto seed = steward::findUserSeed(in)) {
        auto pub = steward::userPublicKeyFromSeed(*seed, &err);
        if (pub && (pub->size() != 56 || pub->front() != 'U'))
            __builtin_trap(); // a user public key is "U" and 55 more base32 characters
    }
    // The decoder alone, on bytes that are not a seed file at all.
    (void)steward::userPublicKeyFromSeed(in, &err);
    if (auto raw = steward::base32Decode(in); raw && steward::base32Decode(steward::base32Encode(*raw)) != raw)
        __builtin_trap();
    return 0;
}
