// SPDX-License-Identifier: LGPL-2.1-or-later
#include <gtest/gtest.h>

#include "message_json.h"
#include "op_arg.h"

using namespace steward;

TEST(OpArg, ReadsTheKeysOfStartAndStopProc) {
    std::string err;
    auto a = parseOpArg(R"({"program":"web","group":"g","method":"REQHello","kind":"subscriber",
                           "receivingNode":"n","id":7})", &err);
    ASSERT_TRUE(a) << err;
    EXPECT_EQ(a->program, "web");
    EXPECT_EQ(a->group, "g");
    EXPECT_EQ(a->kind, "subscriber");
    EXPECT_EQ(a->receivingNode, "n");
    EXPECT_EQ(a->id, 7);
    a = parseOpArg(R"({"program":3,"id":"x"})", &err);
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->program.empty());
    EXPECT_FALSE(a->id);
}

TEST(OpArg, RefusesDeepLargeAndMalformedInputNamingTheLimit) {
    std::string err;
    EXPECT_FALSE(parseOpArg(std::string(1000000, '['), &err));
    EXPECT_NE(err.find("over the limit of 65536 bytes"), std::string::npos) << err;
    EXPECT_FALSE(parseOpArg(std::string(60000, '['), &err));
    EXPECT_NE(err.find("deeper than 64"), std::string::npos) << err;
    std::string deep;
    for (int i = 0; i < 65; ++i)
        deep += "{\"a\":";
    EXPECT_FALSE(parseOpArg(deep + "1" + std::string(65, '}'), &err));
    EXPECT_NE(err.find("deeper than 64"), std::string::npos) << err;
    EXPECT_FALSE(parseOpArg("{\"program\":\"" + std::string(kMaxOpArgJson, 'x') + "\"}", &err));
    EXPECT_NE(err.find("over the limit of 65536 bytes"), std::string::npos) << err;
    EXPECT_FALSE(parseOpArg("[1]", &err));
    EXPECT_FALSE(parseOpArg("{", &err));
    EXPECT_NE(err.find("malformed"), std::string::npos) << err;
}
