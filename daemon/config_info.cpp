// SPDX-License-Identifier: LGPL-2.1-or-later
#include "config_info.h"

#include <algorithm>

namespace scopevisor {

std::vector<ConfigInfo> configInfo(const config::Config& cfg, const ConfigInfoSource& src) {
    std::vector<ConfigInfo> v;
    for (auto& g : cfg.groups) {
        const bool active = src.groupActive(g.name);
        for (auto& p : g.processes) {
            ConfigInfo c;
            c.name = p.name;
            c.group = g.name;
            c.command = p.command;
            c.autostart = p.autostart;
            c.inUse = active;
            c.priority = p.priority;
            c.groupPriority = g.priority;
            c.startsecs = p.startsecs;
            c.startretries = p.startretriesInfinite ? -1 : p.startretries;
            c.stopwaitsecs = p.stopwaitsecs;
            c.stopsignal = p.stopsignal;
            c.redirectStderr = p.redirectStderr;
            c.autorestart = p.autorestart == config::AutoRestart::True    ? "true"
                            : p.autorestart == config::AutoRestart::False ? "false"
                                                                          : "unexpected";
            c.exitcodes = p.exitcodes;
            const auto used = active ? src.logPaths(p.namespec()) : std::nullopt;
            auto logName = [&](const config::LogFileConfig& l, const std::string& path) {
                if (used && !path.empty())
                    return path;
                return l.isAuto ? std::string("auto") : (l.path.empty() ? std::string("none") : l.path);
            };
            c.stdoutLogfile = logName(p.stdoutLog, used ? used->stdoutPath : "");
            c.stderrLogfile = p.redirectStderr ? "none" : logName(p.stderrLog, used ? used->stderrPath : "");
            c.user = p.user;
            c.directory = p.directory;
            c.umask = p.umask;
            c.serverurl = p.serverurl;
            c.stdoutLogfileMaxbytes = p.stdoutLog.maxBytes;
            c.stderrLogfileMaxbytes = p.stderrLog.maxBytes;
            c.stdoutLogfileBackups = p.stdoutLog.backups;
            c.stderrLogfileBackups = p.stderrLog.backups;
            c.stdoutCaptureMaxbytes = p.stdoutLog.captureMaxBytes;
            c.stderrCaptureMaxbytes = p.stderrLog.captureMaxBytes;
            c.stdoutEventsEnabled = p.stdoutLog.eventsEnabled;
            c.stderrEventsEnabled = p.stderrLog.eventsEnabled;
            c.stdoutSyslog = p.stdoutLog.syslog;
            c.stderrSyslog = p.stderrLog.syslog;
            c.killasgroup = p.killasgroup;
            c.stopasgroup = p.stopasgroup;
            v.push_back(std::move(c));
        }
    }
    std::stable_sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.name < b.name; });
    return v;
}

} // namespace scopevisor
