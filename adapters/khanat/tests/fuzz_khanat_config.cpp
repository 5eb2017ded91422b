// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Fuzz target of the khaganat.cfg parser (khanat_config.cpp): any text, read
// with configparser's rules, then the command split of every program. The
// file's [config] and program sections must come out consistent.
//
// Input: the file's text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "khanat_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    khanat::KhanatFile f;
    std::string error;
    if (!khanat::parseKhanatCfg(text, "/fuzz/khaganat.cfg", &f, &error)) {
        if (error.empty())
            std::abort(); // a refusal always says why
        return 0;
    }
    for (const auto& p : f.programs) {
        if (p.name.empty() || p.logsize < 0 || p.bufsize < 0)
            std::abort();
        for (const auto& word : khanat::splitCommand(p.command))
            if (word.empty())
                std::abort(); // str.split() never gives an empty word
    }
    return 0;
}
