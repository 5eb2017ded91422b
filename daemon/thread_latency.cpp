// SPDX-License-Identifier: LGPL-2.1-or-later
#include "thread_latency.h"

#include <cerrno>
#include <cstdint>

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace scopevisor {
namespace {

// struct sched_attr of sched_setattr(2), first version (48 bytes); glibc
// 2.36 has neither the type nor the call.
struct SchedAttr {
    uint32_t size;
    uint32_t policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime; // SCHED_OTHER: the requested slice (Linux 6.12+)
    uint64_t deadline;
    uint64_t period;
};
static_assert(sizeof(SchedAttr) == 48);

constexpr uint64_t kResetOnFork = 0x01; // SCHED_FLAG_RESET_ON_FORK

} // namespace

int requestShortSlice(uint64_t sliceNs) {
    const int policy = ::sched_getscheduler(0);
    if (policy != SCHED_OTHER)
        return EPERM; // real-time or idle: not ours to change
    errno = 0;
    const int nice = ::getpriority(PRIO_PROCESS, 0);
    if (errno)
        return errno;
    // Reset on fork also puts a negative niceness back to 0 in every thread
    // and child made afterwards: the programs would lose the priority that
    // was given to the daemon. Such a daemon keeps the default slice.
    if (nice < 0)
        return EPERM;
    SchedAttr a{};
    a.size = sizeof a;
    a.policy = SCHED_OTHER;
    a.flags = kResetOnFork;
    a.nice = nice;
    a.runtime = sliceNs;
    return ::syscall(SYS_sched_setattr, 0, &a, 0) == 0 ? 0 : errno;
}

} // namespace scopevisor
