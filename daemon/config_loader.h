// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Private to the configuration loader: the state of one load, shared by
// config.cpp (files, includes, daemon and server sections) and
// config_program.cpp ([program:x] and [group:x]).
#pragma once

#include <climits>
#include <span>
#include <optional>
#include <string>
#include <string_view>

#include "config.h"
#include "config_values.h"
#include "ini.h"

namespace scopevisor::config::detail {

struct Loader {
    const LoadContext& ctx;
    Config& cfg;
    ini::Document doc;
    // Names every value may use: ENV_<VAR> (the daemon's environment, then
    // [supervisord] environment=) and host_node_name. "here" is per value.
    Vars globals;

    // RawConfigParser's [DEFAULT]: its keys are the fallback of every
    // section the loader interprets. Set once all files are read.
    const ini::Section* defaults = nullptr;
    const ini::Entry* find(const ini::Section& s, std::string_view key) const;
    // Adds a warning unless the same one is there (numprocs repeats them).
    void warn(const SourceLoc& loc, const std::string& section, const std::string& key,
              const std::string& message);
    // One "unknown key" warning per key of `s` that is in neither list.
    void warnUnknownKeys(const ini::Section& s, std::span<const std::string_view> known,
                         std::span<const std::string_view> more = {});
};

// Typed, expanded access to the keys of one section.
class SectionReader {
public:
    SectionReader(Loader& l, const ini::Section& s, Vars vars)
        : loader_(l), section_(s), vars_(std::move(vars)) {}

    Vars& vars() noexcept { return vars_; }
    const std::string& name() const noexcept { return section_.name; }
    const ini::Section& section() const noexcept { return section_; }
    Loader& loader() noexcept { return loader_; }

    const ini::Entry* entry(std::string_view key) const { return loader_.find(section_, key); }
    // The value as written; nullopt when the key is absent.
    std::optional<std::string> raw(std::string_view key) const;
    // The value expanded with vars() and "here"; nullopt when absent.
    std::optional<std::string> get(std::string_view key);
    std::string get(std::string_view key, const std::string& def) { return get(key).value_or(def); }
    // Expand a text that belongs to `key` (for defaults such as process_name).
    std::string expandFor(std::string_view key, const std::string& text);

    bool boolean(std::string_view key, bool def);
    long long integer(std::string_view key, long long def, long long min = LLONG_MIN,
                      long long max = LLONG_MAX);
    uint64_t bytes(std::string_view key, uint64_t def);
    int octal(std::string_view key, int def, int max);

    // Run `convert` on the expanded value; its std::invalid_argument becomes
    // a ConfigError at the key. nullopt when the key is absent.
    template <class F>
    auto convert(std::string_view key, F&& convert) -> std::optional<decltype(convert(std::string()))>
    {
        std::optional<std::string> v = get(key);
        if (!v)
            return std::nullopt;
        try {
            return convert(*v);
        } catch (const std::invalid_argument& e) {
            fail(key, e.what());
        }
    }

    // A ConfigError at the key's line (the section header when it is absent).
    [[noreturn]] void fail(std::string_view key, const std::string& message) const;
    void warn(std::string_view key, const std::string& message);

private:
    Loader& loader_;
    const ini::Section& section_;
    Vars vars_;
};

std::string dirnameOf(const std::string& file);

// [program:x] and [group:x] sections into cfg.groups (config_program.cpp).
void buildGroups(Loader& l);

} // namespace scopevisor::config::detail
