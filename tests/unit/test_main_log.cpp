// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The daemon's own log: what log::* writes is in the ring, the file and
// the published lines; clearing empties the ring.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "logging.h"
#include "main_log.h"

using namespace scopevisor;

namespace {

std::string readFile(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

} // namespace

TEST(MainLog, LinesGoToTheRingTheFileAndThePublisher) {
    char dir[] = "/tmp/test_main_log.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string path = std::string(dir) + "/scopevisord.log";
    std::vector<std::string> published;
    {
        MainLog ml(path, 1 << 20, 1, [&](std::string_view l) { published.emplace_back(l); });
        log::setLevel(log::Level::Info);
        log::info("hello from the daemon");
        auto r = ml.read(0, 0); // supervisord: length 0 reads to the end
        ASSERT_TRUE(r);
        EXPECT_NE(r->data.find("hello from the daemon\n"), std::string::npos);
        ASSERT_EQ(published.size(), 1u);
        EXPECT_NE(published[0].find("hello from the daemon"), std::string::npos);
        EXPECT_EQ(published[0].back(), 'n'); // without the '\n'
        EXPECT_NE(readFile(path).find("hello from the daemon\n"), std::string::npos);

        ml.clear();
        r = ml.read(0, 0);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->data.find("hello"), std::string::npos);
        EXPECT_EQ(readFile(path).find("hello"), std::string::npos);
    }
    // Gone with its owner: no sink calls into a destroyed log.
    log::info("after");
    EXPECT_EQ(published.size(), 1u);
    unlink(path.c_str());
    rmdir(dir);
}

TEST(MainLog, WithoutAFileTheRingStillHasTheLines) {
    MainLog ml("", 0, 0, nullptr);
    log::setLevel(log::Level::Info);
    log::warn("only in memory");
    auto r = ml.read(0, 0);
    ASSERT_TRUE(r);
    EXPECT_NE(r->data.find("only in memory\n"), std::string::npos);
}
