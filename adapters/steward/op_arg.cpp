// SPDX-License-Identifier: LGPL-2.1-or-later
#include "op_arg.h"

#include <rapidjson/document.h>

#include "message_json.h"
#include "scopevisor/bounded_json.h"

namespace steward {

namespace {

std::string member(const rapidjson::Value& v, const char* name) {
    if (v.HasMember(name) && v[name].IsString())
        return std::string(v[name].GetString(), v[name].GetStringLength());
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
    if (d.HasMember("id") && d["id"].IsInt64())
        a.id = d["id"].GetInt64();
    return a;
}

} // namespace steward
