// SPDX-License-Identifier: LGPL-2.1-or-later
//
// What the daemon keeps across its own restarts (docs/architecture.md §5): for each
// program the desired state the user asked for (so a stopped program stays
// stopped after a reboot, supervisord issue #877) and, while it runs, what a
// new daemon needs to adopt it: pid, the pid's start time (so a recycled pid
// is never mistaken for the program), when it started, its unit, and where
// its line numbering and byte offsets stood.
//
// The file is plain text, one program per line, tab separated, written to a
// temporary file, synced and renamed, so a crash never leaves half a file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <sys/types.h>

namespace scopevisor {

enum class Desired { Default, Started, Stopped };

struct ProgramRecord {
    Desired desired = Desired::Default;
    pid_t pid = 0;                // 0: not running
    uint64_t pidStartTicks = 0;   // /proc/<pid>/stat field 22
    uint64_t startedAtUs = 0;
    std::string unit;
    uint64_t stdoutNextLine = 1, stdoutBytes = 0;
    uint64_t stderrNextLine = 1, stderrBytes = 0;
    uint64_t nextSeq = 1;
};

using StateMap = std::map<std::string, ProgramRecord>; // by namespec

// Missing or unreadable file: empty map (a first start). Bad lines are skipped.
StateMap readStateFile(const std::string& path);
// The same for the file's text (a file in any other format: empty map).
StateMap parseStateFile(std::string_view text);
// Atomic replace. Returns false with *error set on failure.
bool writeStateFile(const std::string& path, const StateMap& state, std::string* error);
// The two halves of writeStateFile: the text, and an atomic replace of a
// file with a text: a new temporary file of a unique name in the same
// directory (mode 0600), fsync, rename over `path`, fsync of the directory.
std::string formatStateFile(const StateMap& state);
bool writeFileAtomically(const std::string& path, const std::string& data, std::string* error);

// The start time of `pid` in clock ticks since boot; 0 if no such process
// (or a zombie).
uint64_t processStartTicks(pid_t pid);
// The start time in a line of /proc/<pid>/stat (field 22, counted after the
// last ')' since the command name may hold anything); 0 for a zombie or a
// line that is not one.
uint64_t parseStatStartTicks(std::string_view statLine);

// [scopevisord] state_dir, else /var/lib/scopevisor for root, else
// $XDG_STATE_HOME/scopevisor (~/.local/state/scopevisor).
std::string stateDirectory(const std::string& configured);

// Where the state of the daemon reading `configPath` lives: one file per
// configuration, so that daemons of different configurations never adopt
// each other's programs.
std::string stateFilePath(const std::string& stateDir, const std::string& configPath);

} // namespace scopevisor
