// SPDX-License-Identifier: LGPL-2.1-or-later
#include <gtest/gtest.h>

#include "message_json.h"

using namespace steward;

TEST(Json, SteardsKeysCaseInsensitively) {
    auto v = parseMessageArray(R"([{"toNode":"ship1","method":"REQCliCommand","data":["bash","-c","ls"],
        "replyMethod":"REQToFileAppend","ACKTimeout":5,"Retries":3,"replyACKTimeout":6,"replyRetries":2,
        "MethodTimeout":10,"directory":"cli","fileName":"ls.result","FromNode":"liar",
        "operation":{"opCmd":"startProc","opArg":{"program": "web"}},"unknown":1,
        "PreviousMessage":{"toNode":"p"}}])");
    ASSERT_EQ(v.size(), 1u);
    const Message& m = v[0];
    EXPECT_EQ(m.toNode, "ship1");
    EXPECT_EQ(m.data.size(), 3u);
    EXPECT_EQ(m.retries, 3);
    EXPECT_EQ(m.replyAckTimeout, 6);
    EXPECT_EQ(m.methodTimeout, 10);
    EXPECT_EQ(m.fromNode, "liar"); // replaced by the node when sent
    EXPECT_EQ(m.operation.opArg, R"({"program":"web"})");
    ASSERT_TRUE(m.previous);
    EXPECT_EQ(m.previous->toNode, "p");
}

TEST(Json, RefusesWhatSteardRefuses) {
    EXPECT_THROW(parseMessageArray(R"({"toNode":"x"})"), std::invalid_argument); // not an array
    EXPECT_THROW(parseMessageArray("[{"), std::invalid_argument);
    EXPECT_THROW(parseMessageArray(R"([{"data":"x"}])"), std::invalid_argument);
    EXPECT_THROW(parseMessageArray(R"([{"id":1.5}])"), std::invalid_argument);
    EXPECT_THROW(parseMessageArray(std::string(10000, '[')), std::invalid_argument);
    EXPECT_TRUE(parseMessageArray("[]").empty());
}

TEST(Json, LimitsAreNamed) {
    try {
        parseMessageArray(std::string(100000, '['));
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("deeper than 64"), std::string::npos) << e.what();
    }
}
