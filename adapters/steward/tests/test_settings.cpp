// SPDX-License-Identifier: LGPL-2.1-or-later
#include <gtest/gtest.h>

#include "settings.h"

using namespace steward;
using scopevisor::AdapterConfig;
using scopevisor::AdapterSetting;

namespace {
AdapterConfig config(std::vector<std::pair<std::string, std::string>> kv) {
    AdapterConfig c;
    c.name = "steward";
    int line = 1;
    for (auto& [k, v] : kv)
        c.settings.push_back(AdapterSetting{"adapter:steward", k, v, "/etc/x.conf", line++});
    return c;
}
} // namespace

TEST(Settings, DefaultsAndCentralMode) {
    Settings s;
    std::string err;
    ASSERT_TRUE(parseSettings(config({{"node_name", "ship1"}, {"central_node_name", "central"}}), "/var/lib/x", &s, &err))
        << err;
    EXPECT_EQ(s.brokerAddress, "127.0.0.1:4222");
    EXPECT_EQ(s.dataFolder, "/var/lib/x/data");
    EXPECT_EQ(s.socketFolder, "/var/lib/x");
    EXPECT_EQ(s.startPubHello, 30);
    EXPECT_FALSE(s.isCentral());
    EXPECT_FALSE(s.subscribesErrorLog());
    ASSERT_TRUE(parseSettings(config({{"node_name", "central"}, {"central_node_name", "central"},
                                      {"socket_folder", ""}, {"disabled_methods", "REQHttpGet, REQTailFile"},
                                      {"default_role", "viewer"}}),
                              "/s", &s, &err))
        << err;
    EXPECT_TRUE(s.isCentral());
    EXPECT_TRUE(s.subscribesErrorLog());
    EXPECT_EQ(s.socketFolder, "");
    EXPECT_EQ(s.disabledMethods.size(), 2u);
}

TEST(Settings, ErrorsNameFileLineAndKey) {
    Settings s;
    std::string err;
    EXPECT_FALSE(parseSettings(config({{"node_name", "a"}, {"central_node_name", "c"}, {"bogus", "1"}}), "/s", &s, &err));
    EXPECT_EQ(err, "/etc/x.conf:3: [adapter:steward] bogus: unknown key");
    EXPECT_FALSE(parseSettings(config({{"node_name", "a"}, {"central_node_name", "c"}, {"start_pub_hello", "x"}}), "/s",
                               &s, &err));
    EXPECT_NE(err.find("/etc/x.conf:3:"), std::string::npos);
    EXPECT_FALSE(parseSettings(config({{"central_node_name", "c"}}), "/s", &s, &err));
    EXPECT_NE(err.find("node_name: missing"), std::string::npos);
    EXPECT_FALSE(parseSettings(config({{"node_name", "a b"}, {"central_node_name", "c"}}), "/s", &s, &err));
    EXPECT_FALSE(parseSettings(config({{"node_name", "a"}, {"central_node_name", "c"}, {"disabled_methods", "REQNope"}}),
                               "/s", &s, &err));
}

TEST(Settings, NodeNames) {
    EXPECT_TRUE(validNodeName("ship1"));
    EXPECT_TRUE(validNodeName("ww.central"));
    for (const char* bad : {"", "a b", "a*", "a>", "a/b", ".a", "a.", "a..b"})
        EXPECT_FALSE(validNodeName(bad)) << bad;
}

TEST(Settings, SizesAndTlsServerName) {
    Settings s;
    std::string err;
    ASSERT_TRUE(parseSettings(config({{"node_name", "n"}, {"central_node_name", "c"}}), "/x", &s, &err)) << err;
    EXPECT_EQ(s.dataFolderQuota, 64u << 20);
    EXPECT_EQ(s.dataFileMax, 16u << 20);
    EXPECT_EQ(s.maxMessageBytes, 1u << 20);
    ASSERT_TRUE(parseSettings(config({{"node_name", "n"}, {"central_node_name", "c"}, {"data_folder_quota", "2G"},
                                      {"data_file_max", "512k"}, {"max_message_bytes", "8192"},
                                      {"tls_server_name", "nats.example"}}),
                              "/x", &s, &err))
        << err;
    EXPECT_EQ(s.dataFolderQuota, 2ull << 30);
    EXPECT_EQ(s.dataFileMax, 512u << 10);
    EXPECT_EQ(s.maxMessageBytes, 8192u);
    EXPECT_EQ(s.tlsServerName, "nats.example");
    for (const char* bad : {"", "1T", "-1", "12MB", "99999999999999999999", "18014398509481984K"}) {
        EXPECT_FALSE(parseSettings(config({{"node_name", "n"}, {"central_node_name", "c"}, {"data_folder_quota", bad}}),
                                   "/x", &s, &err))
            << bad;
        EXPECT_NE(err.find("data_folder_quota"), std::string::npos) << err;
    }
    EXPECT_FALSE(parseSettings(config({{"node_name", "n"}, {"central_node_name", "c"}, {"max_message_bytes", "65M"}}),
                               "/x", &s, &err));
}
