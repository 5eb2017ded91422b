// SPDX-License-Identifier: LGPL-2.1-or-later
#include "khanat_request.h"

#include <cctype>
#include <cstdlib>
#include <cstring>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "scopevisor/bounded_json.h"
#include "scopevisor/text.h"

namespace khanat {
namespace {

struct CommandEntry {
    Command command;
    const char* name;
    bool name_arg;
};
constexpr CommandEntry kCommands[] = {
    {Command::Shutdown, "SHUTDOWN", false}, {Command::StartAll, "STARTALL", false},
    {Command::StatusAll, "STATUSALL", false}, {Command::StopAll, "STOPALL", false},
    {Command::List, "LIST", false},           {Command::Start, "START", true},
    {Command::Stop, "STOP", true},            {Command::Status, "STATUS", true},
    {Command::Log, "LOG", true},              {Command::Action, "ACTION", true},
};

// "application/json", optionally with parameters ("; charset=utf-8").
bool isJsonType(std::string_view ct) {
    size_t semi = ct.find(';');
    std::string_view base = ct.substr(0, semi);
    while (!base.empty() && std::isspace(static_cast<unsigned char>(base.back())))
        base.remove_suffix(1);
    while (!base.empty() && std::isspace(static_cast<unsigned char>(base.front())))
        base.remove_prefix(1);
    return scopevisor::equalsIgnoreCase(base, "application/json");
}

ParseResult fail(int status, std::string msg) {
    ParseResult r;
    r.error = RequestError{status, std::move(msg)};
    return r;
}

// The last member of that name: Python's json.loads keeps the last duplicate.
const rapidjson::Value* member(const rapidjson::Value& obj, const char* key) {
    const rapidjson::Value* found = nullptr;
    for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it)
        if (it->name.GetStringLength() == std::strlen(key) && std::string_view(it->name.GetString()) == key)
            found = &it->value;
    return found;
}

std::optional<int64_t> integerOf(const rapidjson::Value& v) {
    if (v.IsInt64())
        return v.GetInt64();
    if (v.IsUint64())
        return INT64_MAX;
    if (v.IsString()) { // a client that quoted the number
        std::string s(v.GetString(), v.GetStringLength());
        if (s.empty() || s.size() > 19)
            return std::nullopt;
        size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
        if (i == s.size())
            return std::nullopt;
        for (size_t j = i; j < s.size(); ++j)
            if (!std::isdigit(static_cast<unsigned char>(s[j])))
                return std::nullopt;
        return std::strtoll(s.c_str(), nullptr, 10);
    }
    return std::nullopt;
}

// Valid UTF-8 out of arbitrary bytes (invalid sequences become U+FFFD).
std::string sanitizeUtf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        bool ok = len > 0 && i + len <= s.size();
        for (size_t k = 1; ok && k < len; ++k)
            ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
        if (ok && len > 1) {
            uint32_t cp = c & (0x7F >> len);
            for (size_t k = 1; k < len; ++k)
                cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
            static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
            ok = cp >= kMin[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
        }
        if (!ok) {
            out += "\xEF\xBF\xBD";
            ++i;
            continue;
        }
        out.append(s.substr(i, len));
        i += len;
    }
    return out;
}

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::ASCII<>>;

void writeString(JsonWriter& w, std::string_view s) {
    std::string clean = sanitizeUtf8(s);
    w.String(clean.data(), rapidjson::SizeType(clean.size()));
}

std::string htmlEscape(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#x27;"; break;
        default: out += c;
        }
    }
    return out;
}

} // namespace

const char* commandName(Command c) noexcept {
    for (const auto& e : kCommands)
        if (e.command == c)
            return e.name;
    return "?";
}

std::optional<Command> commandFromPath(std::string_view path) noexcept {
    if (path.empty() || path[0] != '/')
        return std::nullopt;
    path.remove_prefix(1);
    for (const auto& e : kCommands)
        if (path == e.name)
            return e.command;
    return std::nullopt;
}

bool takesName(Command c) noexcept {
    for (const auto& e : kCommands)
        if (e.command == c)
            return e.name_arg;
    return false;
}

ParseResult parseRequest(const HttpInput& in) {
    if (in.method == "HEAD" || in.method == "PUT" || in.method == "PATCH" || in.method == "DELETE")
        return fail(404, "File not found");
    if (in.method != "GET" && in.method != "POST")
        return fail(501, "Unsupported method ('" + std::string(in.method) + "')");
    auto cmd = commandFromPath(in.path);
    if (!cmd)
        return fail(400, "Path unknown");
    if (in.contentType && !isJsonType(*in.contentType))
        return fail(400, "Content-type must be application/json");
    if (in.hasBody && !in.contentType)
        return fail(400, "Content-type missing (application/json expected)");

    rapidjson::Document doc;
    if (in.body.empty()) {
        doc.SetObject(); // no body at all, or Content-length: 0: no arguments
    } else {
        // As json.loads: valid UTF-8, one value, nothing but blanks after
        // it; and within bounds, parsed without recursion, so that no body
        // can exhaust the stack or the memory.
        std::string why;
        const scopevisor::JsonLimits limits{in.maxBodyBytes, kMaxJsonDepth};
        if (!scopevisor::parseBoundedJson<rapidjson::kParseValidateEncodingFlag>(in.body, doc, &why, limits)) {
            if (in.body.size() > in.maxBodyBytes)
                return fail(413, "Request body of " + std::to_string(in.body.size()) +
                                     " bytes is over the limit of " + std::to_string(in.maxBodyBytes) + " bytes");
            if (doc.HasParseError())
                return fail(400, "Impossible to decode the JSON body");
            return fail(400, "Impossible to decode the JSON body: " + why);
        }
        if (!doc.IsObject())
            return fail(400, "The JSON body must be an object");
    }
    Request r;
    r.command = *cmd;
    if (takesName(*cmd)) {
        const rapidjson::Value* name = member(doc, "name");
        if (!name)
            return fail(400, "Missing param name");
        if (!name->IsString() || name->GetStringLength() == 0)
            return fail(400, "Bad param name");
        r.name.assign(name->GetString(), name->GetStringLength());
    }
    if (*cmd == Command::Log) {
        // The original's key is "first-line"; "firstline" (the CLI flag's
        // spelling) and "first_line" are accepted too.
        const rapidjson::Value* fl = member(doc, "first-line");
        if (!fl)
            fl = member(doc, "firstline");
        if (!fl)
            fl = member(doc, "first_line");
        if (!fl)
            return fail(400, "Missing param first-line");
        auto n = integerOf(*fl);
        if (!n)
            return fail(400, "Bad param first-line (integer expected)");
        r.firstLine = *n < 0 ? 0 : uint64_t(*n);
    }
    if (*cmd == Command::Action) {
        const rapidjson::Value* a = member(doc, "action");
        if (!a)
            return fail(400, "Missing param action");
        if (!a->IsString())
            return fail(400, "Bad param action (string expected)");
        r.action.assign(a->GetString(), a->GetStringLength());
    }
    ParseResult out;
    out.request = std::move(r);
    return out;
}

std::string jsonObject(const std::vector<std::pair<std::string, std::string>>& members) {
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    for (const auto& [k, v] : members) {
        writeString(w, k);
        writeString(w, v);
    }
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
}

std::string logJson(const LogReply& r) {
    rapidjson::StringBuffer sb;
    JsonWriter w(sb);
    w.StartObject();
    for (const auto& [n, text] : r.lines) {
        writeString(w, std::to_string(n));
        writeString(w, text);
    }
    w.Key("first-line");
    if (r.lines.empty())
        w.Null();
    else
        w.Uint64(r.lines.front().first);
    w.Key("last-line");
    w.Uint64(r.lastLine);
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
}

std::string errorHtml(int status, std::string_view message) {
    std::string explain;
    switch (status) {
    case 400: explain = "Bad request syntax or unsupported method."; break;
    case 403: explain = "Request forbidden -- authorization will not help."; break;
    case 404: explain = "Nothing matches the given URI."; break;
    case 413: explain = "Entity is too large."; break;
    case 431: explain = "The server refused this request because the request header fields are too large."; break;
    case 500: explain = "Server got itself in trouble."; break;
    case 501: explain = "Server does not support this operation."; break;
    case 503: explain = "The server cannot process the request due to a high load."; break;
    default: explain = "Error.";
    }
    std::string s = std::to_string(status);
    return "<!DOCTYPE HTML>\n<html lang=\"en\">\n    <head>\n        <meta charset=\"utf-8\">\n"
           "        <title>Error response</title>\n    </head>\n    <body>\n        <h1>Error response</h1>\n"
           "        <p>Error code: " + s + "</p>\n        <p>Message: " + htmlEscape(message) + ".</p>\n"
           "        <p>Error code explanation: " + s + " - " + explain + "</p>\n    </body>\n</html>\n";
}

} // namespace khanat
