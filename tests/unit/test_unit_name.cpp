// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Scope names: systemd's escaping, checked against `systemd-escape` itself
// where it is installed.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <set>
#include <string>

#include <unistd.h>

#include "unit_name.h"

using namespace scopevisor;

namespace {

// `systemd-escape -- ARG`, or nullopt-like "" with ok=false when missing.
bool systemdEscapeTool(const std::string& arg, std::string& out) {
    if (access("/usr/bin/systemd-escape", X_OK) != 0)
        return false;
    std::string cmd = "/usr/bin/systemd-escape -- '";
    for (char c : arg) {
        if (c == '\'')
            cmd += "'\\''";
        else
            cmd += c;
    }
    cmd += "'";
    FILE* f = popen(cmd.c_str(), "r");
    if (!f)
        return false;
    std::array<char, 4096> buf{};
    out.clear();
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), f)) > 0)
        out.append(buf.data(), n);
    if (pclose(f) != 0)
        return false;
    if (!out.empty() && out.back() == '\n')
        out.pop_back();
    return true;
}

} // namespace

TEST(UnitName, EscapesLikeSystemd) {
    EXPECT_EQ(systemdEscape("web"), "web");
    EXPECT_EQ(systemdEscape("web:worker_01"), "web:worker_01");
    EXPECT_EQ(systemdEscape("api-v2"), "api\\x2dv2");
    EXPECT_EQ(systemdEscape("a b"), "a\\x20b");
    EXPECT_EQ(systemdEscape("a/b"), "a-b");
    EXPECT_EQ(systemdEscape(".hidden"), "\\x2ehidden");
    EXPECT_EQ(systemdEscape("x.y"), "x.y");
    EXPECT_EQ(systemdEscape("back\\slash"), "back\\x5cslash");
    EXPECT_EQ(systemdEscape("caf\xc3\xa9"), "caf\\xc3\\xa9");
    EXPECT_EQ(systemdEscape("%i@x"), "\\x25i\\x40x");
}

TEST(UnitName, MatchesTheSystemdEscapeTool) {
    const char* samples[] = {"web", "grp:web-1", "a b c", "under_score", ".dot", "x.y.z", "at@sign",
                             "uni\xc3\xa9", "tab\there", "q'uote", "-lead", "trail-", "a\\b", "1:2:3"};
    int checked = 0;
    for (const char* s : samples) {
        std::string expect;
        if (!systemdEscapeTool(s, expect))
            continue;
        EXPECT_EQ(systemdEscape(s), expect) << "for '" << s << "'";
        ++checked;
    }
    if (checked == 0)
        GTEST_SKIP() << "systemd-escape is not installed";
}

TEST(UnitName, ScopeNameHasPrefixAndSuffix) {
    EXPECT_EQ(scopeNameFor("web"), "scopevisor-web.scope");
    EXPECT_EQ(scopeNameFor("grp:api-v2"), "scopevisor-grp:api\\x2dv2.scope");
}

TEST(UnitName, LongNamesAreCutWithAStableHash) {
    const std::string longA(300, 'a');
    std::string longB = longA;
    longB.back() = 'b';
    const std::string a = scopeNameFor(longA), b = scopeNameFor(longB);
    EXPECT_LE(a.size(), kUnitNameMax);
    EXPECT_LE(b.size(), kUnitNameMax);
    EXPECT_NE(a, b);
    EXPECT_EQ(a, scopeNameFor(longA));
    EXPECT_TRUE(a.ends_with(".scope"));
    EXPECT_TRUE(a.starts_with("scopevisor-"));

    // Names of exactly the limit stay as they are.
    const size_t room = kUnitNameMax - kScopePrefix.size() - kScopeSuffix.size();
    EXPECT_EQ(scopeNameFor(std::string(room, 'x')), "scopevisor-" + std::string(room, 'x') + ".scope");
}

TEST(UnitName, CutNeverSplitsAnEscape) {
    // Every byte escapes to four characters: wherever the cut falls, no
    // "\x" sequence may be left incomplete.
    std::set<std::string> seen;
    for (size_t n = 55; n < 70; ++n) {
        for (size_t shift = 0; shift < 4; ++shift) {
            const std::string spec = std::string(shift, 'k') + std::string(n, '-');
            const std::string name = scopeNameFor(spec);
            ASSERT_LE(name.size(), kUnitNameMax);
            const std::string body = name.substr(kScopePrefix.size());
            for (size_t i = 0; i < body.size(); ++i) {
                if (body[i] == '\\') {
                    ASSERT_LT(i + 3, body.size()) << name;
                    EXPECT_EQ(body[i + 1], 'x') << name;
                }
            }
            EXPECT_TRUE(seen.insert(name).second) << name;
        }
    }
}
