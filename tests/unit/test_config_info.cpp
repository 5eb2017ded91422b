// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The ConfigInfo projection (supervisord's getAllConfigInfo).
#include <gtest/gtest.h>

#include "config_info.h"

using namespace scopevisor;

namespace {

config::ProcessConfig proc(const std::string& group, const std::string& name) {
    config::ProcessConfig p;
    p.name = name;
    p.group = group;
    p.programName = name;
    p.command = "/bin/true";
    p.stdoutLog.isAuto = true;
    p.stderrLog.isAuto = false;
    return p;
}

config::Config twoGroups() {
    config::Config cfg;
    config::GroupConfig on;
    on.name = "on";
    on.priority = 5;
    on.processes.push_back(proc("on", "web"));
    on.processes.back().autorestart = config::AutoRestart::True;
    on.processes.back().startretriesInfinite = true;
    config::GroupConfig off;
    off.name = "off";
    off.processes.push_back(proc("off", "batch"));
    off.processes.back().redirectStderr = true;
    off.processes.back().stderrLog.path = "/var/log/ignored.log";
    cfg.groups = {on, off};
    return cfg;
}

ConfigInfoSource onlyOn() {
    ConfigInfoSource src;
    src.groupActive = [](const std::string& g) { return g == "on"; };
    src.logPaths = [](const std::string& namespec) -> std::optional<ConfigInfoSource::LogPaths> {
        if (namespec != "on:web")
            return std::nullopt;
        return ConfigInfoSource::LogPaths{"/var/log/web-stdout---x.log", ""};
    };
    return src;
}

} // namespace

TEST(ConfigInfo, EveryProgramSortedByNameActiveOrNot) {
    auto v = configInfo(twoGroups(), onlyOn());
    ASSERT_EQ(v.size(), 2u);
    EXPECT_EQ(v[0].name, "batch");
    EXPECT_EQ(v[0].group, "off");
    EXPECT_FALSE(v[0].inUse);
    EXPECT_EQ(v[1].name, "web");
    EXPECT_TRUE(v[1].inUse);
    EXPECT_EQ(v[1].groupPriority, 5);
}

TEST(ConfigInfo, LogNamesAreThoseInUseElseWhatTheConfigurationSays) {
    auto v = configInfo(twoGroups(), onlyOn());
    // Active: the AUTO name it was given; no stderr file: "none".
    EXPECT_EQ(v[1].stdoutLogfile, "/var/log/web-stdout---x.log");
    EXPECT_EQ(v[1].stderrLogfile, "none");
    // Not active: "auto" for AUTO; redirect_stderr: "none" whatever is set.
    EXPECT_EQ(v[0].stdoutLogfile, "auto");
    EXPECT_EQ(v[0].stderrLogfile, "none");
}

TEST(ConfigInfo, SupervisordSpellings) {
    auto v = configInfo(twoGroups(), onlyOn());
    EXPECT_EQ(v[1].autorestart, "true");
    EXPECT_EQ(v[1].startretries, -1); // infinite
    EXPECT_EQ(v[0].autorestart, "unexpected");
}
