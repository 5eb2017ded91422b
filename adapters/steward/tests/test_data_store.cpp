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

TEST(DataStore, QuotaOfTheFolderAndOfOneFile) {
    auto root = std::filesystem::temp_directory_path() / ("steward-quota-" + std::to_string(getpid()));
    std::filesystem::create_directories(root / "old");
    std::ofstream(root / "old" / "f") << std::string(500, 'o'); // already there: counts
    DataStore d(root.string(), DataQuota{.total = 1000, .perFile = 400});
    std::string err, a = root.string() + "/x/n/a", b = root.string() + "/x/n/b";
    EXPECT_FALSE(d.write(a, std::string(401, 'a'), DataStore::Mode::Truncate, &err));
    EXPECT_NE(err.find("data_file_max (400 bytes)"), std::string::npos) << err;
    EXPECT_FALSE(std::filesystem::exists(a));
    ASSERT_TRUE(d.write(a, std::string(300, 'a'), DataStore::Mode::Append, &err)) << err;
    EXPECT_FALSE(d.write(a, std::string(101, 'a'), DataStore::Mode::Append, &err)); // 401 in the file
    EXPECT_FALSE(d.write(b, std::string(201, 'b'), DataStore::Mode::Append, &err)); // 1001 in the folder
    EXPECT_NE(err.find("data_folder_quota (1000 bytes, 800 used)"), std::string::npos) << err;
    EXPECT_FALSE(std::filesystem::exists(b));
    // Truncating gives room back; removing files by hand too.
    ASSERT_TRUE(d.write(a, "x", DataStore::Mode::Truncate, &err)) << err;
    ASSERT_TRUE(d.write(b, std::string(400, 'b'), DataStore::Mode::Append, &err)) << err;
    std::filesystem::remove(root / "old" / "f");
    ASSERT_TRUE(d.write(a, std::string(400, 'a'), DataStore::Mode::Truncate, &err)) << err;
    std::filesystem::remove_all(root);
}
