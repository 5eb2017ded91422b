// SPDX-License-Identifier: LGPL-2.1-or-later
#include "signals.h"

#include <cctype>
#include <cmath>
#include <string>

#include "xmlrpc_parse.h"

namespace scopevisor::xmlrpc {

namespace {

// Python's signal.SIG* names on Linux with their numbers (SIG_DFL and
// friends, which supervisord also lets through, are not signals and are
// left out). Kept here rather than taken from the engine, so the table is
// exactly supervisord's.
struct Sig {
    const char* name;
    int number;
};
constexpr Sig kSignals[] = {
    {"HUP", 1},      {"INT", 2},    {"QUIT", 3},    {"ILL", 4},     {"TRAP", 5},   {"ABRT", 6},
    {"IOT", 6},      {"BUS", 7},    {"FPE", 8},     {"KILL", 9},    {"USR1", 10},  {"SEGV", 11},
    {"USR2", 12},    {"PIPE", 13},  {"ALRM", 14},   {"TERM", 15},   {"STKFLT", 16}, {"CHLD", 17},
    {"CLD", 17},     {"CONT", 18},  {"STOP", 19},   {"TSTP", 20},   {"TTIN", 21},  {"TTOU", 22},
    {"URG", 23},     {"XCPU", 24},  {"XFSZ", 25},   {"VTALRM", 26}, {"PROF", 27},  {"WINCH", 28},
    {"IO", 29},      {"POLL", 29},  {"PWR", 30},    {"SYS", 31},    {"RTMIN", 34}, {"RTMAX", 64},
};

bool known(int n) {
    for (const auto& s : kSignals)
        if (s.number == n)
            return true;
    return false;
}

std::optional<int> byNumber(int64_t n) {
    if (n < 0 || n > 64 || !known(int(n)))
        return std::nullopt;
    return int(n);
}

} // namespace

bool isSignalLike(const Value& v) {
    return std::holds_alternative<std::string>(v.v) || std::holds_alternative<int64_t>(v.v) ||
           std::holds_alternative<bool>(v.v) || std::holds_alternative<double>(v.v);
}

std::optional<int> signalNumber(const Value& v) {
    if (const auto* i = std::get_if<int64_t>(&v.v))
        return byNumber(*i);
    if (const auto* b = std::get_if<bool>(&v.v))
        return byNumber(*b ? 1 : 0);
    if (const auto* d = std::get_if<double>(&v.v)) {
        if (!std::isfinite(*d))
            return std::nullopt;
        return byNumber(int64_t(std::trunc(*d)));
    }
    const std::string* s = v.string();
    if (!s)
        return std::nullopt;
    if (auto n = pyParseInt(*s))
        return byNumber(*n);
    std::string name;
    size_t b = s->find_first_not_of(" \t\n\r\f\v");
    size_t e = s->find_last_not_of(" \t\n\r\f\v");
    if (b == std::string::npos)
        return std::nullopt;
    for (char c : s->substr(b, e - b + 1))
        name += char(std::toupper(static_cast<unsigned char>(c)));
    if (name.rfind("SIG", 0) == 0)
        name.erase(0, 3);
    for (const auto& sig : kSignals)
        if (name == sig.name)
            return sig.number;
    return std::nullopt;
}

} // namespace scopevisor::xmlrpc
