// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The state file written on a thread of its own (daemon/state_writer.h).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

#include "state_writer.h"

using namespace scopevisor;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/state-writer-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

} // namespace

TEST(StateWriter, ThePostedTextIsOnDiskWhenTheWriterEnds) {
    TempDir d;
    const std::string file = d.path + "/sub/state";
    {
        StateWriter w(file);
        for (int i = 0; i < 1000; ++i)
            w.post("text " + std::to_string(i) + "\n");
    }
    // Some texts were dropped for newer ones; the newest always lands.
    EXPECT_EQ(slurp(file), "text 999\n");
    EXPECT_NE(::access((file + ".tmp").c_str(), F_OK), 0);
}

TEST(StateWriter, WriteNowWinsOverEverythingPostedBefore) {
    TempDir d;
    const std::string file = d.path + "/state";
    StateWriter w(file);
    for (int round = 0; round < 200; ++round) {
        for (int i = 0; i < 5; ++i)
            w.post("old " + std::to_string(i) + "\n");
        std::string err;
        ASSERT_TRUE(w.writeNow("final " + std::to_string(round) + "\n", &err)) << err;
        // No posted text, older than the final one, may land after it.
        EXPECT_EQ(slurp(file), "final " + std::to_string(round) + "\n");
    }
}

TEST(StateWriter, AFailureIsReportedByWriteNow) {
    StateWriter w("/proc/no/such/dir/state");
    std::string err;
    EXPECT_FALSE(w.writeNow("x", &err));
    EXPECT_NE(err.find("/proc/no/such/dir/state"), std::string::npos) << err;
}
