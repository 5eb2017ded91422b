// SPDX-License-Identifier: LGPL-2.1-or-later
#include <gtest/gtest.h>

#include "nkey.h"

using namespace steward;

// The user nkey of the NATS documentation's nkey example.
constexpr char kSeed[] = "SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY";
constexpr char kPublic[] = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";

TEST(Nkey, PublicKeyFromSeed) {
    std::string err;
    auto pub = userPublicKeyFromSeed(kSeed, &err);
    ASSERT_TRUE(pub) << err;
    EXPECT_EQ(*pub, kPublic);
}

TEST(Nkey, FindsTheSeedInCredsFiles) {
    std::string creds = std::string("-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJqd3QiLCJhbGciOiJlZDI1NTE5In0\n"
                                    "------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n") +
                        kSeed + "\n------END USER NKEY SEED------\n";
    EXPECT_EQ(findUserSeed(creds).value_or(""), kSeed);
    EXPECT_EQ(findUserSeed(std::string(kSeed) + "\n").value_or(""), kSeed);
    EXPECT_FALSE(findUserSeed("nothing here"));
}

TEST(Nkey, RefusesBadSeeds) {
    std::string err;
    std::string s = kSeed;
    s[10] = s[10] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(userPublicKeyFromSeed(s, &err));
    EXPECT_NE(err.find("checksum"), std::string::npos);
    EXPECT_FALSE(userPublicKeyFromSeed("SU!!", &err));
    // An account seed ("SA...") is not a user seed.
    EXPECT_FALSE(userPublicKeyFromSeed("SAAJUJCU4OJWTQUIJDTNJQRBPXR5RRHXPQN3ZBQWXQYKXF7UYPNCZAMDJI", &err));
}

TEST(Nkey, Base32RoundTrip) {
    std::string raw = "\x01\x02\xff\x00zz";
    EXPECT_EQ(base32Decode(base32Encode(raw)).value_or(""), raw);
    EXPECT_EQ(nkeyCrc16("123456789"), 0x31c3); // CRC-16/XMODEM check value
}
