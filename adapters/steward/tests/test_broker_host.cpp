// SPDX-License-Identifier: LGPL-2.1-or-later
#include <gtest/gtest.h>

#include "nats_link.h"

using namespace steward;

TEST(BrokerHost, TheNameTheCertificateMustCarry) {
    EXPECT_EQ(brokerHost("127.0.0.1:4222"), "127.0.0.1");
    EXPECT_EQ(brokerHost("tls://nats.example:4222"), "nats.example");
    EXPECT_EQ(brokerHost("nats://user:pw@nats.example:4222"), "nats.example");
    EXPECT_EQ(brokerHost("[::1]:4222"), "::1");
    EXPECT_EQ(brokerHost("tls://[2001:db8::1]:4222"), "2001:db8::1");
    EXPECT_EQ(brokerHost("nats.example"), "nats.example");
}

TEST(BrokerHost, Loopback) {
    for (const char* h : {"localhost", "127.0.0.1", "127.1.2.3", "::1", "a.localhost"})
        EXPECT_TRUE(isLoopbackHost(h)) << h;
    for (const char* h : {"10.0.0.1", "nats.example", "0.0.0.0", "128.0.0.1", "localhost.example"})
        EXPECT_FALSE(isLoopbackHost(h)) << h;
}
