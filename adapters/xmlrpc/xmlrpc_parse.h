// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The XML-RPC request parser: libexpat underneath, and on top the exact
// reading rules of supervisord's own unmarshaller (xmlrpc.py, loads()):
// elements are evaluated bottom-up as they end, <value> takes its first
// child's value or its own text, an untyped value is a string, <boolean> is
// true only for "1", unknown types such as <i8> arrive as their text, and a
// <methodName> or <params> anywhere in the document counts.
//
// Unlike Python, a document with a DOCTYPE (hence any entity declaration)
// is refused, and depth and element count are bounded.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "xmlrpc_value.h"

namespace scopevisor::xmlrpc {

struct ParsedCall {
    std::string method;
    Array params;
};

struct ParseLimits {
    size_t maxDepth = 128;
    size_t maxElements = 200000;
};

// False when supervisord answers HTTP 400: the document is not well-formed
// or not readable as XML-RPC, or it names no method. *why says which.
bool parseMethodCall(std::string_view body, ParsedCall* out, std::string* why, const ParseLimits& limits = {});

// Python's int() and float() of a string (surrounding whitespace, sign,
// underscores between digits). int saturates at the int64 range.
std::optional<int64_t> pyParseInt(std::string_view text);
std::optional<double> pyParseFloat(std::string_view text);
// binascii.a2b_base64: characters outside the alphabet are skipped.
std::optional<std::string> pyBase64Decode(std::string_view text);

} // namespace scopevisor::xmlrpc
