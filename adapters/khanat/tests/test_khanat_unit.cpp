// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The Khanat adapter's parsers and writers: khaganat.cfg (configparser
// rules), requests (docs/protocols/khanat.md §3.1, §3.2, §3.4), replies (§3.3, §3.5), settings.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <rapidjson/document.h>
#include <unistd.h>

#include "khanat_config.h"
#include "khanat_request.h"
#include "khanat_settings.h"

using namespace khanat;

namespace {

KhanatFile parseOk(const std::string& text) {
    KhanatFile f;
    std::string err;
    EXPECT_TRUE(parseKhanatCfg(text, "k.cfg", &f, &err)) << err;
    return f;
}

std::string parseErr(const std::string& text) {
    KhanatFile f;
    std::string err;
    EXPECT_FALSE(parseKhanatCfg(text, "k.cfg", &f, &err));
    return err;
}

ParseResult req(std::string_view method, std::string_view path, std::string_view body,
                std::optional<std::string_view> ct = "application/json") {
    HttpInput in;
    in.method = method;
    in.path = path;
    in.contentType = ct;
    in.hasBody = true;
    in.body = body;
    return parseRequest(in);
}

} // namespace

TEST(KhanatConfig, WikiExample) {
    auto f = parseOk("[config]\n# server\nport = 8000\nkeyfile = crt/key.pem\ncertfile = crt/cert.pem\n"
                     "ca_cert = ca/appli/certs/cachaincert.pem\naddress =\n\n"
                     "[aes]\ncommand = /home/gameserver/khanat/server/ryzom_admin_service -A/home/gameserver -C/home/gameserver\n"
                     "path = /home/gameserver/khanat/server\nlogsize = 1000\nbufsize = 100\n\n"
                     "[egs]\ncommand= ./egs --nolog\n");
    EXPECT_EQ(f.server.at("port"), "8000");
    EXPECT_EQ(f.server.at("address"), "");
    ASSERT_EQ(f.programs.size(), 2u);
    EXPECT_EQ(f.programs[0].name, "aes");
    EXPECT_EQ(f.programs[0].logsize, 1000);
    EXPECT_EQ(f.programs[0].path, "/home/gameserver/khanat/server");
    EXPECT_EQ(f.programs[1].name, "egs");
    EXPECT_EQ(f.programs[1].logsize, 100); // default
    EXPECT_EQ(f.programs[1].line, 15);
}

TEST(KhanatConfig, ConfigparserRules) {
    auto f = parseOk("[DEFAULT]\nroot = /srv\n[a]\nCOMMAND : %(root)s/bin/a 100%%\n  --more\n; comment\n"
                     "Path=%(root)s/a\n");
    ASSERT_EQ(f.programs.size(), 1u);
    EXPECT_EQ(f.programs[0].command, "/srv/bin/a 100%\n--more");
    EXPECT_EQ(f.programs[0].path, "/srv/a");
    EXPECT_EQ(splitCommand(f.programs[0].command), (std::vector<std::string>{"/srv/bin/a", "100%", "--more"}));
}

TEST(KhanatConfig, Errors) {
    EXPECT_NE(parseErr("port = 1\n").find("k.cfg:1"), std::string::npos);
    EXPECT_NE(parseErr("[a]\ncommand = x\n[a]\n").find("k.cfg:3"), std::string::npos);
    EXPECT_NE(parseErr("[a]\ncommand = x\ncommand = y\n").find("already exists"), std::string::npos);
    EXPECT_NE(parseErr("[a]\npath = /\n").find("no 'command'"), std::string::npos);
    EXPECT_NE(parseErr("[a]\ncommand = x\nlogsize = big\n").find("k.cfg:3"), std::string::npos);
    EXPECT_NE(parseErr("[a]\ncommand = 50% x\n").find("'%' must be followed"), std::string::npos);
    EXPECT_NE(parseErr("[a]\ncommand = %(nope)s\n").find("nope"), std::string::npos);
    EXPECT_NE(parseErr("[a:b]\ncommand = x\n").find("may not contain"), std::string::npos);
    EXPECT_NE(parseErr("[a]\njunk line\n").find("k.cfg:2"), std::string::npos);
}

TEST(KhanatConfig, SplitIsPythonSplit) {
    EXPECT_EQ(splitCommand("  a\t b   c "), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(splitCommand("sh -c \"echo  a\""), (std::vector<std::string>{"sh", "-c", "\"echo", "a\""}));
    EXPECT_TRUE(splitCommand(" \t").empty());
}

TEST(KhanatRequest, ClientPyRequests) {
    auto r = req("GET", "/LOG", R"({"name": "aes", "first-line": 0})");
    ASSERT_TRUE(r.request);
    EXPECT_EQ(r.request->command, Command::Log);
    EXPECT_EQ(r.request->name, "aes");
    EXPECT_EQ(r.request->firstLine, 0u);
    r = req("POST", "/ACTION", R"({"name": "aes", "action": "help all \u00e9"})");
    ASSERT_TRUE(r.request);
    EXPECT_EQ(r.request->action, "help all \xC3\xA9");
    for (auto p : {"/SHUTDOWN", "/STARTALL", "/STATUSALL", "/STOPALL", "/LIST"}) {
        for (auto m : {"GET", "POST"}) {
            auto x = req(m, p, "{}");
            ASSERT_TRUE(x.request) << m << p;
            EXPECT_EQ(std::string("/") + commandName(x.request->command), p);
        }
    }
}

TEST(KhanatRequest, FirstLineVariants) {
    for (auto body : {R"({"name":"a","first-line":7})", R"({"name":"a","firstline":7})",
                      R"({"name":"a","first_line":"7"})"}) {
        auto r = req("GET", "/LOG", body);
        ASSERT_TRUE(r.request) << body;
        EXPECT_EQ(r.request->firstLine, 7u);
    }
    auto r = req("GET", "/LOG", R"({"name":"a","first-line":-3})");
    ASSERT_TRUE(r.request);
    EXPECT_EQ(r.request->firstLine, 0u);
    EXPECT_EQ(req("GET", "/LOG", R"({"name":"a"})").error.status, 400);
    EXPECT_EQ(req("GET", "/LOG", R"({"name":"a","first-line":1.5})").error.status, 400);
    EXPECT_EQ(req("GET", "/LOG", R"({"name":"a","first-line":"x"})").error.status, 400);
}

TEST(KhanatRequest, Errors) {
    EXPECT_EQ(req("GET", "/NOPE", "{}").error.status, 400);
    EXPECT_EQ(req("GET", "/NOPE", "{}").error.message, "Path unknown");
    EXPECT_EQ(req("GET", "/list", "{}").error.status, 400);
    EXPECT_EQ(req("GET", "/LIST/", "{}").error.status, 400);
    for (auto m : {"HEAD", "PUT", "PATCH", "DELETE"})
        EXPECT_EQ(req(m, "/LIST", "{}").error.status, 404) << m;
    EXPECT_EQ(req("OPTIONS", "/LIST", "{}").error.status, 501);
    EXPECT_EQ(req("POST", "/LIST", "{}", "text/plain").error.status, 400);
    EXPECT_EQ(req("POST", "/LIST", "{}", std::nullopt).error.status, 400);
    EXPECT_TRUE(req("POST", "/LIST", "{}", "Application/JSON; charset=utf-8").request);
    EXPECT_EQ(req("POST", "/START", "{}").error.status, 400);
    EXPECT_EQ(req("POST", "/START", R"({"name": 1})").error.status, 400);
    EXPECT_EQ(req("POST", "/START", R"({"name": ""})").error.status, 400);
    EXPECT_EQ(req("POST", "/ACTION", R"({"name": "a"})").error.status, 400);
    EXPECT_EQ(req("POST", "/ACTION", R"({"name": "a", "action": 3})").error.status, 400);
    EXPECT_EQ(req("POST", "/START", R"([1])").error.status, 400);
    EXPECT_EQ(req("POST", "/START", R"({"name": "a"} x)").error.status, 400);
    EXPECT_EQ(req("POST", "/START", "{\"name\": \"\xff\"}").error.status, 400);
    EXPECT_TRUE(req("POST", "/START", "{\"name\": \"a\"}  \n").request);
    // Duplicate keys: the last one wins, as json.loads.
    EXPECT_EQ(req("POST", "/START", R"({"name": "a", "name": "b"})").request->name, "b");
}

TEST(KhanatRequest, NoBodyMeansNoArguments) {
    HttpInput in;
    in.method = "GET";
    in.path = "/STATUSALL";
    auto r = parseRequest(in);
    ASSERT_TRUE(r.request);
    in.path = "/STATUS";
    EXPECT_EQ(parseRequest(in).error.status, 400);
}

TEST(KhanatReply, Json) {
    std::string s = jsonObject({{"0", "aes"}, {"1", "egs"}});
    EXPECT_EQ(s, R"({"0":"aes","1":"egs"})");
    // Non-ASCII is escaped as json.dumps does; invalid bytes become U+FFFD.
    EXPECT_EQ(jsonObject({{"k", "\xC3\xA9\xFF"}}), R"({"k":"\u00E9\uFFFD"})");
    rapidjson::Document d;
    d.Parse(jsonObject({{"k", std::string("a\0b\"\x1b[31m", 8)}}).c_str());
    ASSERT_TRUE(d.IsObject());
    EXPECT_EQ(d["k"].GetStringLength(), 8u);
}

TEST(KhanatReply, Log) {
    LogReply r;
    r.lines = {{15, "a"}, {16, "b"}};
    r.lastLine = 16;
    EXPECT_EQ(logJson(r), R"({"15":"a","16":"b","first-line":15,"last-line":16})");
    r.lines.clear();
    EXPECT_EQ(logJson(r), R"({"first-line":null,"last-line":16})");
    EXPECT_EQ(stripLine("  x y \r"), "x y");
}

TEST(KhanatReply, ErrorHtml) {
    std::string h = errorHtml(400, "Path <unknown>");
    EXPECT_NE(h.find("<p>Error code: 400</p>"), std::string::npos);
    EXPECT_NE(h.find("Message: Path &lt;unknown&gt;."), std::string::npos);
}

TEST(KhanatSettings, ImportAndFallbacks) {
    char dir[] = "/tmp/khanat-unit-XXXXXX";
    ASSERT_TRUE(mkdtemp(dir));
    std::string d = dir;
    std::ofstream(d + "/khaganat.cfg") << "[config]\nport = nope\nkeyfile = crt/key.pem\ncertfile = crt/cert.pem\n"
                                          "ca_cert = crt/ca.pem\n[aes]\ncommand = /bin/sleep  100\nlogsize=5\n"
                                          "[egs]\ncommand = ./egs\npath = srv\n";
    scopevisor::AdapterConfig cfg;
    cfg.name = "khanat";
    cfg.settings.push_back({"adapter:khanat", "config", "khaganat.cfg", d + "/main.conf", 3});
    cfg.settings.push_back({"adapter:khanat", "launch_program", "yes", d + "/main.conf", 4});
    Settings s;
    std::string err;
    ASSERT_TRUE(readSettings(cfg, true, &s, &err)) << err;
    EXPECT_EQ(s.port, 8000); // int() failed: the default, as manage.py
    EXPECT_EQ(s.tls.keyfile, d + "/crt/key.pem");
    EXPECT_EQ(s.tls.caCert, d + "/crt/ca.pem");
    auto progs = importedPrograms(s);
    ASSERT_EQ(progs.size(), 2u);
    EXPECT_EQ(progs[0].argv, (std::vector<std::string>{"/bin/sleep", "100"}));
    EXPECT_EQ(progs[0].directory, d);
    EXPECT_TRUE(progs[0].autostart);
    EXPECT_TRUE(progs[0].redirectStderr);
    EXPECT_EQ(progs[0].logBufferLines, 5u);
    EXPECT_EQ(progs[1].directory, d + "/srv");

    cfg.settings.push_back({"adapter:khanat", "bogus", "1", d + "/main.conf", 9});
    EXPECT_FALSE(readSettings(cfg, true, &s, &err));
    EXPECT_NE(err.find("main.conf:9"), std::string::npos);
    cfg.settings.pop_back();
    cfg.settings.push_back({"adapter:khanat", "port", "99999", d + "/main.conf", 7});
    EXPECT_FALSE(readSettings(cfg, true, &s, &err));
    scopevisor::AdapterConfig bare;
    EXPECT_FALSE(readSettings(bare, true, &s, &err));
    EXPECT_NE(err.find("keyfile"), std::string::npos);
    EXPECT_TRUE(readSettings(bare, false, &s, &err));
    std::filesystem::remove_all(d);
}
