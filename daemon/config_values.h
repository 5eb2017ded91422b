// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Private to the configuration loader: converters from one (already
// expanded) value to its typed meaning, and supervisord's %-expansion.
// Every converter throws std::invalid_argument whose what() is the message
// the caller puts after "file:line: [section] key: ".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "config.h"

namespace scopevisor::config::detail {

// ---- expansion (config_expand.cpp) ----

// A name available to %(name)s: text, or a number (process_num, numprocs).
using ExpValue = std::variant<std::string, long long>;
using Vars = std::map<std::string, ExpValue, std::less<>>;

// Python's `fmt % vars`: %(name)<flags><width><.precision><conversion> and
// %%. An unknown name, a bad specification or an unnamed conversion (which
// Python would fill with the whole dict) throws std::invalid_argument.
std::string expand(std::string_view fmt, const Vars& vars);

// ---- values (config_values.cpp) ----

std::string_view trim(std::string_view s);
std::string lower(std::string_view s);
std::string quote(std::string_view s); // 'value', shortened when long
// Decimal digits only (no sign, no space); false for anything else or more
// than UINT64_MAX.
bool toU64(std::string_view s, uint64_t& out);

bool parseBool(std::string_view s);
AutoRestart parseAutoRestart(std::string_view s);
// Python int(): optional sign, decimal digits, surrounding whitespace.
long long parseInteger(std::string_view s, long long min, long long max);
int parseOctal(std::string_view s, int max); // "022", "0o22"
std::vector<int> parseExitCodes(std::string_view s);
// supervisord 4.2.5's dict_of_key_value_pairs (see the definition). What
// supervisord silently drops is described in `notes` (for warnings).
std::vector<std::pair<std::string, std::string>> parseEnvironment(std::string_view s,
                                                                  std::vector<std::string>* notes = nullptr);
// Program, group and process names: no space, ':' or '/'. Returns s trimmed.
std::string checkName(std::string_view s);
// "admin", "operator", "log-reader", "viewer"; throws otherwise.
std::string checkRole(std::string_view s);
// "~" and "~/x" become $HOME and $HOME/x (as os.path.expanduser does).
std::string expandUser(const std::string& path, const std::map<std::string, std::string>& env);

} // namespace scopevisor::config::detail
