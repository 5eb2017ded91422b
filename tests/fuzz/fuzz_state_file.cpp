// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libFuzzer target for the state file's reader (daemon/state_file.h): a
// file left by a crash, a disk error or another program never crashes the
// daemon, and what it reads writes back as a text that reads the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "state_file.h"

using namespace scopevisor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size); // exact size for ASan
    const StateMap m = parseStateFile(text);
    // Names and units with tabs or newlines cannot come out of a parse, so
    // the round trip is exact.
    const std::string again = formatStateFile(m);
    const StateMap n = parseStateFile(again);
    if (n.size() != m.size())
        std::abort();
    for (auto a = m.begin(), b = n.begin(); a != m.end(); ++a, ++b) {
        const ProgramRecord& x = a->second;
        const ProgramRecord& y = b->second;
        if (a->first != b->first || x.desired != y.desired || x.pid != y.pid || x.pidStartTicks != y.pidStartTicks ||
            x.startedAtUs != y.startedAtUs || x.unit != y.unit || x.stdoutNextLine != y.stdoutNextLine ||
            x.stdoutBytes != y.stdoutBytes || x.stderrNextLine != y.stderrNextLine || x.stderrBytes != y.stderrBytes ||
            x.nextSeq != y.nextSeq)
            std::abort();
    }
    return 0;
}
