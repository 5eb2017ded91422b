// SPDX-License-Identifier: LGPL-2.1-or-later
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

#include "log_buffer.h"
#include "log_read.h"

using namespace scopevisor;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

std::string readOk(const ByteSource& s, int64_t off, int64_t len) {
    auto r = readLogBytes(s, off, len);
    EXPECT_TRUE(r.ok()) << off << "," << len << ": " << (r.ok() ? "" : r.error().message);
    return r.ok() ? r->data : "<error>";
}

ErrorCode readErr(const ByteSource& s, int64_t off, int64_t len) {
    auto r = readLogBytes(s, off, len);
    return r.ok() ? ErrorCode::Ok : r.error().code;
}

struct Tail {
    std::string data;
    uint64_t end;
    bool overflow;
    bool operator==(const Tail&) const = default;
};
std::ostream& operator<<(std::ostream& o, const Tail& t) {
    return o << "['" << t.data << "', " << t.end << ", " << (t.overflow ? "True" : "False") << "]";
}
Tail tail(const ByteSource& s, int64_t off, int64_t len) {
    LogBytes b = tailLogBytes(s, off, len);
    return {b.data, b.end, b.overflow};
}

} // namespace

// The examples of docs/protocols/xmlrpc.md (§4.1, §4.2), literally.
TEST(LogRead, SupervisordReadExamples) {
    StringByteSource s("hello\n");
    EXPECT_EQ(readOk(s, 0, 0), "hello\n");
    EXPECT_EQ(readOk(s, -3, 0), "lo\n");
    EXPECT_EQ(readOk(s, 1, 3), "ell");
    EXPECT_EQ(readOk(s, 100, 10), "");
    EXPECT_EQ(readErr(s, -3, 2), ErrorCode::BadArguments);
    EXPECT_EQ(readErr(s, 0, -2), ErrorCode::BadArguments);
    auto r = readLogBytes(s, 1, 3);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->end, 6u);
    EXPECT_FALSE(r->overflow);
    EXPECT_FALSE(readLogBytes(s, -3, 2).error().message.empty());
}

TEST(LogRead, SupervisordTailExamples) {
    StringByteSource s("hello\n");
    EXPECT_EQ(tail(s, 0, 3), (Tail{"lo\n", 6, true}));
    EXPECT_EQ(tail(s, 0, 100), (Tail{"hello\n", 6, false}));
    EXPECT_EQ(tail(s, 6, 100), (Tail{"", 6, false}));
    EXPECT_EQ(tail(s, 600, 100), (Tail{"", 6, false}));
}

TEST(LogRead, MoreReadCases) {
    StringByteSource s("hello\n");
    EXPECT_EQ(readOk(s, -100, 0), "hello\n"); // whole file if shorter
    EXPECT_EQ(readOk(s, kMin, 0), "hello\n");
    EXPECT_EQ(readOk(s, 6, 0), "");
    EXPECT_EQ(readOk(s, 5, 100), "\n");
    EXPECT_EQ(readOk(s, kMax, kMax), "");
    EXPECT_EQ(readOk(s, 2, kMax), "llo\n");
    EXPECT_EQ(readErr(s, -1, -1), ErrorCode::BadArguments);
    EXPECT_EQ(readErr(s, 0, kMin), ErrorCode::BadArguments);
    StringByteSource empty("");
    EXPECT_EQ(readOk(empty, 0, 0), "");
    EXPECT_EQ(readOk(empty, -5, 0), "");
}

TEST(LogRead, TailClientLoop) {
    // First (0, N): the newest N bytes and the size; then from the returned
    // size. Without overflow supervisord returns the newest N bytes, which
    // may reach back before the offset asked for.
    std::string text = "line 1\nline 2\n";
    Tail t = tail(StringByteSource(text), 0, 8);
    EXPECT_EQ(t, (Tail{"\nline 2\n", 14, true}));
    text += "line 3\n";
    t = tail(StringByteSource(text), static_cast<int64_t>(t.end), 8);
    EXPECT_EQ(t, (Tail{"\nline 3\n", 21, false}));
    text += "a long line that is more than eight bytes\n";
    t = tail(StringByteSource(text), static_cast<int64_t>(t.end), 8);
    EXPECT_EQ(t, (Tail{"t bytes\n", 63, true}));
    // A file that shrank: '' and the new size.
    t = tail(StringByteSource("x\n"), static_cast<int64_t>(t.end), 8);
    EXPECT_EQ(t, (Tail{"", 2, false}));
}

// supervisord's options.tailFile and readFile transcribed with small values
// (no overflow possible), compared with the implementation over all
// combinations of a few sizes, offsets and lengths.
namespace {

Tail refTail(const std::string& file, long long offset, long long length) {
    const long long sz = static_cast<long long>(file.size());
    bool overflow = false;
    if (sz > offset + length) {
        overflow = true;
        offset = sz - 1;
    }
    if (offset + length > sz) {
        if (offset > sz - 1)
            length = 0;
        offset = sz - length;
    }
    if (offset < 0)
        offset = 0;
    if (length < 0)
        length = 0;
    std::string data = length == 0 || offset >= sz ? "" : file.substr(offset, length);
    return {data, static_cast<uint64_t>(sz), overflow};
}

// nullopt-like: "!" marks BAD_ARGUMENTS.
std::string refRead(const std::string& file, long long offset, long long length) {
    const long long sz = static_cast<long long>(file.size());
    if (offset < 0) {
        if (length)
            return "!";
        long long pos = sz + offset;
        if (pos < 0)
            pos = 0;
        return file.substr(pos, -offset);
    }
    if (length < 0)
        return "!";
    if (offset >= sz)
        return "";
    return length == 0 ? file.substr(offset) : file.substr(offset, length);
}

} // namespace

TEST(LogRead, MatchesSupervisordOnAllSmallCases) {
    for (const std::string file : {"", "a", "hello\n", "0123456789"}) {
        StringByteSource s(file);
        for (long long off = -14; off <= 14; ++off) {
            for (long long len = -14; len <= 14; ++len) {
                ASSERT_EQ(tail(s, off, len), refTail(file, off, len)) << "'" << file << "' " << off << "," << len;
                const std::string want = refRead(file, off, len);
                if (want == "!")
                    ASSERT_EQ(readErr(s, off, len), ErrorCode::BadArguments) << off << "," << len;
                else
                    ASSERT_EQ(readOk(s, off, len), want) << "'" << file << "' " << off << "," << len;
            }
        }
    }
}

TEST(LogRead, ExtremeArgumentsDoNotOverflow) {
    StringByteSource s("hello\n");
    EXPECT_EQ(tail(s, kMax, kMax), (Tail{"", 6, false}));
    EXPECT_EQ(tail(s, kMin, kMin), (Tail{"", 6, true}));
    EXPECT_EQ(tail(s, kMin, kMax), (Tail{"hello\n", 6, true}));
    EXPECT_EQ(tail(s, 0, kMax), (Tail{"hello\n", 6, false}));
    EXPECT_EQ(tail(s, kMax, 0), (Tail{"", 6, false}));
    EXPECT_EQ(tail(s, 3, kMin), (Tail{"", 6, true}));
}

// ---------------------------------------------------------------------------
// Over a LogBuffer: offsets are absolute, the oldest bytes may be forgotten.

TEST(LogRead, BufferSourceSameAsFileWhileNothingIsForgotten) {
    LogBuffer b(100, 4096);
    uint64_t seq = 1;
    b.append("hel", seq);
    b.append("lo\n", seq);
    BufferByteSource s(b);
    EXPECT_EQ(readOk(s, 0, 0), "hello\n");
    EXPECT_EQ(readOk(s, -3, 0), "lo\n");
    EXPECT_EQ(readOk(s, 1, 3), "ell");
    EXPECT_EQ(readOk(s, 100, 10), "");
    EXPECT_EQ(readErr(s, -3, 2), ErrorCode::BadArguments);
    EXPECT_EQ(tail(s, 0, 3), (Tail{"lo\n", 6, true}));
    EXPECT_EQ(tail(s, 0, 100), (Tail{"hello\n", 6, false}));
    EXPECT_EQ(tail(s, 6, 100), (Tail{"", 6, false}));
}

TEST(LogRead, BufferSourceWithForgottenBytes) {
    LogBuffer b(2, 4096);
    uint64_t seq = 1;
    b.append("aaaa\nbbbb\ncccc\n", seq); // holds bytes [5, 15)
    BufferByteSource s(b);
    ASSERT_EQ(s.begin(), 5u);
    ASSERT_EQ(s.end(), 15u);
    // From offset 0: what is still held, from its start, length respected.
    auto r = readLogBytes(s, 0, 0);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->data, "bbbb\ncccc\n");
    EXPECT_TRUE(r->overflow);
    EXPECT_EQ(r->end, 15u);
    EXPECT_EQ(readOk(s, 2, 3), "bbb");
    EXPECT_EQ(readOk(s, -100, 0), "bbbb\ncccc\n");
    r = readLogBytes(s, 7, 0);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->data, "bb\ncccc\n");
    EXPECT_FALSE(r->overflow);
    // Tail: the newest bytes; overflow when the requested offset is forgotten.
    EXPECT_EQ(tail(s, 0, 100), (Tail{"bbbb\ncccc\n", 15, true}));
    EXPECT_EQ(tail(s, 5, 100), (Tail{"bbbb\ncccc\n", 15, false}));
    EXPECT_EQ(tail(s, 12, 100), (Tail{"bbbb\ncccc\n", 15, false}));
    EXPECT_EQ(tail(s, 12, 4), (Tail{"ccc\n", 15, false}));
    EXPECT_EQ(tail(s, 0, 4), (Tail{"ccc\n", 15, true}));
    // Cleared: nothing held, the size stays.
    b.clear();
    EXPECT_EQ(readOk(s, 0, 0), "");
    EXPECT_EQ(tail(s, 15, 100), (Tail{"", 15, false}));
    EXPECT_EQ(tail(s, 3, 100), (Tail{"", 15, true}));
}

// ---------------------------------------------------------------------------
// Over a file.

namespace {

class LogReadFile : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "test_log_read.XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        path_ = (dir_ / "prog.log").string();
        std::ofstream(path_, std::ios::binary) << "hello\n";
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
    std::string path_;
};

} // namespace

TEST_F(LogReadFile, SupervisordExamplesOnAFile) {
    auto src = FileByteSource::open(path_);
    ASSERT_TRUE(src.ok());
    EXPECT_EQ(readOk(src.value(), 0, 0), "hello\n");
    EXPECT_EQ(readOk(src.value(), -3, 0), "lo\n");
    EXPECT_EQ(readOk(src.value(), 1, 3), "ell");
    EXPECT_EQ(readOk(src.value(), 100, 10), "");
    EXPECT_EQ(readErr(src.value(), -3, 2), ErrorCode::BadArguments);
    EXPECT_EQ(readErr(src.value(), 0, -2), ErrorCode::BadArguments);
    EXPECT_EQ(tail(src.value(), 0, 3), (Tail{"lo\n", 6, true}));
    EXPECT_EQ(tail(src.value(), 0, 100), (Tail{"hello\n", 6, false}));
    EXPECT_EQ(tail(src.value(), 6, 100), (Tail{"", 6, false}));
    EXPECT_EQ(tail(src.value(), 600, 100), (Tail{"", 6, false}));

    auto r = readLogFile(path_, -3, 0);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->data, "lo\n");
    EXPECT_EQ(r->end, 6u);
    EXPECT_EQ(tailLogFile(path_, 0, 3).data, "lo\n");
}

TEST_F(LogReadFile, MissingFile) {
    const std::string missing = (dir_ / "nope.log").string();
    auto r = readLogFile(missing, 0, 0);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::NoFile);
    // NO_FILE comes before the argument check, as in supervisord.
    EXPECT_EQ(readLogFile(missing, -3, 2).error().code, ErrorCode::NoFile);
    EXPECT_EQ(readLogFile("", 0, 0).error().code, ErrorCode::NoFile);
    LogBytes t = tailLogFile(missing, 5, 10);
    EXPECT_EQ(t.data, "");
    EXPECT_EQ(t.end, 0u);
    EXPECT_FALSE(t.overflow);
}

TEST_F(LogReadFile, OpenErrorFails) {
    // A path through a regular file (ENOTDIR): not "no file", a failure.
    const std::string bad = path_ + "/x";
    auto r = readLogFile(bad, 0, 0);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::Failed);
    EXPECT_NE(r.error().message.find(bad), std::string::npos);
    LogBytes t = tailLogFile(bad, 4, 10);
    EXPECT_EQ(t.data, "");
    EXPECT_EQ(t.end, 4u);
    EXPECT_FALSE(t.overflow);
}

TEST_F(LogReadFile, NotARegularFileFails) {
    // supervisord fails on a directory (IOError) and on a pipe (no seek);
    // reading a FIFO or a terminal could block the engine, so only regular
    // files are read.
    auto r = readLogFile(dir_.string(), 0, 0);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::Failed);
    const std::string fifo = (dir_ / "fifo").string();
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    r = readLogFile(fifo, -10, 0); // must not block
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::Failed);
}
