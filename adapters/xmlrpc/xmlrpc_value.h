// SPDX-License-Identifier: LGPL-2.1-or-later
//
// XML-RPC values as supervisord's Python sees them, and the text of a
// methodResponse exactly as Python's xmlrpc.client.dumps writes it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace scopevisor::xmlrpc {

struct Value;
using Array = std::vector<Value>;
// A struct keeps its members in order (Python dicts do); keys are unique.
using Struct = std::vector<std::pair<std::string, Value>>;

struct Nil {};
// A <dateTime.iso8601> parameter, kept as its text ("20240101T10:00:00").
struct DateTime {
    std::string text;
};

struct Value {
    std::variant<Nil, bool, int64_t, double, std::string, DateTime, Array, Struct> v;

    Value() = default;
    Value(Nil) {}
    Value(bool b) : v(b) {}
    Value(int i) : v(int64_t(i)) {}
    Value(int64_t i) : v(i) {}
    Value(double d) : v(d) {}
    Value(std::string s) : v(std::move(s)) {}
    Value(const char* s) : v(std::string(s)) {}
    Value(DateTime d) : v(std::move(d)) {}
    Value(Array a) : v(std::move(a)) {}
    Value(Struct s) : v(std::move(s)) {}

    bool isNil() const { return std::holds_alternative<Nil>(v); }
    bool isString() const { return std::holds_alternative<std::string>(v); }
    const std::string* string() const { return std::get_if<std::string>(&v); }
    const Array* array() const { return std::get_if<Array>(&v); }
    const Struct* structure() const { return std::get_if<Struct>(&v); }
    const Value* member(std::string_view key) const;
};

// Python's name of the value's type ("int", "str", "list", ...) and str()
// of the value, as they appear in supervisord's fault texts.
const char* pyTypeName(const Value& v);
std::string pyStr(const Value& v);
std::string pyRepr(const Value& v);
bool pyTruth(const Value& v);

// Text for an XML character-data position: & < > escaped as Python does,
// \r kept as a character reference (a parser would turn it into \n),
// invalid UTF-8 and characters XML 1.0 forbids (C0 controls but tab, LF,
// CR; U+FFFE, U+FFFF) replaced by U+FFFD so that every client can parse
// the reply. supervisord emits them raw and clients then fail.
void appendXmlText(std::string& out, std::string_view text);
bool validUtf8(std::string_view text);

// <value>…</value>\n as Python's Marshaller writes it. Integers outside
// the XML-RPC range are clamped (Python would fail the whole reply).
void appendValue(std::string& out, const Value& v);

std::string methodResponse(const Value& result);
std::string faultResponse(int code, std::string_view text);

} // namespace scopevisor::xmlrpc
