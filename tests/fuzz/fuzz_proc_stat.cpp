// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libFuzzer target for the reader of /proc/<pid>/stat's start time
// (parseStatStartTicks, daemon/state_file.h). The command name in field 2
// is chosen by the program (prctl, exec of any file name) and may hold
// spaces, parentheses and newlines: any line is read or refused, never read
// outside, and a name cannot change the start time read after it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "state_file.h"

using namespace scopevisor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string line(reinterpret_cast<const char*>(data), size); // exact size for ASan
    parseStatStartTicks(line);
    // The same bytes as a command name (at most 64 of them, as the kernel's
    // TASK_COMM_LEN allows less) in a well-formed line: the start time must
    // still be found.
    const std::string comm = line.substr(0, 64);
    const std::string stat = "4242 (" + comm +
                             ") S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654321 1000 100 "
                             "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
    if (parseStatStartTicks(stat) != 987654321u)
        std::abort();
    return 0;
}
