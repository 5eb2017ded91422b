// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Fuzz target of the supervisor-rs command parser: one message as the
// server reads it, through the plain parser and the signed-mode framing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "srs_command.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view raw(reinterpret_cast<const char*>(data), size);
    std::string_view plain = srs::stripTrailingNuls(raw);
    if (srs::validUtf8(plain)) {
        srs::ParseOutcome p = srs::parseCommand(plain);
        if (p.command.has_value() == !p.error.empty())
            std::abort(); // exactly one of command and error
        if (p.command && p.command->preps.size() * 2 + 2 > plain.size() + 2)
            std::abort();
    }
    srs::SignedSplit s = srs::splitSigned(raw);
    if (s.message) {
        if (s.message->keyName.empty() || s.message->keyName.find(';') != std::string::npos)
            std::abort();
        if (auto cmd = srs::commandFromDecrypted(s.message->signature))
            (void)srs::parseCommand(*cmd);
    } else if (s.error.empty()) {
        std::abort();
    }
    return 0;
}
