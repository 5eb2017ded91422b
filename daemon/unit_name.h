// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The name of a program's transient scope (docs/architecture.md §10).
//
// A program with namespec N runs in "scopevisor-<E>.scope", where E is N
// escaped as `systemd-escape N` does (systemd's unit_name_escape()): ASCII
// letters, digits, ':', '_' and '.' stay, '/' becomes '-', and every other
// byte, '-' and '\' included, becomes "\xNN" (lower-case hex); a leading '.'
// is escaped too. So "web:worker_01" gives "scopevisor-web:worker_01.scope"
// and "api-v2" gives "scopevisor-api\x2dv2.scope".
//
// The prefix keeps program scopes apart from everybody else's: a program
// called "init" or "session-1" must not collide with PID 1's init.scope or
// logind's session scopes, and `systemctl list-units 'scopevisor-*'` lists
// exactly the programs.
//
// systemd refuses unit names of 256 bytes or more. A namespec whose escaped
// form does not fit is cut (never inside an \xNN sequence) and followed by
// '_' and the 16 hex digits of its 64-bit FNV-1a hash, so distinct
// namespecs keep distinct names and the name stays stable across restarts.
#pragma once

#include <string>
#include <string_view>

namespace scopevisor {

// systemd's unit_name_escape(): the escaping of `systemd-escape STRING`.
std::string systemdEscape(std::string_view s);

// "scopevisor-<escaped namespec>.scope", at most 255 bytes.
std::string scopeNameFor(std::string_view namespec);

inline constexpr std::string_view kScopePrefix = "scopevisor-";
inline constexpr std::string_view kScopeSuffix = ".scope";
inline constexpr size_t kUnitNameMax = 255; // systemd's UNIT_NAME_MAX - 1

} // namespace scopevisor
