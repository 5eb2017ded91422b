// SPDX-License-Identifier: LGPL-2.1-or-later
//
// supervisor-rs command parsing, signed framing and reply texts (docs/protocols/supervisor-rs.md §2, §3).
#include <gtest/gtest.h>

#include "srs_command.h"

using namespace srs;

namespace {
std::string err(std::string_view s) {
    auto p = parseCommand(s);
    EXPECT_FALSE(p.command) << s;
    return p.error;
}
Command ok(std::string_view s) {
    auto p = parseCommand(s);
    EXPECT_TRUE(p.command) << s << ": " << p.error;
    return p.command.value_or(Command{});
}
} // namespace

TEST(SrsParse, OpSpellings) {
    for (auto w : {"restart", "Restart"})
        EXPECT_EQ(parseOp(w), Op::Restart);
    for (auto w : {"trystart", "Trystart", "TryStart"})
        EXPECT_EQ(parseOp(w), Op::TryStart);
    for (auto w : {"info", "Info", "INFO", "InFo"})
        EXPECT_EQ(parseOp(w), Op::Info);
    for (auto w : {"help", "Help", "-h"})
        EXPECT_EQ(parseOp(w), Op::Help);
    for (auto w : {"START", "tryStart", "iNFO", "", "check\n"})
        EXPECT_FALSE(parseOp(w)) << w;
}

TEST(SrsParse, Commands) {
    auto c = ok("start sleeper");
    EXPECT_EQ(c.op, Op::Start);
    EXPECT_EQ(c.child, "sleeper");
    c = ok("check");
    EXPECT_FALSE(c.hasChild);
    c = ok("check ");
    EXPECT_TRUE(c.hasChild);
    EXPECT_EQ(c.child, ""); // "all"
    c = ok("check on 127.0.0.1");
    EXPECT_FALSE(c.hasChild); // the pair is ignored: check all
    ASSERT_EQ(c.preps.size(), 1u);
    c = ok("start on");
    EXPECT_EQ(c.child, "on"); // refused later as a reserved name
    c = ok("stop x With k.pem on 1.2.3.4");
    ASSERT_EQ(c.preps.size(), 2u);
    EXPECT_EQ(c.preps[0].first, "With");
    EXPECT_TRUE(ok("kill").op == Op::Kill);
    EXPECT_TRUE(ok("info").op == Op::Info);
}

TEST(SrsParse, Errors) {
    EXPECT_EQ(err("check\n"), "no legal operations input");
    EXPECT_EQ(err("che"), "no legal operations input");
    EXPECT_EQ(err("check  "), "prep & obj arguments number should be even");
    EXPECT_EQ(err("stop  sleeper"), "prep & obj arguments number should be even");
    EXPECT_EQ(err("start restart"), "child name cannot be command");
    EXPECT_EQ(err("restart restart"), "child name cannot be command");
    EXPECT_EQ(err("start x to y"), "does not support to");
    // Where the original panicked: an answer instead.
    EXPECT_EQ(err(""), "no legal operations input");
    for (auto s : {"start", "restart", "stop", "trystart", "help"})
        EXPECT_NE(err(s).find("needs a child name"), std::string::npos) << s;
}

TEST(SrsFraming, PlainAndSigned) {
    EXPECT_EQ(stripTrailingNuls(std::string_view("check\0\0", 7)), "check");
    auto s = splitSigned("check");
    EXPECT_EQ(s.error, "Cannot parse encrypt data");
    EXPECT_EQ(splitSigned(";xxx").error, "Keyname or command is empty");
    EXPECT_EQ(splitSigned("alice;").error, "Keyname or command is empty");
    EXPECT_EQ(splitSigned(std::string_view("alice;\0\0", 8)).error, "Keyname or command is empty");
    // A signature ending in 0x00 keeps its last byte.
    auto m = splitSigned(std::string_view("alice;ab;\0", 10));
    ASSERT_TRUE(m.message);
    EXPECT_EQ(m.message->keyName, "alice");
    EXPECT_EQ(m.message->signature, std::string("ab;\0", 4));
    EXPECT_EQ(commandFromDecrypted(std::string_view("\0\0start x\0", 10)), "start x");
    EXPECT_FALSE(commandFromDecrypted("\xff"));
}

TEST(SrsReplies, ExactTexts) {
    EXPECT_EQ(reply::alreadyRunning("x"), "Cannot start this child x, it already exsits");
    EXPECT_EQ(reply::notRunning("x"), "x not exsit, cannot stop");
    EXPECT_EQ(reply::reserved("all"), "\"all\" is reserved keywords, cannot run child named \"all\"");
    EXPECT_EQ(reply::noConfig("x"), "Cannot found 'x' file in load path");
    EXPECT_EQ(reply::keyNotFound("bob"), "Cannot found 'bob' file in keys path");
    EXPECT_EQ(reply::startOk("x", reply::repeatSuffix("restart", 5), false),
              "start x success, and it will restart in 5s");
    EXPECT_EQ(reply::startOk("x", "", true), "Find pre-hook, has started pre-hook firstly. start x success");
    EXPECT_EQ(reply::tryStartFresh("x", ""), "Start x success ");
    EXPECT_EQ(reply::tryStartFresh("x", reply::repeatSuffix("restart", 5)),
              "Start x success, and it will restart in 5s ");
    EXPECT_EQ(reply::tryStartAgain("x", "", ""),
              "This child already start, stop it first. Stop x success, start it again. Start x success ");
    EXPECT_EQ(reply::tryStartAgain("x", "", "start sleeper"),
              "This child already start, stop it first. find post-hook \"start sleeper\", run it after stop. "
              "Stop x success, start it again. Start x success ");
    EXPECT_EQ(reply::help("2024-01-05 10:00:00"), "[2024-01-05 10:00:00] not support");
    EXPECT_EQ(reply::kill(""), "I am dying. last error: \n");
    EXPECT_EQ(std::string(reply::kBanner), "Running on encrypt mode, need to dencrypt your command.\n");
    EXPECT_EQ(verbFor(Op::Kill), scopevisor::Verb::Manage);
    EXPECT_EQ(verbFor(Op::Check), scopevisor::Verb::ReadLog); // it shows command lines
    EXPECT_EQ(verbFor(Op::TryStart), scopevisor::Verb::Control);
}
