// SPDX-License-Identifier: LGPL-2.1-or-later
#include "message_json.h"

#include "scopevisor/bounded_json.h"

#include <stdexcept>
#include <strings.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace steward {

namespace {

using rapidjson::Value;

[[noreturn]] void bad(const std::string& why) { throw std::invalid_argument(why); }

std::string str(const Value& v, const char* key) {
    if (v.IsNull())
        return {};
    if (!v.IsString())
        bad(std::string("'") + key + "' must be a string");
    return std::string(v.GetString(), v.GetStringLength());
}

int64_t num(const Value& v, const char* key) {
    if (v.IsNull())
        return 0;
    if (!v.IsInt64())
        bad(std::string("'") + key + "' must be an integer");
    return v.GetInt64();
}

std::vector<std::string> strs(const Value& v, const char* key) {
    std::vector<std::string> out;
    if (v.IsNull())
        return out;
    if (!v.IsArray())
        bad(std::string("'") + key + "' must be an array of strings");
    for (const auto& e : v.GetArray())
        out.push_back(str(e, key));
    return out;
}

// json.RawMessage keeps the operator's text; here the value is written
// back compactly, which is the same JSON.
std::string raw(const Value& v) {
    if (v.IsNull())
        return {};
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    v.Accept(w);
    return std::string(sb.GetString(), sb.GetSize());
}

Message fromObject(const Value& o, int depth) {
    if (!o.IsObject())
        bad("each element must be an object");
    if (depth > 100)
        bad("PreviousMessage nested too deeply");
    Message m;
    for (auto it = o.MemberBegin(); it != o.MemberEnd(); ++it) {
        const char* k = it->name.GetString();
        const Value& v = it->value;
        auto is = [&](const char* name) { return strcasecmp(k, name) == 0; };
        if (is("toNode")) m.toNode = str(v, k);
        else if (is("toNodes")) m.toNodes = strs(v, k);
        else if (is("id")) m.id = num(v, k);
        else if (is("data")) m.data = strs(v, k);
        else if (is("method")) m.method = str(v, k);
        else if (is("replyMethod")) m.replyMethod = str(v, k);
        else if (is("FromNode")) m.fromNode = str(v, k);
        else if (is("ACKTimeout")) m.ackTimeout = num(v, k);
        else if (is("retries")) m.retries = num(v, k);
        else if (is("replyACKTimeout")) m.replyAckTimeout = num(v, k);
        else if (is("replyRetries")) m.replyRetries = num(v, k);
        else if (is("methodTimeout")) m.methodTimeout = num(v, k);
        else if (is("directory")) m.directory = str(v, k);
        else if (is("fileName")) m.fileName = str(v, k);
        else if (is("operation")) {
            if (v.IsNull())
                continue;
            if (!v.IsObject())
                bad("'operation' must be an object");
            for (auto op = v.MemberBegin(); op != v.MemberEnd(); ++op) {
                if (strcasecmp(op->name.GetString(), "opCmd") == 0)
                    m.operation.opCmd = str(op->value, "opCmd");
                else if (strcasecmp(op->name.GetString(), "opArg") == 0)
                    m.operation.opArg = raw(op->value);
            }
        } else if (is("PreviousMessage")) {
            if (!v.IsNull())
                m.previous = std::make_shared<Message>(fromObject(v, depth + 1));
        }
        // Unknown keys are ignored, as encoding/json does.
    }
    return m;
}

} // namespace

std::vector<Message> parseMessageArray(std::string_view json) {
    // Size and depth are checked before a Document is built (RapidJSON's
    // values are recursive structures: copy, Accept and destruction).
    rapidjson::Document d;
    std::string err;
    if (!scopevisor::parseBoundedJson(json, d, &err, scopevisor::JsonLimits{kMaxMessageJson, kMaxJsonDepth}))
        // Steward's own wording for a syntax error ("malformed json"), which
        // operators may look for; the limits are named as they are.
        bad(err.rfind("malformed JSON", 0) == 0 ? "malformed json" + err.substr(14) : "steward.sock: " + err);
    if (!d.IsArray())
        bad("malformed json: expected an array of messages");
    std::vector<Message> out;
    for (const auto& e : d.GetArray())
        out.push_back(fromObject(e, 0));
    return out;
}

} // namespace steward
