// SPDX-License-Identifier: LGPL-2.1-or-later
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log_file.h"

using namespace scopevisor;
namespace fs = std::filesystem;

namespace {

class LogFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "test_log_file.XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        path_ = (dir_ / "prog.log").string();
    }
    void TearDown() override { fs::remove_all(dir_); }

    static std::string slurp(const std::string& p) {
        std::ifstream f(p, std::ios::binary);
        std::ostringstream s;
        s << f.rdbuf();
        return s.str();
    }
    static void spit(const std::string& p, const std::string& data) {
        std::ofstream f(p, std::ios::binary | std::ios::trunc);
        f << data;
    }
    std::string at(int n) const { return n == 0 ? path_ : path_ + "." + std::to_string(n); }
    bool exists(int n) const { return fs::exists(at(n)); }

    fs::path dir_;
    std::string path_;
};

} // namespace

TEST_F(LogFileTest, OpenCreatesAndAppends) {
    LogFile f(path_, 0, 10);
    std::string err;
    ASSERT_TRUE(f.open(&err)) << err;
    EXPECT_TRUE(f.isOpen());
    EXPECT_TRUE(fs::exists(path_));
    EXPECT_EQ(f.size(), 0u);
    f.write("hello\n");
    f.write("partial");
    f.write(" line\n");
    EXPECT_EQ(f.size(), 19u);
    EXPECT_EQ(slurp(path_), "hello\npartial line\n");
    EXPECT_TRUE(f.open()); // already open: no-op
    EXPECT_EQ(f.droppedBytes(), 0u);
}

TEST_F(LogFileTest, OpenAppendsToAnExistingFile) {
    spit(path_, "old\n");
    LogFile f(path_, 10, 2);
    ASSERT_TRUE(f.open());
    EXPECT_EQ(f.size(), 4u);
    f.write("new\n"); // 8 bytes: fits
    EXPECT_EQ(slurp(path_), "old\nnew\n");
    f.write("xyz\n"); // 12 would exceed 10: rotate first
    EXPECT_EQ(slurp(at(1)), "old\nnew\n");
    EXPECT_EQ(slurp(path_), "xyz\n");
}

TEST_F(LogFileTest, RotatesThroughBackups) {
    LogFile f(path_, 10, 3);
    ASSERT_TRUE(f.open());
    f.write("1111\n");
    f.write("2222\n"); // exactly full: no rotation yet
    EXPECT_EQ(slurp(path_), "1111\n2222\n");
    EXPECT_FALSE(exists(1));
    f.write("3333\n");
    EXPECT_EQ(slurp(at(1)), "1111\n2222\n");
    EXPECT_EQ(slurp(path_), "3333\n");
    // One chunk of three lines: the first fits, the rest goes to a new file.
    f.write("4444\n5555\n6666\n");
    EXPECT_EQ(slurp(at(2)), "1111\n2222\n");
    EXPECT_EQ(slurp(at(1)), "3333\n4444\n");
    EXPECT_EQ(slurp(path_), "5555\n6666\n");
    EXPECT_EQ(f.size(), 10u);
    // A chunk that spans several files; past `backups` the oldest go.
    f.write("7777\n8888\n9999\naaaa\nbbbb\n");
    EXPECT_EQ(slurp(at(3)), "5555\n6666\n");
    EXPECT_EQ(slurp(at(2)), "7777\n8888\n");
    EXPECT_EQ(slurp(at(1)), "9999\naaaa\n");
    EXPECT_EQ(slurp(path_), "bbbb\n");
    f.write("bbbb\n");
    EXPECT_EQ(slurp(path_), "bbbb\nbbbb\n");
    f.write("cccc\n");
    EXPECT_EQ(slurp(path_), "cccc\n");
    EXPECT_EQ(slurp(at(1)), "bbbb\nbbbb\n");
    EXPECT_EQ(slurp(at(2)), "9999\naaaa\n");
    EXPECT_EQ(slurp(at(3)), "7777\n8888\n");
    EXPECT_FALSE(exists(4));
    EXPECT_EQ(f.droppedBytes(), 0u);
}

TEST_F(LogFileTest, NoFileExceedsMaxBytes) {
    LogFile f(path_, 100, 50);
    ASSERT_TRUE(f.open());
    std::string all;
    for (int i = 0; i < 500; ++i) {
        std::string chunk;
        for (int j = 0; j <= i % 7; ++j)
            chunk += "line " + std::to_string(i) + "." + std::to_string(j) + "\n";
        f.write(chunk);
        all += chunk;
    }
    std::string joined;
    for (int n = 50; n >= 0; --n) {
        if (!exists(n))
            continue;
        const std::string s = slurp(at(n));
        EXPECT_LE(s.size(), 100u);
        EXPECT_EQ(s.back(), '\n'); // whole lines only
        joined += s;
    }
    // Nothing lost or reordered within what the backups keep.
    EXPECT_EQ(all.substr(all.size() - joined.size()), joined);
}

TEST_F(LogFileTest, LineLongerThanMaxBytesIsSplit) {
    LogFile f(path_, 10, 5);
    ASSERT_TRUE(f.open());
    f.write("ab\n");
    f.write("0123456789012345678901234\n");
    EXPECT_EQ(slurp(at(3)), "ab\n");
    EXPECT_EQ(slurp(at(2)), "0123456789");
    EXPECT_EQ(slurp(at(1)), "0123456789");
    EXPECT_EQ(slurp(path_), "01234\n");
}

TEST_F(LogFileTest, ZeroBackupsTruncates) {
    LogFile f(path_, 10, 0);
    ASSERT_TRUE(f.open());
    f.write("1111\n2222\n");
    f.write("3333\n");
    EXPECT_EQ(slurp(path_), "3333\n");
    EXPECT_FALSE(exists(1));
    EXPECT_EQ(f.size(), 5u);
}

TEST_F(LogFileTest, ZeroMaxBytesNeverRotates) {
    LogFile f(path_, 0, 10);
    ASSERT_TRUE(f.open());
    const std::string chunk(64 * 1024, 'x');
    for (int i = 0; i < 40; ++i)
        f.write(chunk);
    EXPECT_EQ(f.size(), 40u * chunk.size());
    EXPECT_EQ(fs::file_size(path_), 40u * chunk.size());
    EXPECT_FALSE(exists(1));
}

TEST_F(LogFileTest, DevicesAreNeverRotated) {
    // stdout_logfile=/dev/stdout with the default maxbytes. /dev/fd/N names
    // one of the daemon's own fds, followed like /dev/stdout; here it is
    // /dev/null, and a wrong rename could only fail on /dev/fd.
    const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    ASSERT_GE(null, 0);
    const std::string link = "/dev/fd/" + std::to_string(null);
    LogFile f(link, 10, 3);
    ASSERT_TRUE(f.open());
    for (int i = 0; i < 10; ++i)
        f.write("more than ten bytes\n");
    EXPECT_TRUE(f.rotate());
    EXPECT_TRUE(fs::is_symlink(link));
    EXPECT_FALSE(fs::exists(link + ".1"));
    EXPECT_EQ(f.droppedBytes(), 0u);
    // Clearing does not delete it either.
    EXPECT_TRUE(f.clear());
    EXPECT_TRUE(f.removeAll());
    EXPECT_TRUE(fs::is_symlink(link));
    EXPECT_TRUE(f.isOpen());
    f.close();
    ::close(null);
}

TEST_F(LogFileTest, ASymlinkAtThePathIsNotFollowed) {
    // Someone who can write to the directory plants a link to a file the
    // daemon (root) could write: neither open nor rotation touches it.
    const std::string target = (dir_ / "precious").string();
    { std::ofstream(target) << "keep me\n"; }
    fs::create_symlink(target, path_);
    LogFile f(path_, 10, 2);
    std::string err;
    EXPECT_FALSE(f.open(&err));
    EXPECT_NE(err.find(path_), std::string::npos) << err;
    EXPECT_NE(err.find("symbolic link"), std::string::npos) << err;
    EXPECT_EQ(f.lastError(), ELOOP);
    f.write("output\n");
    EXPECT_FALSE(f.isOpen());
    EXPECT_FALSE(f.clear());
    EXPECT_TRUE(fs::is_symlink(path_)); // not deleted either: lstat
    EXPECT_EQ(slurp(target), "keep me\n");
}

TEST_F(LogFileTest, AFifoAtThePathIsRefusedWithoutBlocking) {
    ASSERT_EQ(::mkfifo(path_.c_str(), 0600), 0);
    // With a reader an open() would succeed: it must still be refused.
    for (bool reader : {false, true}) {
        const int r = reader ? ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC) : -1;
        LogFile f(path_, 0, 0);
        std::string err;
        EXPECT_FALSE(f.open(&err)) << reader;
        EXPECT_NE(err.find(path_), std::string::npos) << err;
        EXPECT_NE(err.find("is a FIFO"), std::string::npos) << err;
        f.write("x\n"); // returns: no open() that waits for a reader
        EXPECT_FALSE(f.isOpen());
        if (r >= 0)
            ::close(r);
    }
}

TEST_F(LogFileTest, ADirectoryAtThePathIsRefused) {
    fs::create_directory(path_);
    LogFile f(path_, 0, 0);
    std::string err;
    EXPECT_FALSE(f.open(&err));
    EXPECT_NE(err.find(path_), std::string::npos) << err;
}

TEST_F(LogFileTest, AnOpenFileIsBlockingAgain) {
    LogFile f(path_, 0, 0);
    ASSERT_TRUE(f.open());
    bool checked = false;
    for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
        std::error_code ec;
        if (fs::read_symlink(e.path(), ec) == fs::path(path_)) {
            const int fl = ::fcntl(std::stoi(e.path().filename().string()), F_GETFL);
            EXPECT_EQ(fl & O_NONBLOCK, 0);
            checked = true;
        }
    }
    EXPECT_TRUE(checked);
}

TEST_F(LogFileTest, ReopenAfterTheFileWasMovedAway) {
    // logrotate: mv prog.log prog.log-old; then SIGUSR2 makes us reopen.
    LogFile f(path_, 1000, 3);
    ASSERT_TRUE(f.open());
    f.write("before\n");
    fs::rename(path_, path_ + "-old");
    f.write("still to the old file\n");
    std::string err;
    ASSERT_TRUE(f.reopen(&err)) << err;
    EXPECT_EQ(f.size(), 0u);
    f.write("after\n");
    EXPECT_EQ(slurp(path_ + "-old"), "before\nstill to the old file\n");
    EXPECT_EQ(slurp(path_), "after\n");
    EXPECT_EQ(f.size(), 6u);
}

TEST_F(LogFileTest, TruncatedBehindOurBackIsNotRotatedEarly) {
    // logrotate's copytruncate.
    LogFile f(path_, 20, 3);
    ASSERT_TRUE(f.open());
    f.write("0123456789012345\n"); // 17
    ASSERT_EQ(::truncate(path_.c_str(), 0), 0);
    f.write("abcdefghi\n"); // 17 + 10 would exceed, but the file is empty
    EXPECT_FALSE(exists(1));
    EXPECT_EQ(slurp(path_), "abcdefghi\n");
    EXPECT_EQ(f.size(), 10u);
}

TEST_F(LogFileTest, ClearKeepsBackupsRemoveAllDoesNot) {
    LogFile f(path_, 10, 3);
    ASSERT_TRUE(f.open());
    f.write("1111\n2222\n3333\n4444\n5555\n");
    ASSERT_TRUE(exists(1));
    ASSERT_TRUE(exists(2));
    std::string err;
    ASSERT_TRUE(f.clear(&err)) << err;
    EXPECT_TRUE(f.isOpen());
    EXPECT_EQ(f.size(), 0u);
    EXPECT_EQ(slurp(path_), "");
    EXPECT_TRUE(exists(1));
    f.write("x\n");
    EXPECT_EQ(slurp(path_), "x\n");
    ASSERT_TRUE(f.removeAll(&err)) << err;
    EXPECT_TRUE(f.isOpen());
    EXPECT_EQ(slurp(path_), "");
    EXPECT_FALSE(exists(1));
    EXPECT_FALSE(exists(2));
    f.write("y\n");
    EXPECT_EQ(slurp(path_), "y\n");
}

TEST_F(LogFileTest, OpenFailureIsReportedAndOutputCounted) {
    LogFile f((dir_ / "missing-dir" / "prog.log").string(), 100, 1);
    std::string err;
    EXPECT_FALSE(f.open(&err));
    EXPECT_NE(err.find("missing-dir"), std::string::npos);
    EXPECT_EQ(f.lastError(), ENOENT);
    f.write("lost\n");
    EXPECT_EQ(f.droppedBytes(), 5u);
    // Once the directory exists the next write opens the file.
    fs::create_directory(dir_ / "missing-dir");
    f.write("kept\n");
    EXPECT_TRUE(f.isOpen());
    EXPECT_EQ(slurp((dir_ / "missing-dir" / "prog.log").string()), "kept\n");
}

TEST_F(LogFileTest, FileIsNotInheritedAndHonoursUmask) {
    LogFile f(path_, 0, 0);
    const mode_t old = ::umask(022);
    ASSERT_TRUE(f.open());
    ::umask(old);
    EXPECT_EQ(fs::status(path_).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
    // Find our descriptor and check O_CLOEXEC (02000000 in fdinfo's octal flags).
    bool found = false;
    for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
        std::error_code ec;
        if (fs::read_symlink(e.path(), ec) != fs::path(path_))
            continue;
        std::ifstream info("/proc/self/fdinfo/" + e.path().filename().string());
        std::string key, flags;
        while (info >> key >> flags && key != "flags:") {
        }
        ASSERT_EQ(key, "flags:");
        EXPECT_NE(std::stoul(flags, nullptr, 8) & 02000000, 0u);
        found = true;
    }
    EXPECT_TRUE(found);
}
