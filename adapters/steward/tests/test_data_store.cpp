// SPDX-License-Identifier: LGPL-2.1-or-later
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "data_store.h"

using namespace steward;

TEST(DataStore, SelectFileNamingOfSteward) {
    DataStore d("/data");
    std::string err;
    Message m{.toNode = "errorCentral", .directory = "errorLog", .fileName = "error.log"};
    EXPECT_EQ(d.pathFor(m, &err).value_or(err), "/data/errorLog/errorCentral/error.log");
    // A reply: the folder is named after the node that ran the command.
    Message reply{.toNode = "central", .fromNode = "ship1"};
    reply.previous = std::make_shared<Message>(Message{.toNode = "ship1", .directory = "cli", .fileName = "ls.result"});
    EXPECT_EQ(d.pathFor(reply, &err).value_or(err), "/data/cli/ship1/ls.result");
    Message noTo{.fromNode = "ship2"};
    noTo.previous = std::make_shared<Message>(Message{.directory = "a/b", .fileName = "f"});
    EXPECT_EQ(d.pathFor(noTo, &err).value_or(err), "/data/a/b/ship2/f");
}

TEST(DataStore, NamesCannotLeaveTheFolder) {
    DataStore d("/data");
    std::string err;
    for (auto [dir, node, file] : std::vector<std::tuple<std::string, std::string, std::string>>{
             {"../etc", "n", "f"}, {"a/../../x", "n", "f"}, {"/etc", "n", "f"}, {"d", "..", "f"},
             {"d", "n", "../passwd"}, {"d", "n", ""}, {"", "n", "f"}, {"d", "a/b", "f"}})
        EXPECT_FALSE(d.pathOf(dir, node, file, &err)) << dir << " " << node << " " << file;
}

TEST(DataStore, AppendAndTruncate) {
    auto root = std::filesystem::temp_directory_path() / ("steward-store-" + std::to_string(getpid()));
    DataStore d(root.string());
    std::string err, path = root.string() + "/x/n/f.log";
    ASSERT_TRUE(d.write(path, "a\n", DataStore::Mode::Append, &err)) << err;
    ASSERT_TRUE(d.write(path, "b\n", DataStore::Mode::Append, &err)) << err;
    std::ifstream in(path);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(all, "a\nb\n");
    ASSERT_TRUE(d.write(path, "c\n", DataStore::Mode::Truncate, &err)) << err;
    std::ifstream in2(path);
    EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in2)), {}), "c\n");
    EXPECT_EQ(std::filesystem::status(root / "x").permissions(), std::filesystem::perms::owner_all);
    std::filesystem::remove_all(root);
}
