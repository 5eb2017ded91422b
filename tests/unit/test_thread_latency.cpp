// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The engine thread's short scheduler slice (daemon/thread_latency.h), read
// back from the kernel.
#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include <sys/resource.h>

#include "thread_latency.h"

using namespace scopevisor;

namespace {

// se.slice of the calling thread, where the kernel shows it (6.12+).
std::optional<unsigned long> ownSlice() {
    std::ifstream f("/proc/thread-self/sched");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("se.slice", 0) == 0)
            return std::stoul(line.substr(line.find(':') + 1));
    return std::nullopt;
}

} // namespace

TEST(ThreadLatency, TheThreadGetsItsSliceAndItsChildrenTheDefault) {
    // In a thread of its own, so the test program's main thread is untouched.
    std::thread([] {
        const auto before = ownSlice();
        if (!before)
            GTEST_SKIP() << "this kernel does not show se.slice (custom slices came with Linux 6.12)";
        const int nice = ::getpriority(PRIO_PROCESS, 0);
        ASSERT_EQ(requestShortSlice(500000), 0);
        EXPECT_EQ(ownSlice(), 500000ul);
        EXPECT_EQ(::getpriority(PRIO_PROCESS, 0), nice); // niceness kept
        std::optional<unsigned long> child;
        std::thread([&] { child = ownSlice(); }).join();
        EXPECT_EQ(child, before) << "a thread made afterwards must get the default slice";
    }).join();
}

TEST(ThreadLatency, ASliceOutOfRangeIsClamped) {
    std::thread([] {
        if (!ownSlice())
            GTEST_SKIP() << "no custom slices on this kernel";
        ASSERT_EQ(requestShortSlice(1), 0);
        EXPECT_EQ(ownSlice(), 100000ul); // the kernel's least: 0.1 ms
    }).join();
}
