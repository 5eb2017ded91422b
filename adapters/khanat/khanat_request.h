// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The Khanat manager's REST requests and replies (docs/protocols/khanat.md §3):
// the path names the command, the JSON body carries its arguments (also on
// GET), replies are JSON objects whose values are strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "scopevisor/text.h"

namespace khanat {

enum class Command { Shutdown, StartAll, StatusAll, StopAll, List, Start, Stop, Status, Log, Action };

const char* commandName(Command c) noexcept;
// "/LIST" -> List. Upper case only, as the original dispatched on the path.
std::optional<Command> commandFromPath(std::string_view path) noexcept;
bool takesName(Command c) noexcept;

struct Request {
    Command command = Command::List;
    std::string name;      // START, STOP, STATUS, LOG, ACTION
    uint64_t firstLine = 0; // LOG: 0 (and negative numbers) mean "everything held"
    std::string action;    // ACTION, without the newline the server adds
};

struct RequestError {
    int status = 400;
    std::string message;
};

// Request bodies are small JSON objects: 64 KiB and 64 levels of nesting
// are far more than any command needs.
constexpr size_t kDefaultMaxBodyBytes = 64 * 1024;
constexpr unsigned kMaxJsonDepth = 64;

// What the HTTP layer saw of one request.
struct HttpInput {
    std::string_view method;                 // "GET", "POST", ...
    std::string_view path;                   // "/LOG"
    std::optional<std::string_view> contentType;
    bool hasBody = false;                    // Content-Length (or chunked) present
    std::string_view body;
    size_t maxBodyBytes = kDefaultMaxBodyBytes; // over it: 413
};

// Either a request or the error the original gave for it (400 for a bad
// header, body, key or path; 404 for HEAD, PUT, PATCH, DELETE; 501 for any
// other method). Program names are checked later, against the daemon.
struct ParseResult {
    std::optional<Request> request;
    RequestError error;
};
ParseResult parseRequest(const HttpInput& in);

// Replies. Values are strings (client.py strips ANSI codes from them); JSON
// is written with \u escapes for non-ASCII, as Python's json.dumps did, and
// bytes that are not UTF-8 become U+FFFD.
std::string jsonObject(const std::vector<std::pair<std::string, std::string>>& members);
struct LogReply {
    std::vector<std::pair<uint64_t, std::string>> lines;
    uint64_t lastLine = 0; // the newest line the program has written; 0 = none yet
};
// {"<n>": "<line>", ..., "first-line": <n>|null, "last-line": <n>}
std::string logJson(const LogReply& r);
// The HTML body of Python's BaseHTTPRequestHandler.send_error.
// Python's str.strip() of a log line (whitespace at both ends).
inline std::string stripLine(std::string_view line) { return std::string(scopevisor::trimmed(line)); }

std::string errorHtml(int status, std::string_view message);


} // namespace khanat
