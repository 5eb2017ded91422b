// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The systemd resource controls of [program:x]: memory_max, memory_high,
// cpu_weight, cpu_quota, tasks_max and io_weight. Each is read once, when
// the configuration is loaded, with systemd's syntax (what
// `systemctl set-property` takes for MemoryMax=, CPUWeight=, CPUQuota=,
// TasksMax=, IOWeight=), into the scope property that carries it on the
// bus. The systemd backend sends these as they are, so a value the loader
// accepted can never make a spawn fail, and there is no second parser that
// could disagree with this one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace scopevisor::config {

// One resource control as the transient unit property systemd takes:
//   MemoryMax, MemoryHigh, TasksMax   uint64_t (UINT64_MAX is infinity)
//   MemoryMaxScale, MemoryHighScale,
//   TasksMaxScale                     uint32_t, the percentage forms, as a
//                                     fraction of UINT32_MAX
//   CPUWeight, IOWeight               uint64_t, 1 to 10000
//   CPUQuotaPerSecUSec                uint64_t, µs of CPU time per second
struct ResourceProperty {
    std::string name;
    std::variant<uint64_t, uint32_t> value;
    bool operator==(const ResourceProperty&) const = default;
};

inline constexpr const char* kResourceKeys[] = {"memory_max", "memory_high", "cpu_weight",
                                                "cpu_quota",  "tasks_max",   "io_weight"};
bool isResourceKey(std::string_view key);

// The value of resource key `key` (trimmed, not %-expanded) as its
// property. Throws std::invalid_argument whose what() names the value and
// what the key takes (the loader puts "file:line: [section] key: " before
// it), also for an unknown key.
ResourceProperty parseResource(std::string_view key, std::string_view value);

// The pieces, after systemd's own functions of the same names:

// parse_size() with base 1024: decimal digits, an optional fraction of up
// to 18 digits, an optional B, K, M, G, T, P or E suffix ("512", "4K",
// "1.5G"). nullopt for anything else, or more than UINT64_MAX bytes.
std::optional<uint64_t> parseSize(std::string_view v);
// parse_permyriad(): "N%", "N.N%" or "N.NN%" as hundredths of a percent
// ("12.5%" is 1250). nullopt for anything else, or above 1000000% (the
// quota of 10000 CPUs: more is a typo).
std::optional<uint64_t> parsePermyriad(std::string_view v);
// UINT32_SCALE_FROM_PERMYRIAD: permyriad as a fraction of UINT32_MAX,
// rounded; 100% and more is UINT32_MAX.
uint32_t scaleFromPermyriad(uint64_t permyriad);

} // namespace scopevisor::config
