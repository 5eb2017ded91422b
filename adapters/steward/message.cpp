// SPDX-License-Identifier: LGPL-2.1-or-later
#include "message.h"

#include <array>
#include <utility>

#include "gob_codec.h"

namespace steward {

namespace {

struct MethodEntry {
    const char* name;
    Kind kind;
};
// docs/protocols/steward.md §2.1, in the order of Steward's table.
constexpr std::array<MethodEntry, 15> kMethods{{
    {"REQInitial", Kind::CommandACK},
    {"REQOpCommand", Kind::CommandACK},
    {"REQCliCommand", Kind::CommandACK},
    {"REQnCliCommand", Kind::CommandACK},
    {"REQnCliCommandCont", Kind::CommandACK},
    {"REQToConsole", Kind::EventACK},
    {"REQToFileAppend", Kind::EventACK},
    {"REQToFile", Kind::EventACK},
    {"REQHello", Kind::EventNACK},
    {"REQErrorLog", Kind::EventACK},
    {"REQPing", Kind::EventACK},
    {"REQPong", Kind::EventACK},
    {"REQHttpGet", Kind::EventACK},
    {"REQTailFile", Kind::EventACK},
    {"REQToSocket", Kind::EventACK},
}};

// Type ids a Go <= 1.21 encoder gives Steward's types.
constexpr int64_t kMessageId = 65, kNodeSliceId = 66, kStringSliceId = 67, kOperationId = 68;

const std::string& typePrefix() {
    static const std::string prefix = [] {
        using namespace gob;
        std::string p = structTypeDef("Message", kMessageId,
                                      {{"ToNode", kString},
                                       {"ToNodes", kNodeSliceId},
                                       {"ID", kInt},
                                       {"Data", kStringSliceId},
                                       {"Method", kString},
                                       {"ReplyMethod", kString},
                                       {"FromNode", kString},
                                       {"ACKTimeout", kInt},
                                       {"Retries", kInt},
                                       {"ReplyACKTimeout", kInt},
                                       {"ReplyRetries", kInt},
                                       {"MethodTimeout", kInt},
                                       {"Directory", kString},
                                       {"FileName", kString},
                                       {"Operation", kOperationId},
                                       {"PreviousMessage", kMessageId}});
        p += sliceTypeDef("[]steward.Node", kNodeSliceId, kString);
        p += sliceTypeDef("[]string", kStringSliceId, kString);
        p += structTypeDef("Operation", kOperationId, {{"OpCmd", kString}, {"OpArg", kBytes}});
        return p;
    }();
    return prefix;
}

// Struct body with Go's zero-omission rules: field deltas count sent fields.
class FieldWriter {
public:
    explicit FieldWriter(std::string& out) : out_(out) {}
    void field(int index) {
        gob::putUint(out_, static_cast<uint64_t>(index - last_));
        last_ = index;
    }
    void str(int index, const std::string& s) {
        if (s.empty())
            return;
        field(index);
        gob::putString(out_, s);
    }
    void num(int index, int64_t v) {
        if (v == 0)
            return;
        field(index);
        gob::putInt(out_, v);
    }
    void list(int index, const std::vector<std::string>& v) {
        if (v.empty())
            return;
        field(index);
        gob::putUint(out_, v.size());
        for (const auto& s : v) // zero elements are sent inside slices
            gob::putString(out_, s);
    }
    void end() { out_.push_back(0); }

private:
    std::string& out_;
    int last_ = -1;
};

void encodeBody(std::string& out, const Message& m) {
    FieldWriter w(out);
    w.str(0, m.toNode);
    w.list(1, m.toNodes);
    w.num(2, m.id);
    w.list(3, m.data);
    w.str(4, m.method);
    w.str(5, m.replyMethod);
    w.str(6, m.fromNode);
    w.num(7, m.ackTimeout);
    w.num(8, m.retries);
    w.num(9, m.replyAckTimeout);
    w.num(10, m.replyRetries);
    w.num(11, m.methodTimeout);
    w.str(12, m.directory);
    w.str(13, m.fileName);
    // A non-pointer struct field is always sent, even when empty.
    w.field(14);
    FieldWriter op(out);
    op.str(0, m.operation.opCmd);
    op.str(1, m.operation.opArg);
    op.end();
    if (m.previous) {
        w.field(15);
        encodeBody(out, *m.previous);
    }
    w.end();
}

using gob::DecodeError;
using gob::GobValue;

std::string asString(const GobValue& v, const char* name) {
    if (v.kind != GobValue::Kind::String)
        throw DecodeError(std::string("wrong type for field ") + name);
    return v.s;
}
int64_t asInt(const GobValue& v, const char* name) {
    if (v.kind != GobValue::Kind::Int)
        throw DecodeError(std::string("wrong type for field ") + name);
    return v.i;
}
std::vector<std::string> asStrings(const GobValue& v, const char* name) {
    if (v.kind != GobValue::Kind::List)
        throw DecodeError(std::string("wrong type for field ") + name);
    std::vector<std::string> out;
    for (const auto& e : v.items)
        out.push_back(asString(e, name));
    return out;
}

Message bind(const GobValue& v, int depth) {
    if (v.kind != GobValue::Kind::Struct)
        throw DecodeError("value is not a struct");
    Message m;
    int matched = 0;
    for (const auto& gf : v.fields) {
        const std::string& name = gf.name;
        const GobValue& f = gf.value;
        ++matched;
        if (name == "ToNode") m.toNode = asString(f, "ToNode");
        else if (name == "ToNodes") m.toNodes = asStrings(f, "ToNodes");
        else if (name == "ID") m.id = asInt(f, "ID");
        else if (name == "Data") m.data = asStrings(f, "Data");
        else if (name == "Method") m.method = asString(f, "Method");
        else if (name == "ReplyMethod") m.replyMethod = asString(f, "ReplyMethod");
        else if (name == "FromNode") m.fromNode = asString(f, "FromNode");
        else if (name == "ACKTimeout") m.ackTimeout = asInt(f, "ACKTimeout");
        else if (name == "Retries") m.retries = asInt(f, "Retries");
        else if (name == "ReplyACKTimeout") m.replyAckTimeout = asInt(f, "ReplyACKTimeout");
        else if (name == "ReplyRetries") m.replyRetries = asInt(f, "ReplyRetries");
        else if (name == "MethodTimeout") m.methodTimeout = asInt(f, "MethodTimeout");
        else if (name == "Directory") m.directory = asString(f, "Directory");
        else if (name == "FileName") m.fileName = asString(f, "FileName");
        else if (name == "Operation") {
            if (f.kind != GobValue::Kind::Struct)
                throw DecodeError("wrong type for field Operation");
            for (const auto& of : f.fields) {
                const std::string& on = of.name;
                const GobValue& ov = of.value;
                if (on == "OpCmd")
                    m.operation.opCmd = asString(ov, "OpCmd");
                else if (on == "OpArg") {
                    if (ov.kind != GobValue::Kind::Bytes)
                        throw DecodeError("wrong type for field OpArg");
                    m.operation.opArg = ov.s;
                }
            }
        } else if (name == "PreviousMessage") {
            if (depth >= gob::Decoder::kMaxDepth)
                throw DecodeError("PreviousMessage nested too deeply");
            m.previous = std::make_shared<Message>(bind(f, depth + 1));
        } else
            --matched; // fields of other Steward versions are ignored, as Go does
    }
    return m;
}

// Go's decoder refuses a struct type with no field name in common with the
// local type; checked on the wire type, since zero fields are not sent.
void checkSomeFieldMatches(const gob::Decoder& d, int64_t id) {
    static const std::vector<std::string> names = {"ToNode", "ToNodes", "ID", "Data", "Method",
                                                   "ReplyMethod", "FromNode", "ACKTimeout", "Retries",
                                                   "ReplyACKTimeout", "ReplyRetries", "MethodTimeout",
                                                   "Directory", "FileName", "Operation", "PreviousMessage"};
    auto it = d.types().find(id);
    if (it == d.types().end())
        throw DecodeError("value is not a struct");
    for (const auto& f : it->second.fields)
        for (const auto& n : names)
            if (f.first == n)
                return;
    throw DecodeError("type mismatch: no fields matched compiling decoder for Message");
}

void goList(std::string& out, const std::vector<std::string>& v) {
    out += '[';
    for (size_t i = 0; i < v.size(); ++i)
        out += (i ? " " : "") + v[i];
    out += ']';
}

} // namespace

bool Message::operator==(const Message& o) const {
    auto eqPrev = [&] {
        if (!previous || !o.previous)
            return !previous && !o.previous;
        return *previous == *o.previous;
    };
    return toNode == o.toNode && toNodes == o.toNodes && id == o.id && data == o.data && method == o.method &&
           replyMethod == o.replyMethod && fromNode == o.fromNode && ackTimeout == o.ackTimeout &&
           retries == o.retries && replyAckTimeout == o.replyAckTimeout && replyRetries == o.replyRetries &&
           methodTimeout == o.methodTimeout && directory == o.directory && fileName == o.fileName &&
           operation == o.operation && eqPrev();
}

const char* kindName(Kind k) {
    switch (k) {
    case Kind::CommandACK: return "CommandACK";
    case Kind::CommandNACK: return "CommandNACK";
    case Kind::EventACK: return "EventACK";
    case Kind::EventNACK: return "EventNACK";
    }
    return "EventACK";
}

std::optional<Kind> methodKind(std::string_view method) {
    for (const auto& e : kMethods)
        if (method == e.name)
            return e.kind;
    return std::nullopt;
}

const std::vector<std::string>& subscribableMethods() {
    static const std::vector<std::string> v = [] {
        std::vector<std::string> out;
        for (const auto& e : kMethods)
            if (std::string_view(e.name) != "REQInitial")
                out.push_back(e.name);
        return out;
    }();
    return v;
}

std::string subjectFor(std::string_view toNode, std::string_view method) {
    Kind k = methodKind(method).value_or(Kind::EventACK);
    return std::string(toNode) + "." + std::string(method) + "." + kindName(k);
}

std::string encodeMessage(const Message& m) {
    std::string body;
    gob::putInt(body, kMessageId);
    encodeBody(body, m);
    std::string out = typePrefix();
    gob::putMessage(out, body);
    return out;
}

Message decodeMessage(std::string_view payload) {
    gob::Decoder d;
    auto values = d.decodeStream(payload, 1);
    checkSomeFieldMatches(d, values.front().typeId);
    return bind(values.front(), 0);
}

std::string goFormat(const Message& m) {
    std::string s = "{" + m.toNode + " ";
    goList(s, m.toNodes);
    s += " " + std::to_string(m.id) + " ";
    goList(s, m.data);
    s += " " + m.method + " " + m.replyMethod + " " + m.fromNode + " " + std::to_string(m.ackTimeout) + " " +
         std::to_string(m.retries) + " " + std::to_string(m.replyAckTimeout) + " " +
         std::to_string(m.replyRetries) + " " + std::to_string(m.methodTimeout) + " " + m.directory + " " +
         m.fileName + " {" + m.operation.opCmd + " [";
    for (size_t i = 0; i < m.operation.opArg.size(); ++i)
        s += (i ? " " : "") + std::to_string(static_cast<unsigned char>(m.operation.opArg[i]));
    s += "]} ";
    s += m.previous ? "&" + goFormat(*m.previous) : "<nil>";
    s += " <nil>}"; // the unexported done channel
    return s;
}

std::string ansicTime(std::time_t t) {
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
    return buf;
}

} // namespace steward
