// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The gob codec against the reference vectors of steward_gob.py (byte for
// byte), against bytes a real 2021-09 Steward node sent, and against the
// variations of other Go and Steward versions.
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "gob_codec.h"
#include "message.h"

using namespace steward;

namespace {

std::string unhex(std::string_view h) {
    std::string out;
    for (size_t i = 0; i + 1 < h.size(); i += 2)
        out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
    return out;
}

std::vector<std::string> strings(const rapidjson::Value& v) {
    std::vector<std::string> out;
    for (const auto& e : v.GetArray())
        out.emplace_back(e.GetString(), e.GetStringLength());
    return out;
}

Message fromJson(const rapidjson::Value& j) {
    Message m;
    for (auto it = j.MemberBegin(); it != j.MemberEnd(); ++it) {
        std::string k = it->name.GetString();
        const auto& v = it->value;
        auto str = [&] { return std::string(v.GetString(), v.GetStringLength()); };
        if (k == "ToNode") m.toNode = str();
        else if (k == "ToNodes") m.toNodes = strings(v);
        else if (k == "ID") m.id = v.GetInt64();
        else if (k == "Data") m.data = strings(v);
        else if (k == "Method") m.method = str();
        else if (k == "ReplyMethod") m.replyMethod = str();
        else if (k == "FromNode") m.fromNode = str();
        else if (k == "ACKTimeout") m.ackTimeout = v.GetInt64();
        else if (k == "Retries") m.retries = v.GetInt64();
        else if (k == "ReplyACKTimeout") m.replyAckTimeout = v.GetInt64();
        else if (k == "ReplyRetries") m.replyRetries = v.GetInt64();
        else if (k == "MethodTimeout") m.methodTimeout = v.GetInt64();
        else if (k == "Directory") m.directory = str();
        else if (k == "FileName") m.fileName = str();
        else if (k == "Operation") {
            if (v.HasMember("OpCmd")) m.operation.opCmd = v["OpCmd"].GetString();
            if (v.HasMember("OpArg")) m.operation.opArg = unhex(v["OpArg"].GetString());
        } else if (k == "PreviousMessage") m.previous = std::make_shared<Message>(fromJson(v));
        else ADD_FAILURE() << "unknown key " << k;
    }
    return m;
}

struct Vector {
    std::string name;
    Message message;
    std::string bytes, bytes64;
};

std::vector<Vector> loadVectors() {
    std::ifstream in(std::string(VECTOR_DIR) + "/gob_vectors.jsonl");
    EXPECT_TRUE(in.good());
    std::vector<Vector> out;
    std::string line;
    while (std::getline(in, line)) {
        rapidjson::Document d;
        d.Parse(line.c_str());
        EXPECT_FALSE(d.HasParseError());
        out.push_back({d["name"].GetString(), fromJson(d["message"]), unhex(d["hex"].GetString()),
                       unhex(d["hex64"].GetString())});
    }
    return out;
}

std::string prefix() {
    Message empty;
    std::string p = encodeMessage(empty);
    return p.substr(0, 345);
}

} // namespace

TEST(GobVectors, EncodeIsByteIdentical) {
    auto vs = loadVectors();
    ASSERT_GE(vs.size(), 15u);
    for (const auto& v : vs)
        EXPECT_EQ(encodeMessage(v.message), v.bytes) << v.name;
}

TEST(GobVectors, DecodeGivesTheMessage) {
    for (const auto& v : loadVectors()) {
        EXPECT_EQ(decodeMessage(v.bytes), v.message) << v.name;
        // Newer Go numbers user types from 64: ids are labels.
        EXPECT_EQ(decodeMessage(v.bytes64), v.message) << v.name;
    }
}

TEST(GobVectors, TypePrefixIs345Bytes) {
    std::string p = prefix();
    EXPECT_EQ(static_cast<unsigned char>(p[0]), 0xff);
    EXPECT_EQ(static_cast<unsigned char>(p[1]), 0xf7);
    EXPECT_EQ(p.substr(7, 8), "\x07Message");
}

// The value part of the REQHello a real ship1 sent (docs/protocols/steward.md §3.4).
TEST(GobRealNode, HelloBytes) {
    std::string value = unhex(
        "52ff82010763656e7472616c03011148"
        "656c6c6f2066726f6d2073686970310a"
        "010852455148656c6c6f020573686970"
        "3101140102040e68656c6c6f2d6d6573"
        "7361676573010968656c6c6f2e6c6f67"
        "010000");
    Message m;
    m.toNode = "central";
    m.fromNode = "ship1";
    m.data = {"Hello from ship1\n"};
    m.method = "REQHello";
    m.ackTimeout = 10;
    m.retries = 1;
    m.directory = "hello-messages";
    m.fileName = "hello.log";
    std::string enc = encodeMessage(m);
    EXPECT_EQ(enc.size(), 428u);
    EXPECT_EQ(enc.substr(345), value);
    EXPECT_EQ(decodeMessage(prefix() + value), m);
}

// The value part of a reply a real ship1 sent to REQCliCommand ["bash", "-c",
// "echo apekatt"] (docs/protocols/steward.md §3.4): the whole request comes
// back as the nested PreviousMessage, ReplyMethod filled in, with an empty
// Operation at both levels. A reply has no FromNode, Directory or FileName,
// and the first one of its publisher has no ID.
TEST(GobRealNode, ReplyWithPreviousMessageBytes) {
    std::string value = unhex(
        "ffa5ff82010763656e7472616c030108"
        "6170656b6174740a010f524551546f46"
        "696c65417070656e64030a0106060001"
        "01057368697031020201030462617368"
        "022d630c6563686f206170656b617474"
        "010d524551436c69436f6d6d616e6401"
        "0f524551546f46696c65417070656e64"
        "010763656e7472616c010a0102010a01"
        "06010a010d737465776172642d636865"
        "636b010f636c692d6170656b6174742e"
        "6c6f6701000000");
    Message m = decodeMessage(prefix() + value);
    EXPECT_EQ(m.toNode, "central");
    EXPECT_EQ(m.id, 0);
    EXPECT_EQ(m.data, std::vector<std::string>{"apekatt\n"});
    EXPECT_EQ(m.method, "REQToFileAppend");
    EXPECT_EQ(m.replyMethod, "");
    EXPECT_EQ(m.fromNode, "");
    EXPECT_EQ(m.ackTimeout, 5);
    EXPECT_EQ(m.retries, 3);
    EXPECT_EQ(m.directory, "");
    EXPECT_EQ(m.fileName, "");
    EXPECT_EQ(m.operation.opCmd, "");
    ASSERT_TRUE(m.previous);
    const Message& p = *m.previous;
    EXPECT_EQ(p.toNode, "ship1");
    EXPECT_EQ(p.id, 1);
    EXPECT_EQ(p.data, (std::vector<std::string>{"bash", "-c", "echo apekatt"}));
    EXPECT_EQ(p.method, "REQCliCommand");
    EXPECT_EQ(p.replyMethod, "REQToFileAppend");
    EXPECT_EQ(p.fromNode, "central");
    EXPECT_EQ(p.ackTimeout, 5);
    EXPECT_EQ(p.retries, 1);
    EXPECT_EQ(p.replyAckTimeout, 5);
    EXPECT_EQ(p.replyRetries, 3);
    EXPECT_EQ(p.methodTimeout, 5);
    EXPECT_EQ(p.directory, "steward-check");
    EXPECT_EQ(p.fileName, "cli-apekatt.log");
    EXPECT_EQ(p.operation.opCmd, "");
    EXPECT_FALSE(p.previous);
    // The node's 512 bytes again, from the decoded value.
    std::string enc = encodeMessage(m);
    EXPECT_EQ(enc.size(), 512u);
    EXPECT_EQ(enc.substr(345), value);
}

TEST(GobDecode, BindsByNameInAnyOrderAndIgnoresUnknownFields) {
    using namespace gob;
    // A later Steward: extra fields (MethodArgs, IsReply), other order, other ids.
    std::string s = structTypeDef("Message", 70,
                                  {{"IsReply", kBool}, {"Method", kString}, {"MethodArgs", 71},
                                   {"ToNode", kString}, {"PreviousMessage", 70}, {"ID", kInt}});
    s += sliceTypeDef("[]string", 71, kString);
    std::string body;
    putInt(body, 70);
    body += '\x01'; body += '\x01';                    // IsReply true
    body += '\x01'; putString(body, "REQCliCommand");  // Method
    body += '\x01'; putUint(body, 2); putString(body, "a"); putString(body, "b");
    body += '\x01'; putString(body, "ship1");          // ToNode
    body += '\x01';                                    // PreviousMessage
    body += '\x04'; putString(body, "prev"); body += '\x00'; // only ToNode (field 3)
    body += '\x01'; putInt(body, -5);                  // ID
    body += '\x00';
    putMessage(s, body);
    Message m = decodeMessage(s);
    EXPECT_EQ(m.method, "REQCliCommand");
    EXPECT_EQ(m.toNode, "ship1");
    EXPECT_EQ(m.id, -5);
    ASSERT_TRUE(m.previous);
    EXPECT_EQ(m.previous->toNode, "prev");
    EXPECT_TRUE(m.data.empty());
}

TEST(GobDecode, ForwardReferencesAndSingletons) {
    using namespace gob;
    // Message refers to id 80, defined after it.
    std::string s = structTypeDef("Message", 79, {{"Data", 80}});
    s += sliceTypeDef("[]string", 80, kString);
    std::string body;
    putInt(body, 79);
    body += '\x01'; putUint(body, 1); putString(body, "x");
    body += '\x00';
    putMessage(s, body);
    EXPECT_EQ(decodeMessage(s).data, std::vector<std::string>{"x"});

    // A bare string singleton is a gob value, but not a Message.
    std::string single;
    std::string b2;
    putInt(b2, kString);
    b2 += '\x00';
    putString(b2, "hi");
    putMessage(single, b2);
    auto v = Decoder().decodeStream(single);
    EXPECT_EQ(v.at(0).s, "hi");
    EXPECT_THROW(decodeMessage(single), DecodeError);
}

TEST(GobDecode, RefusesWhatGoRefuses) {
    using namespace gob;
    std::string good = encodeMessage(Message{.toNode = "x", .method = "REQHello"});
    EXPECT_THROW(decodeMessage(""), DecodeError);
    EXPECT_THROW(decodeMessage("garbage!"), DecodeError);
    for (size_t n = 1; n < good.size(); n += 7)
        EXPECT_THROW(decodeMessage(good.substr(0, n)), DecodeError) << n;
    // Value of an undefined type.
    std::string undefinedType;
    std::string b;
    putInt(b, 65);
    b += '\x00';
    putMessage(undefinedType, b);
    EXPECT_THROW(decodeMessage(undefinedType), DecodeError);
    // Type id below 64.
    EXPECT_THROW(decodeMessage(structTypeDef("M", 10, {{"ToNode", kString}}) + undefinedType), DecodeError);
    // Duplicate definition.
    std::string dup = structTypeDef("M", 65, {{"ToNode", kString}});
    EXPECT_THROW(decodeMessage(dup + dup + undefinedType), DecodeError);
    // No field in common with Message.
    std::string other = structTypeDef("Point", 65, {{"X", kInt}});
    std::string ob;
    putInt(ob, 65);
    ob += '\x01';
    putInt(ob, 3);
    ob += '\x00';
    putMessage(other, ob);
    EXPECT_THROW(decodeMessage(other), DecodeError);
    // Wrong type for a known field.
    std::string wrong = structTypeDef("Message", 65, {{"ToNode", kInt}});
    std::string wb;
    putInt(wb, 65);
    wb += '\x01';
    putInt(wb, 3);
    wb += '\x00';
    putMessage(wrong, wb);
    EXPECT_THROW(decodeMessage(wrong), DecodeError);
    // Field number beyond the type's fields.
    std::string oob = structTypeDef("Message", 65, {{"ToNode", kString}});
    std::string ib;
    putInt(ib, 65);
    ib += '\x05';
    putString(ib, "x");
    ib += '\x00';
    putMessage(oob, ib);
    EXPECT_THROW(decodeMessage(oob), DecodeError);
}

TEST(GobDecode, HugeCountsAreRefusedWithoutAllocating) {
    using namespace gob;
    std::string s = structTypeDef("Message", 65, {{"Data", 66}});
    s += sliceTypeDef("[]string", 66, kString);
    std::string b;
    putInt(b, 65);
    b += '\x01';
    putUint(b, uint64_t(1) << 60);
    b += '\x00';
    putMessage(s, b);
    EXPECT_THROW(decodeMessage(s), DecodeError);
}

TEST(GobDecode, DeepPreviousMessageChainIsBounded) {
    Message m{.toNode = "leaf"};
    for (int i = 0; i < 200; ++i) {
        Message up{.toNode = "n" + std::to_string(i)};
        up.previous = std::make_shared<Message>(m);
        m = up;
    }
    EXPECT_THROW(decodeMessage(encodeMessage(m)), gob::DecodeError);
    Message shallow{.toNode = "a"};
    for (int i = 0; i < 50; ++i) {
        Message up{.toNode = "n"};
        up.previous = std::make_shared<Message>(shallow);
        shallow = up;
    }
    EXPECT_EQ(decodeMessage(encodeMessage(shallow)), shallow);
}

TEST(GobDecode, TrailingDataAfterTheFirstValueIsIgnoredAsByGo) {
    std::string p = encodeMessage(Message{.toNode = "x"});
    EXPECT_EQ(decodeMessage(p + "\xff\xff garbage").toNode, "x");
}

TEST(GobPrimitives, UintAndIntExamplesOfTheSpec) {
    using namespace gob;
    std::string s;
    putUint(s, 247);
    EXPECT_EQ(s, "\xff\xf7");
    s.clear();
    putUint(s, 300);
    EXPECT_EQ(s, std::string("\xfe\x01\x2c"));
    s.clear();
    putInt(s, 65);
    EXPECT_EQ(s, "\xff\x82");
    s.clear();
    putInt(s, -65);
    EXPECT_EQ(s, "\xff\x81");
    s.clear();
    putInt(s, 5);
    EXPECT_EQ(s, "\x0a");
}

TEST(Methods, TableAndSubjects) {
    EXPECT_EQ(subjectFor("ship1", "REQCliCommand"), "ship1.REQCliCommand.CommandACK");
    EXPECT_EQ(subjectFor("central", "REQHello"), "central.REQHello.EventNACK");
    EXPECT_EQ(subjectFor("errorCentral", "REQErrorLog"), "errorCentral.REQErrorLog.EventACK");
    EXPECT_FALSE(methodKind("REQBogus"));
    EXPECT_EQ(subscribableMethods().size(), 14u);
}

TEST(Format, GoPercentV) {
    Message m{.toNode = "ship1", .id = 5, .data = {"bash", "-c", "sleep 3"}, .method = "REQCliCommand",
              .replyMethod = "REQToFileAppend", .fromNode = "central", .ackTimeout = 5, .retries = 1,
              .replyAckTimeout = 5, .replyRetries = 3, .methodTimeout = 1, .directory = "steward-check",
              .fileName = "cli-timeout.log"};
    EXPECT_EQ(goFormat(m), "{ship1 [] 5 [bash -c sleep 3] REQCliCommand REQToFileAppend central 5 1 5 3 1 "
                           "steward-check cli-timeout.log { []} <nil> <nil>}");
}

TEST(GobDecode, ValuesPerStreamAreBounded) {
    using namespace gob;
    // One byte per element on the wire, ~140 in memory: a payload of a
    // million empty strings is refused instead of costing ~140 MiB.
    auto stream = [](size_t n) {
        std::string s = sliceTypeDef("[]string", 65, kString), body;
        putInt(body, 65);
        body += '\x00';
        putUint(body, n);
        body.append(n, '\x00');
        putMessage(s, body);
        return s;
    };
    EXPECT_EQ(Decoder().decodeStream(stream(1000)).at(0).items.size(), 1000u);
    try {
        Decoder().decodeStream(stream(1000000));
        FAIL();
    } catch (const DecodeError& e) {
        EXPECT_NE(std::string(e.what()).find("values in one stream"), std::string::npos) << e.what();
    }
}
