// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The state of one load and the typed, expanded reading of a section's keys
// that every part of the loader uses.
#include "config_loader.h"

#include <algorithm>

namespace scopevisor::config::detail {

namespace {

bool isOneOf(std::string_view key, std::span<const std::string_view> keys)
{
    return std::find(keys.begin(), keys.end(), key) != keys.end();
}

} // namespace

std::string dirnameOf(const std::string& file)
{
    const size_t slash = file.rfind('/');
    if (slash == std::string::npos)
        return ".";
    return slash == 0 ? "/" : file.substr(0, slash);
}

const ini::Entry* Loader::find(const ini::Section& s, std::string_view key) const
{
    if (const ini::Entry* e = s.find(key))
        return e;
    if (!defaults || &s == defaults || s.name == "access" || s.name.starts_with("adapter:"))
        return nullptr;
    return defaults->find(key);
}

void Loader::warn(const SourceLoc& loc, const std::string& section, const std::string& key,
                  const std::string& message)
{
    for (const Diagnostic& d : cfg.warnings)
        if (d.loc == loc && d.section == section && d.key == key && d.message == message)
            return;
    cfg.warnings.push_back(Diagnostic{loc, section, key, message});
}

void Loader::warnUnknownKeys(const ini::Section& s, std::span<const std::string_view> known,
                             std::span<const std::string_view> more)
{
    for (const ini::Entry& e : s.entries)
        if (!isOneOf(e.key, known) && !isOneOf(e.key, more))
            warn(e.loc, s.name, e.key, "unknown key, ignored");
}

std::optional<std::string> SectionReader::raw(std::string_view key) const
{
    const ini::Entry* e = entry(key);
    if (!e)
        return std::nullopt;
    return e->value;
}

std::string SectionReader::expandFor(std::string_view key, const std::string& text)
{
    const ini::Entry* e = entry(key);
    vars_["here"] = dirnameOf(e ? e->loc.file : section_.loc.file);
    try {
        return expand(text, vars_);
    } catch (const std::invalid_argument& ex) {
        fail(key, ex.what());
    }
}

std::optional<std::string> SectionReader::get(std::string_view key)
{
    const ini::Entry* e = entry(key);
    if (!e)
        return std::nullopt;
    return expandFor(key, e->value);
}

bool SectionReader::boolean(std::string_view key, bool def)
{
    return convert(key, [](const std::string& v) { return parseBool(v); }).value_or(def);
}

long long SectionReader::integer(std::string_view key, long long def, long long min, long long max)
{
    return convert(key, [&](const std::string& v) { return parseInteger(v, min, max); }).value_or(def);
}

uint64_t SectionReader::bytes(std::string_view key, uint64_t def)
{
    return convert(key, [](const std::string& v) { return parseByteSize(v); }).value_or(def);
}

int SectionReader::octal(std::string_view key, int def, int max)
{
    return convert(key, [&](const std::string& v) { return parseOctal(v, max); }).value_or(def);
}

void SectionReader::fail(std::string_view key, const std::string& message) const
{
    const ini::Entry* e = entry(key);
    throw ConfigError(e ? e->loc : section_.loc, section_.name, std::string(key), message);
}

void SectionReader::warn(std::string_view key, const std::string& message)
{
    const ini::Entry* e = entry(key);
    loader_.warn(e ? e->loc : section_.loc, section_.name, std::string(key), message);
}


} // namespace scopevisor::config::detail
