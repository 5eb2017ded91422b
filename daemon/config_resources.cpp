// SPDX-License-Identifier: LGPL-2.1-or-later
#include "config_resources.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <stdexcept>

#include "config_values.h"

namespace scopevisor::config {

using detail::quote;
using detail::toU64;

namespace {

constexpr uint64_t kUsecPerSec = 1000000;
constexpr uint64_t kMaxPercent = 1000000; // see parsePermyriad()
constexpr uint64_t kMaxWeight = 10000; // systemd's CGROUP_WEIGHT_MAX

__extension__ typedef unsigned __int128 u128;

[[noreturn]] void refuse(std::string_view value, const char* expected)
{
    throw std::invalid_argument("invalid value " + quote(value) + " (expected " + expected + ")");
}

// MemoryMax=, MemoryHigh= and TasksMax= take an absolute number, a
// percentage (sent as the *Scale property) or infinity alike.
std::optional<ResourceProperty> limit(const std::string& name, std::string_view value, bool isSize)
{
    if (value == "infinity")
        return ResourceProperty{name, UINT64_MAX};
    if (value.ends_with('%')) {
        const std::optional<uint64_t> p = parsePermyriad(value);
        if (!p || *p > 10000)
            return std::nullopt;
        return ResourceProperty{name + "Scale", scaleFromPermyriad(*p)};
    }
    uint64_t n = 0;
    if (isSize) {
        const std::optional<uint64_t> bytes = parseSize(value);
        if (!bytes)
            return std::nullopt;
        n = *bytes;
    } else if (!toU64(value, n) || n == 0) {
        return std::nullopt;
    }
    return ResourceProperty{name, n};
}

} // namespace

bool isResourceKey(std::string_view key)
{
    return std::find(std::begin(kResourceKeys), std::end(kResourceKeys), key) != std::end(kResourceKeys);
}

std::optional<uint64_t> parseSize(std::string_view v)
{
    static constexpr std::string_view kSuffixes = "BKMGTPE";
    uint64_t mult = 1;
    if (!v.empty()) {
        const size_t idx = kSuffixes.find(v.back());
        if (idx != std::string_view::npos) {
            mult = 1ULL << (10 * idx);
            v.remove_suffix(1);
        }
    }
    const size_t dot = v.find('.');
    uint64_t whole = 0, result = 0;
    if (!toU64(v.substr(0, dot), whole) || __builtin_mul_overflow(whole, mult, &result))
        return std::nullopt;
    if (dot != std::string_view::npos) {
        const std::string_view f = v.substr(dot + 1);
        uint64_t frac = 0, div = 1;
        if (f.empty() || f.size() > 18 || !toU64(f, frac))
            return std::nullopt;
        for (size_t i = 0; i < f.size(); ++i)
            div *= 10;
        // frac/div of one unit, without overflowing for the big units.
        const uint64_t part = uint64_t(u128(frac) * mult / div);
        if (__builtin_add_overflow(result, part, &result))
            return std::nullopt;
    }
    return result;
}

std::optional<uint64_t> parsePermyriad(std::string_view v)
{
    if (!v.ends_with('%'))
        return std::nullopt;
    v.remove_suffix(1);
    const size_t dot = v.find('.');
    uint64_t whole = 0, frac = 0;
    if (!toU64(v.substr(0, dot), whole) || whole > kMaxPercent)
        return std::nullopt;
    if (dot != std::string_view::npos) {
        const std::string_view f = v.substr(dot + 1);
        if (f.empty() || f.size() > 2 || !toU64(f, frac))
            return std::nullopt;
        if (f.size() == 1)
            frac *= 10;
    }
    return whole * 100 + frac;
}

uint32_t scaleFromPermyriad(uint64_t permyriad)
{
    if (permyriad >= 10000)
        return UINT32_MAX;
    return uint32_t((permyriad * UINT32_MAX + 5000) / 10000);
}

ResourceProperty parseResource(std::string_view key, std::string_view value)
{
    if (key == "memory_max" || key == "memory_high") {
        if (auto p = limit(key == "memory_max" ? "MemoryMax" : "MemoryHigh", value, true))
            return *p;
        refuse(value, "bytes with an optional K, M, G, T, P or E suffix (less than 16E), "
                      "a percentage up to 100%, or infinity");
    }
    if (key == "tasks_max") {
        if (auto p = limit("TasksMax", value, false))
            return *p;
        refuse(value, "a positive integer, a percentage up to 100%, or infinity");
    }
    if (key == "cpu_weight" || key == "io_weight") {
        uint64_t w = 0;
        if (!toU64(value, w) || w < 1 || w > kMaxWeight)
            refuse(value, "an integer from 1 to 10000");
        return {key == "cpu_weight" ? "CPUWeight" : "IOWeight", w};
    }
    if (key == "cpu_quota") {
        const std::optional<uint64_t> p = parsePermyriad(value);
        if (!p || *p == 0)
            refuse(value, "a percentage above 0, such as 50% or 200%");
        // CPUQuota=N% is N% of one CPU's time per second.
        return {"CPUQuotaPerSecUSec", *p * (kUsecPerSec / 10000)};
    }
    throw std::invalid_argument("unknown resource key " + quote(key));
}

} // namespace scopevisor::config
