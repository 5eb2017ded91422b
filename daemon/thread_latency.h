// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The engine's thread answers D-Bus and adapter callers while a thousand
// programs start or stop around it on a few CPUs. Its work per wake-up is
// short (well under a millisecond), but woken by a call it may wait for a
// CPU behind processes with a scheduler slice of several milliseconds.
// Linux 6.12 and later (EEVDF) let a thread ask for a shorter slice, without
// privilege: it is then picked sooner when it wakes, and preempted sooner
// when it runs long. Older kernels ignore the request for normal threads.
#pragma once

#include <cstdint>

namespace scopevisor {

// Ask for `sliceNs` for the calling thread (the kernel keeps it within 0.1
// to 100 ms), keeping its policy and niceness. Threads and processes it
// creates later get the default slice again (reset on fork). Returns 0 or
// an errno; failure only means the default slice. A thread with a negative
// niceness keeps the default slice (reset on fork would drop the niceness of
// its children).
int requestShortSlice(uint64_t sliceNs);

} // namespace scopevisor
