// SPDX-License-Identifier: LGPL-2.1-or-later
#include "op_arg.h"

#include <rapidjson/document.h>

#include "message_json.h"
#include "scopevisor/bounded_json.h"

namespace steward {

namespace {

std::string member(const rapidjson::Value& v, const char* name) {
    auto it = v.FindMember(name);
    if (it != v.MemberEnd() && it->value.IsString())
        return std::string(it->value.GetString(), it->value.GetStringLength());
    return {};
}

} // namespace

std::optional<OpArg> parseOpArg(std::string_view json, std::string* error) {
    rapidjson::Document d;
    std::string err;
    if (!scopevisor::parseBoundedJson(json, d, &err, scopevisor::JsonLimits{kMaxOpArgJson, kMaxJsonDepth})) {
        *error = "opArg: " + err;
        return std::nullopt;
    }
    if (!d.IsObject()) {
        *error = "opArg is not a JSON object";
        return std::nullopt;
    }
    OpArg a;
    a.program = member(d, "program");
    a.group = member(d, "group");
    a.method = member(d, "method");
    a.kind = member(d, "kind");
    a.receivingNode = member(d, "receivingNode");
    if (auto it = d.FindMember("id"); it != d.MemberEnd() && it->value.IsInt64())
        a.id = it->value.GetInt64();
    return a;
}

} // namespace steward
