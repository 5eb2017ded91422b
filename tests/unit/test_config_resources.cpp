// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The resource controls of [program:x] as the scope properties systemd
// takes (config_resources.h): the values `systemctl set-property` would
// send for the same text, and the edges of each syntax.
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "config_resources.h"

using namespace scopevisor::config;

namespace {

uint64_t u64(const char* key, const char* value)
{
    return std::get<uint64_t>(parseResource(key, value).value);
}

uint32_t u32(const char* key, const char* value)
{
    return std::get<uint32_t>(parseResource(key, value).value);
}

std::string nameOf(const char* key, const char* value)
{
    return parseResource(key, value).name;
}

// The message of the refusal, or "" when the value was taken.
std::string refusal(const char* key, const char* value)
{
    try {
        parseResource(key, value);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST(ParseResource, ConvertsLikeSystemctl)
{
    EXPECT_EQ(u64("memory_max", "1024"), 1024u);
    EXPECT_EQ(u64("memory_max", "4K"), 4096u);
    EXPECT_EQ(u64("memory_high", "1.5G"), 3ull << 29);
    EXPECT_EQ(u64("memory_max", "infinity"), UINT64_MAX);
    EXPECT_EQ(nameOf("memory_max", "80%"), "MemoryMaxScale");
    EXPECT_EQ(u32("memory_max", "100%"), UINT32_MAX);
    EXPECT_EQ(u32("memory_max", "50%"), 2147483648u); // (50% of UINT32_MAX, rounded) as systemd
    EXPECT_EQ(nameOf("tasks_max", "10%"), "TasksMaxScale");
    EXPECT_EQ(u64("tasks_max", "100"), 100u);
    EXPECT_EQ(u64("cpu_weight", "42"), 42u);
    EXPECT_EQ(nameOf("io_weight", "7"), "IOWeight");
    EXPECT_EQ(u64("cpu_quota", "50%"), 500'000u);
    EXPECT_EQ(u64("cpu_quota", "12.5%"), 125'000u);
    EXPECT_THROW(parseResource("cpu_weight", "0"), std::invalid_argument);
    EXPECT_THROW(parseResource("memory_max", "lots"), std::invalid_argument);
    EXPECT_THROW(parseResource("nice", "1"), std::invalid_argument);
}

TEST(ParseResource, PropertyNames)
{
    EXPECT_EQ(parseResource("memory_max", "1G"), (ResourceProperty{"MemoryMax", uint64_t(1) << 30}));
    EXPECT_EQ(parseResource("memory_high", "1G"), (ResourceProperty{"MemoryHigh", uint64_t(1) << 30}));
    EXPECT_EQ(nameOf("memory_high", "1%"), "MemoryHighScale");
    EXPECT_EQ(parseResource("tasks_max", "infinity"), (ResourceProperty{"TasksMax", UINT64_MAX}));
    EXPECT_EQ(parseResource("cpu_weight", "1"), (ResourceProperty{"CPUWeight", uint64_t(1)}));
    EXPECT_EQ(parseResource("io_weight", "10000"), (ResourceProperty{"IOWeight", uint64_t(10000)}));
    EXPECT_EQ(parseResource("cpu_quota", "200%"), (ResourceProperty{"CPUQuotaPerSecUSec", uint64_t(2'000'000)}));
}

TEST(ParseResource, Sizes)
{
    EXPECT_EQ(u64("memory_max", "0"), 0u);
    EXPECT_EQ(u64("memory_max", "7B"), 7u);
    EXPECT_EQ(u64("memory_max", "1M"), 1u << 20);
    EXPECT_EQ(u64("memory_max", "2T"), 2ull << 40);
    EXPECT_EQ(u64("memory_max", "1P"), 1ull << 50);
    EXPECT_EQ(u64("memory_max", "15E"), 15ull << 60);
    EXPECT_EQ(u64("memory_max", "0.5K"), 512u);
    EXPECT_EQ(u64("memory_max", "1.25M"), 1310720u);
    EXPECT_EQ(u64("memory_max", "1.999999999999999999K"), 2047u); // 18 fraction digits, rounded down
    EXPECT_EQ(u64("memory_max", "15.5E"), (15ull << 60) + (1ull << 59));
    EXPECT_EQ(u64("memory_max", "18446744073709551615"), UINT64_MAX); // 20 digits
    EXPECT_EQ(u64("memory_max", "000000000000000000001K"), 1024u);
    // Too large for 64 bits.
    EXPECT_NE(refusal("memory_max", "16E"), "");
    EXPECT_NE(refusal("memory_max", "17179869184G"), "");
    EXPECT_NE(refusal("memory_max", "16384P"), "");
    EXPECT_NE(refusal("memory_high", "18446744073709551616"), "");
    EXPECT_NE(refusal("memory_max", "99999999999999999999999"), "");
    // Not systemd's syntax (or not what this parser takes of it).
    for (const char* bad : {"", "K", "1.K", ".5K", "1..5K", "1.5.5K", "1.1234567890123456789K", "512m", "1k",
                            "1KB", "1Ki", "-1", "+1", " 1", "1 ", "1 K", "1G512M", "0x10", "1e3", "Infinity",
                            "inf"})
        EXPECT_NE(refusal("memory_max", bad), "") << "'" << bad << "'";
}

TEST(ParseResource, Percentages)
{
    EXPECT_EQ(u32("memory_max", "0%"), 0u);
    EXPECT_EQ(u32("memory_max", "0.5%"), 21474836u); // 50 permyriad of UINT32_MAX, rounded
    EXPECT_EQ(u32("memory_max", "0.01%"), 429497u);
    EXPECT_EQ(u32("memory_high", "99.99%"), 4294537798u);
    EXPECT_EQ(u32("tasks_max", "100%"), UINT32_MAX);
    EXPECT_EQ(u32("tasks_max", "100.00%"), UINT32_MAX);
    EXPECT_EQ(u64("cpu_quota", "0.5%"), 5'000u);
    EXPECT_EQ(u64("cpu_quota", "0.01%"), 100u);
    EXPECT_EQ(u64("cpu_quota", "1000000%"), 10'000'000'000u); // 10000 CPUs: the most taken
    // Above 100% of memory or of the task limit means nothing.
    EXPECT_NE(refusal("memory_max", "100.01%"), "");
    EXPECT_NE(refusal("memory_high", "150%"), "");
    EXPECT_NE(refusal("tasks_max", "101%"), "");
    EXPECT_NE(refusal("cpu_quota", "1000001%"), "");
    for (const char* bad : {"%", "1.%", ".5%", "1.234%", "1%%", "-1%", "1 %", "50‰", "1.5.5%"}) {
        EXPECT_NE(refusal("memory_max", bad), "") << "'" << bad << "'";
        EXPECT_NE(refusal("cpu_quota", bad), "") << "'" << bad << "'";
    }
}

TEST(ParseResource, WeightsQuotaAndTasksEdges)
{
    EXPECT_EQ(u64("cpu_weight", "1"), 1u);
    EXPECT_EQ(u64("cpu_weight", "10000"), 10000u);
    EXPECT_EQ(u64("io_weight", "0001"), 1u);
    for (const char* key : {"cpu_weight", "io_weight"})
        for (const char* bad : {"0", "10001", "18446744073709551616", "", "-1", "1.5", "idle", "50%"})
            EXPECT_NE(refusal(key, bad), "") << key << "='" << bad << "'";
    EXPECT_NE(refusal("cpu_quota", "0%"), "");
    EXPECT_NE(refusal("cpu_quota", "0.00%"), "");
    EXPECT_NE(refusal("cpu_quota", "50"), "");
    EXPECT_NE(refusal("cpu_quota", "infinity"), "");
    EXPECT_EQ(u64("tasks_max", "1"), 1u);
    EXPECT_EQ(u64("tasks_max", "18446744073709551615"), UINT64_MAX);
    EXPECT_EQ(u32("tasks_max", "0%"), 0u);
    for (const char* bad : {"0", "1K", "1.5", "18446744073709551616", ""})
        EXPECT_NE(refusal("tasks_max", bad), "") << "'" << bad << "'";
}

TEST(ParseResource, RefusalsNameTheValueAndTheSyntax)
{
    EXPECT_EQ(refusal("memory_max", "16E"),
              "invalid value '16E' (expected bytes with an optional K, M, G, T, P or E suffix (less than 16E), "
              "a percentage up to 100%, or infinity)");
    EXPECT_EQ(refusal("cpu_weight", "10001"), "invalid value '10001' (expected an integer from 1 to 10000)");
    EXPECT_EQ(refusal("io_weight", "0"), "invalid value '0' (expected an integer from 1 to 10000)");
    EXPECT_EQ(refusal("cpu_quota", "0%"), "invalid value '0%' (expected a percentage above 0, such as 50% or 200%)");
    EXPECT_EQ(refusal("tasks_max", "0"),
              "invalid value '0' (expected a positive integer, a percentage up to 100%, or infinity)");
    EXPECT_EQ(refusal("nice", "1"), "unknown resource key 'nice'");
}

TEST(ParseResource, Keys)
{
    for (const char* key : kResourceKeys)
        EXPECT_TRUE(isResourceKey(key)) << key;
    EXPECT_FALSE(isResourceKey("nice"));
    EXPECT_FALSE(isResourceKey("MemoryMax"));
    EXPECT_FALSE(isResourceKey(""));
}

TEST(ParseResource, Pieces)
{
    EXPECT_EQ(parseSize("1.5G"), uint64_t(3) << 29);
    EXPECT_EQ(parseSize("16E"), std::nullopt);
    EXPECT_EQ(parsePermyriad("12.5%"), 1250u);
    EXPECT_EQ(parsePermyriad("12.05%"), 1205u);
    EXPECT_EQ(parsePermyriad("12"), std::nullopt);
    EXPECT_EQ(scaleFromPermyriad(0), 0u);
    EXPECT_EQ(scaleFromPermyriad(10000), UINT32_MAX);
    EXPECT_EQ(scaleFromPermyriad(20000), UINT32_MAX);
}
