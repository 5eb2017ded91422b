// SPDX-License-Identifier: LGPL-2.1-or-later
#include "output.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <unistd.h>

namespace scopevisorctl {
namespace {

constexpr const char* kReset = "\x1b[0m";
constexpr const char* kGreen = "\x1b[0;1;32m";
constexpr const char* kRed = "\x1b[0;1;31m";
constexpr const char* kYellow = "\x1b[0;1;33m";

// The same glyphs and colours as systemctl: a green dot for what runs, red
// for what failed, yellow for what is on its way, none for what is stopped.
const char* colourOf(const std::string& state) {
    if (state == "RUNNING")
        return kGreen;
    if (state == "FATAL" || state == "BACKOFF" || state == "UNKNOWN")
        return kRed;
    if (state == "STARTING" || state == "STOPPING")
        return kYellow;
    return nullptr;
}

} // namespace

bool useColour() {
    if (getenv("NO_COLOR"))
        return false;
    const char* term = getenv("TERM");
    if (!term || strcmp(term, "dumb") == 0)
        return false;
    return isatty(STDOUT_FILENO) == 1;
}

void printTable(const std::vector<Row>& rows, bool colour) {
    size_t wName = strlen("NAME"), wState = strlen("STATE");
    for (const auto& r : rows) {
        wName = std::max(wName, r.name.size());
        wState = std::max(wState, r.state.size());
    }
    if (colour)
        printf("  \x1b[1m%-*s %-*s %s%s\n", int(wName), "NAME", int(wState), "STATE", "DESCRIPTION", kReset);
    else
        printf("  %-*s %-*s %s\n", int(wName), "NAME", int(wState), "STATE", "DESCRIPTION");
    for (const auto& r : rows) {
        const char* c = colour ? colourOf(r.state) : nullptr;
        const char* dot = r.state == "STOPPED" || r.state == "EXITED" ? "\u25cb" : "\u25cf";
        if (!colour)
            dot = " ";
        if (c)
            printf("%s%s%s %-*s %s%-*s%s %s\n", c, dot, kReset, int(wName), r.name.c_str(), c, int(wState),
                   r.state.c_str(), kReset, r.description.c_str());
        else
            printf("%s %-*s %-*s %s\n", dot, int(wName), r.name.c_str(), int(wState), r.state.c_str(),
                   r.description.c_str());
    }
    if (colour || isatty(STDOUT_FILENO) == 1)
        printf("\n%zu program(s) listed.\n", rows.size());
}

std::string jsonString(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                char buf[8];
                snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += char(c);
            }
        }
    }
    return out + "\"";
}

std::string jsonRows(const std::vector<Row>& rows) {
    std::string out = "[";
    for (size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        out += i ? ",\n " : "";
        out += "{\"name\":" + jsonString(r.name) + ",\"group\":" + jsonString(r.group) +
               ",\"state\":" + jsonString(r.state) + ",\"description\":" + jsonString(r.description) +
               ",\"pid\":" + std::to_string(r.pid) + ",\"path\":" + jsonString(r.path) + "}";
    }
    return out + "]";
}

} // namespace scopevisorctl
