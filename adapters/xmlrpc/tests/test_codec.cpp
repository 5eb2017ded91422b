// SPDX-License-Identifier: LGPL-2.1-or-later
// The XML-RPC codec, Basic auth and signal names, against what supervisord's
// Python does with the same input.
#include <gtest/gtest.h>

#include "basic_auth.h"
#include "signals.h"
#include "xmlrpc_parse.h"
#include "xmlrpc_value.h"

using namespace scopevisor::xmlrpc;

namespace {

ParsedCall parse(const std::string& body) {
    ParsedCall c;
    std::string why;
    EXPECT_TRUE(parseMethodCall(body, &c, &why)) << why << "\n" << body;
    return c;
}

bool rejects(const std::string& body) {
    ParsedCall c;
    std::string why;
    return !parseMethodCall(body, &c, &why);
}

std::string call(const std::string& params) {
    return "<?xml version='1.0'?>\n<methodCall>\n<methodName>m.n</methodName>\n<params>\n" + params +
           "</params>\n</methodCall>\n";
}

} // namespace

TEST(Response, MatchesPythonDumps) {
    // xmlrpc.client.dumps(({'a': 1, 'b': [1, 'x&<>\r', True, 1.5]},), methodresponse=True),
    // except \r, which we keep as a character reference.
    Value v = Struct{{"a", Value(1)}, {"b", Value(Array{Value(1), Value("x&<>\r"), Value(true), Value(1.5)})}};
    EXPECT_EQ(methodResponse(v),
              "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><struct>\n<member>\n<name>a</name>\n"
              "<value><int>1</int></value>\n</member>\n<member>\n<name>b</name>\n<value><array><data>\n"
              "<value><int>1</int></value>\n<value><string>x&amp;&lt;&gt;&#13;</string></value>\n"
              "<value><boolean>1</boolean></value>\n<value><double>1.5</double></value>\n</data></array></value>\n"
              "</member>\n</struct></value>\n</param>\n</params>\n</methodResponse>\n");
    EXPECT_EQ(faultResponse(2, "INCORRECT_PARAMETERS"),
              "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member>\n<name>faultCode</name>\n"
              "<value><int>2</int></value>\n</member>\n<member>\n<name>faultString</name>\n"
              "<value><string>INCORRECT_PARAMETERS</string></value>\n</member>\n</struct></value>\n</fault>\n"
              "</methodResponse>\n");
}

TEST(Response, TextIsAlwaysValidXml) {
    std::string out;
    appendXmlText(out, std::string("a\x1b[31mb\xff\xc3(\x00z", 12));
    EXPECT_EQ(out, "a\xEF\xBF\xBD[31mb\xEF\xBF\xBD\xEF\xBF\xBD(\xEF\xBF\xBDz");
    out.clear();
    appendXmlText(out, "Malm\xc3\xb6 \xe2\x82\xac \xf0\x9f\x98\x80\t\n");
    EXPECT_EQ(out, "Malm\xc3\xb6 \xe2\x82\xac \xf0\x9f\x98\x80\t\n");
    out.clear();
    appendXmlText(out, "\xed\xa0\x80"); // a UTF-16 surrogate is not UTF-8
    EXPECT_EQ(out, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(Response, IntegersAreClampedAndFloatsArePythonRepr) {
    std::string out;
    appendValue(out, Value(int64_t(1) << 40));
    EXPECT_EQ(out, "<value><int>2147483647</int></value>\n");
    EXPECT_EQ(pyStr(Value(1.0)), "1.0");
    EXPECT_EQ(pyStr(Value(1e20)), "1e+20");
    EXPECT_EQ(pyStr(Value(0.0001)), "0.0001");
    EXPECT_EQ(pyStr(Value(1e-5)), "1e-05");
    EXPECT_EQ(pyStr(Value(123.456)), "123.456");
    EXPECT_EQ(pyRepr(Value(Array{Value(1), Value("a'b"), Value(Struct{{"k", Value(true)}})})),
              "[1, \"a'b\", {'k': True}]");
}

TEST(Parse, ValuesAsSupervisordReadsThem) {
    auto c = parse(call("<param><value><string>x</string></value></param>\n"
                        "<param><value>untyped</value></param>\n"
                        "<param><value><i8>5</i8></value></param>\n"
                        "<param><value><boolean>true</boolean></value></param>\n"
                        "<param><value><boolean>1</boolean></value></param>\n"
                        "<param><value><int> 1_000 </int></value></param>\n"
                        "<param><value><double>2.5</double></value></param>\n"
                        "<param><value><base64>TWFsbcO2</base64></value></param>\n"
                        "<param><value><array><data><value><i4>1</i4></value><value>b</value></data></array></value>"
                        "</param>\n"
                        "<param><value><struct><member><name>k</name><value><int>2</int></value></member>"
                        "<member><name>k</name><value>last</value></member></struct></value></param>\n"
                        "<param><value/></param>\n"));
    EXPECT_EQ(c.method, "m.n");
    ASSERT_EQ(c.params.size(), 11u);
    EXPECT_EQ(*c.params[0].string(), "x");
    EXPECT_EQ(*c.params[1].string(), "untyped");
    EXPECT_EQ(*c.params[2].string(), "5");
    EXPECT_EQ(std::get<bool>(c.params[3].v), false);
    EXPECT_EQ(std::get<bool>(c.params[4].v), true);
    EXPECT_EQ(std::get<int64_t>(c.params[5].v), 1000);
    EXPECT_EQ(std::get<double>(c.params[6].v), 2.5);
    EXPECT_EQ(*c.params[7].string(), "Malm\xc3\xb6");
    ASSERT_EQ(c.params[8].array()->size(), 2u);
    EXPECT_EQ(*(*c.params[8].array())[1].string(), "b");
    ASSERT_EQ(c.params[9].structure()->size(), 1u);
    EXPECT_EQ(*c.params[9].member("k")->string(), "last");
    EXPECT_EQ(*c.params[10].string(), "");
}

TEST(Parse, MissingParamsMeansNone) {
    auto c = parse("<methodCall><methodName>system.listMethods</methodName></methodCall>");
    EXPECT_TRUE(c.params.empty());
}

TEST(Parse, RefusesWhatSupervisordAnswersWith400) {
    EXPECT_TRUE(rejects(""));
    EXPECT_TRUE(rejects("<methodCall>"));
    EXPECT_TRUE(rejects("<methodCall><params/></methodCall>"));
    EXPECT_TRUE(rejects("<methodCall><methodName/></methodCall>"));
    EXPECT_TRUE(rejects(call("<param><value><int>abc</int></value></param>")));
    EXPECT_TRUE(rejects(call("<param><value><int>0x10</int></value></param>")));
    EXPECT_TRUE(rejects(call("<param><value><double>1.2.3</double></value></param>")));
    EXPECT_TRUE(rejects(call("<param><value><base64>YQ</base64></value></param>")));
    EXPECT_TRUE(rejects(call("<param><value><array/></value></param>")));
    EXPECT_TRUE(rejects(call("<param/>")));
    EXPECT_TRUE(rejects(call("<param><value><struct><member><name>a</name></member></struct></value></param>")));
    EXPECT_TRUE(rejects(call("<param><value><dateTime.iso8601>2024</dateTime.iso8601></value></param>")));
}

TEST(Parse, RefusesDoctypeAndEntities) {
    EXPECT_TRUE(rejects("<?xml version='1.0'?><!DOCTYPE m [<!ENTITY a 'x'>]>"
                        "<methodCall><methodName>&a;</methodName></methodCall>"));
    EXPECT_TRUE(rejects("<!DOCTYPE m SYSTEM 'file:///etc/passwd'><methodCall><methodName>a.b</methodName></methodCall>"));
    EXPECT_TRUE(rejects("<methodCall><methodName>&unknown;</methodName></methodCall>"));
    // Predefined entities and character references are fine.
    EXPECT_EQ(parse("<methodCall><methodName>a&amp;b&#46;c</methodName></methodCall>").method, "a&b.c");
}

TEST(Parse, BoundsDepthAndSize) {
    std::string deep = "<methodCall><methodName>a.b</methodName><params><param>";
    for (int i = 0; i < 200; ++i)
        deep += "<value><array><data>";
    EXPECT_TRUE(rejects(deep));
    ParseLimits small;
    small.maxElements = 10;
    ParsedCall c;
    std::string why;
    EXPECT_FALSE(parseMethodCall(call(std::string(20, ' ') + "<param><value><array><data><value>1</value><value>2</value>"
                                      "<value>3</value><value>4</value></data></array></value></param>"),
                                 &c, &why, small));
}

TEST(Parse, PythonNumbers) {
    EXPECT_EQ(pyParseInt(" -12 "), -12);
    EXPECT_EQ(pyParseInt("+7"), 7);
    EXPECT_EQ(pyParseInt("99999999999999999999999"), INT64_MAX);
    EXPECT_FALSE(pyParseInt("1__0"));
    EXPECT_FALSE(pyParseInt("_1"));
    EXPECT_FALSE(pyParseInt(""));
    EXPECT_FALSE(pyParseInt("1.0"));
    EXPECT_EQ(pyParseFloat(" 1e3 "), 1000.0);
    EXPECT_EQ(pyParseFloat(".5"), 0.5);
    EXPECT_EQ(pyParseFloat("5."), 5.0);
    EXPECT_TRUE(pyParseFloat("-inf"));
    EXPECT_FALSE(pyParseFloat("0x10"));
    EXPECT_FALSE(pyParseFloat("e5"));
    EXPECT_EQ(*pyBase64Decode("Y W\nJj"), "abc");
    EXPECT_EQ(*pyBase64Decode("YQ=="), "a");
    EXPECT_FALSE(pyBase64Decode("YQ"));
    EXPECT_FALSE(pyBase64Decode("Y"));
}

TEST(BasicAuth, AsMedusa) {
    Credentials c{"user", "123"};
    std::string user;
    std::string good = "Basic dXNlcjoxMjM="; // user:123
    EXPECT_EQ(checkBasicAuth(&good, c, &user), AuthOutcome::Ok);
    EXPECT_EQ(user, "user");
    EXPECT_EQ(checkBasicAuth(nullptr, c, &user), AuthOutcome::Unauthorized);
    std::string digest = "Digest abc";
    EXPECT_EQ(checkBasicAuth(&digest, c, &user), AuthOutcome::Unauthorized);
    std::string lower = "basic dXNlcjoxMjM=";
    EXPECT_EQ(checkBasicAuth(&lower, c, &user), AuthOutcome::Ok);
    std::string bad = "Basic YQ";
    EXPECT_EQ(checkBasicAuth(&bad, c, &user), AuthOutcome::BadRequest);
    std::string nocolon = "Basic dXNlcg=="; // "user"
    EXPECT_EQ(checkBasicAuth(&nocolon, c, &user), AuthOutcome::ServerError);
    std::string wrong = "Basic dXNlcjox"; // user:1
    EXPECT_EQ(checkBasicAuth(&wrong, c, &user), AuthOutcome::Unauthorized);
    // Passwords may hold ':' (split on the first one), and may be {SHA}.
    Credentials sha{"user", "{SHA}" + sha1Hex("a:b")};
    std::string colon = "Basic dXNlcjphOmI="; // user:a:b
    EXPECT_EQ(checkBasicAuth(&colon, sha, &user), AuthOutcome::Ok);
    EXPECT_EQ(sha1Hex("123"), "40bd001563085fc35165329ea1ff5c5ecbdbbeef");
    // FIPS 180 test vectors.
    EXPECT_EQ(sha1Hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    EXPECT_EQ(sha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(sha1Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    // No username configured: anyone, whatever they send.
    std::string og = "Basic Og==";
    EXPECT_EQ(checkBasicAuth(&og, Credentials{}, &user), AuthOutcome::Ok);
}

TEST(Signals, AsSignalNumber) {
    EXPECT_EQ(signalNumber(Value("HUP")), 1);
    EXPECT_EQ(signalNumber(Value("sigterm")), 15);
    EXPECT_EQ(signalNumber(Value(" SIGKILL ")), 9);
    EXPECT_EQ(signalNumber(Value("9")), 9);
    EXPECT_EQ(signalNumber(Value(int64_t(10))), 10);
    EXPECT_EQ(signalNumber(Value(true)), 1);
    EXPECT_EQ(signalNumber(Value("RTMIN")), 34);
    EXPECT_FALSE(signalNumber(Value("NOPE")));
    EXPECT_FALSE(signalNumber(Value("40")));
    EXPECT_FALSE(signalNumber(Value(int64_t(0))));
    EXPECT_FALSE(signalNumber(Value(Array{})));
    EXPECT_FALSE(isSignalLike(Value(Array{})));
}
