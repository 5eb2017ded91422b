// SPDX-License-Identifier: LGPL-2.1-or-later
//
// scopevisorctl's output: the status table (coloured on a terminal) and
// JSON for scripts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace scopevisorctl {

struct Row {
    std::string name, group, state, description;
    uint32_t pid = 0;
    std::string path;
};

// Colours only on a terminal that has them, and never with NO_COLOR set.
bool useColour();

void printTable(const std::vector<Row>& rows, bool colour);

// A JSON string literal.
std::string jsonString(const std::string& s);
std::string jsonRows(const std::vector<Row>& rows);

} // namespace scopevisorctl
