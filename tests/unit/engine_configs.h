// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Configurations for engine tests on the fake loop and backend.
#pragma once

#include <string>

#include "config.h"

namespace scopevisor::test {

// A group of one program `name` that runs at once (startsecs 0) and writes
// no log files.
inline config::GroupConfig oneProgramGroup(const std::string& name, const std::string& command = "/bin/sleep 1000") {
    config::ProcessConfig p;
    p.name = p.group = p.programName = name;
    p.command = command;
    p.argv = {"/bin/sleep", "1000"};
    p.startsecs = 0;
    p.stdoutLog.isAuto = p.stderrLog.isAuto = false;
    config::GroupConfig g;
    g.name = name;
    g.processes.push_back(std::move(p));
    return g;
}

} // namespace scopevisor::test
