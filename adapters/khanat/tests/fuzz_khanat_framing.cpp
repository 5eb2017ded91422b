// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Fuzz target of the request framing (khanat_http_framing.cpp): any bytes,
// fed in pieces of the sizes a network would choose, request after
// request as on a keep-alive connection. Whatever comes out stays within
// the limits.
//
// Input: the first byte picks the piece size (1 to 256), the rest is the
// connection's byte stream.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "khanat_http_framing.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    const size_t piece = size_t(data[0]) + 1;
    std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
    khanat::FramingLimits limits;
    limits.maxHeadBytes = 1024;
    limits.maxHeaderCount = 16;
    limits.maxBodyBytes = 4096;
    khanat::RequestFramer framer(limits);
    size_t off = 0;
    while (off < in.size()) {
        std::string_view chunk = in.substr(off, piece);
        size_t used = 0;
        auto st = framer.feed(chunk, &used);
        if (used > chunk.size())
            std::abort();
        off += used;
        if (st == khanat::RequestFramer::State::Refused) {
            if (framer.refusal() < 400 || framer.refusal() > 599 || framer.reason().empty())
                std::abort();
            return 0;
        }
        if (st == khanat::RequestFramer::State::Complete) {
            const auto& r = framer.request();
            if (r.body.size() > limits.maxBodyBytes || r.method.empty())
                std::abort();
            framer.reset();
        } else if (used == 0 && st == khanat::RequestFramer::State::NeedMore) {
            std::abort(); // it must take what it was given
        }
    }
    return 0;
}
