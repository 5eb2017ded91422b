// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The configuration as the Control API shows it (ConfigInfo, supervisord's
// getAllConfigInfo): every configured program, active or not, with the log
// files an active one actually writes (an AUTO name is only known then).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "scopevisor/control.h"

namespace scopevisor {

struct ConfigInfoSource {
    // Is the group of this name active (added, not removed)?
    std::function<bool(const std::string& group)> groupActive;
    // The log paths an active program writes ("" for none); nullopt if the
    // program is not active.
    struct LogPaths {
        std::string stdoutPath, stderrPath;
    };
    std::function<std::optional<LogPaths>(const std::string& namespec)> logPaths;
};

std::vector<ConfigInfo> configInfo(const config::Config& cfg, const ConfigInfoSource& active);

} // namespace scopevisor
