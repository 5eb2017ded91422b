// SPDX-License-Identifier: LGPL-2.1-or-later
//
// supervisor-rs 0.8.5's command protocol (docs/protocols/supervisor-rs.md §2, §3):
// the text "<op> <child>" split on every single space, the signed framing
// "<keyname>;<RSA output>" of encrypted mode, and the exact reply texts,
// typos included.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "scopevisor/adapter.h"

namespace srs {

enum class Op { Restart, Start, Stop, Check, Kill, TryStart, Info, Help };

// The original's split(' '): every single space separates ("a  b" has an
// empty word between).
std::vector<std::string_view> splitSpaces(std::string_view s);

// The case variants the original accepts ("start"/"Start", "info"/"INFO", "-h", ...).
std::optional<Op> parseOp(std::string_view word) noexcept;
const char* opName(Op op) noexcept; // lower case
scopevisor::Verb verbFor(Op op) noexcept;

struct Command {
    Op op = Op::Check;
    std::string child; // "" = none given, or "all" for check/kill/info
    bool hasChild = false;
    std::vector<std::pair<std::string, std::string>> preps; // on/with pairs, ignored by the server
};

struct ParseOutcome {
    std::optional<Command> command;
    std::string error; // the reply text when there is no command
};

// The server-side parse of one plain message (already stripped of trailing
// NULs). Unlike the original, a bare op that needs a child and an empty
// message get an error reply instead of a panic.
ParseOutcome parseCommand(std::string_view text);

// The plain-mode message: the bytes of one read with trailing 0x00 removed.
std::string_view stripTrailingNuls(std::string_view raw) noexcept;

// Encrypted mode: "<keyname>;<signature>", split at the first ';'.
struct SignedMessage {
    std::string keyName;
    std::string signature;
};
struct SignedSplit {
    std::optional<SignedMessage> message;
    std::string error; // "Cannot parse encrypt data" / "Keyname or command is empty"
};
// Trailing NULs are NOT stripped here: a signature may end in 0x00 (the
// original's bug). The caller trims NULs beyond the key size.
SignedSplit splitSigned(std::string_view raw);
// RSA_public_decrypt output with every 0x00 removed, as the original; empty
// optional when the rest is not UTF-8.
std::optional<std::string> commandFromDecrypted(std::string_view plain);
bool validUtf8(std::string_view s) noexcept;
// A client's text for the log: control bytes as \xNN (no forged lines),
// cut at 200 bytes.
std::string printable(std::string_view s);

// Reply texts, exactly as supervisor-rs 0.8.5 writes them.
namespace reply {
inline constexpr const char* kBanner = "Running on encrypt mode, need to dencrypt your command.\n";
inline constexpr const char* kNoLegalOp = "no legal operations input";
inline constexpr const char* kCannotParseEncrypt = "Cannot parse encrypt data";
inline constexpr const char* kKeyOrCommandEmpty = "Keyname or command is empty";
inline constexpr const char* kStopAll = "stop all success";
std::string keyNotFound(std::string_view key);
std::string reserved(std::string_view child); // "all" / "on"
std::string noConfig(std::string_view child);
std::string alreadyRunning(std::string_view child);
std::string cannotStart(std::string_view child);
std::string notRunning(std::string_view child);
// ", and it will restart in 5s" (Rust's Debug of a Duration of whole seconds).
std::string repeatSuffix(std::string_view action, long seconds);
std::string startOk(std::string_view child, std::string_view suffix, bool prehook);
std::string restartOk(std::string_view child, std::string_view suffix);
std::string stopOk(std::string_view child);
std::string tryStartFresh(std::string_view child, std::string_view suffix);
std::string tryStartAgain(std::string_view child, std::string_view suffix, std::string_view posthook);
std::string help(std::string_view timestamp);
std::string kill(std::string_view error);
std::string recursiveCheck(std::string_view child);
std::string infoEmpty();
} // namespace reply

} // namespace srs
