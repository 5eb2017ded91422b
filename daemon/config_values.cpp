// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Converters for single configuration values, with supervisord's rules
// (supervisor/datatypes.py) where it has one. systemd's resource controls
// have theirs in config_resources.cpp.
#include <climits>
#include <csignal>
#include <cstdio>
#include <stdexcept>

#include "config_values.h"

namespace scopevisor::config {

using detail::quote;
using detail::toU64;
using detail::trim;

namespace {

struct SignalNameEntry {
    const char* name;
    int number;
};

// Canonical names first: signalName() reports the first match.
const SignalNameEntry kSignals[] = {
    {"HUP", SIGHUP},     {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP},   {"ABRT", SIGABRT},     {"BUS", SIGBUS},   {"FPE", SIGFPE},
    {"KILL", SIGKILL},   {"USR1", SIGUSR1},     {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},     {"TERM", SIGTERM},
#ifdef SIGSTKFLT
    {"STKFLT", SIGSTKFLT},
#endif
    {"CHLD", SIGCHLD},   {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN},   {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ},   {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
    {"IO", SIGIO},
#ifdef SIGPWR
    {"PWR", SIGPWR},
#endif
    {"SYS", SIGSYS},
    // aliases
    {"IOT", SIGABRT},    {"CLD", SIGCHLD},      {"POLL", SIGIO},
};

} // namespace

int parseSignal(const std::string& s)
{
    const std::string_view t = trim(s);
    uint64_t n = 0;
    if (toU64(t, n))
        return n >= 1 && n <= uint64_t(SIGRTMAX) ? int(n) : -1;
    std::string name(t);
    for (char& c : name)
        if (c >= 'a' && c <= 'z')
            c = char(c - 'a' + 'A');
    if (name.starts_with("SIG"))
        name.erase(0, 3);
    for (const auto& e : kSignals)
        if (name == e.name)
            return e.number;
    // Real-time signals as systemd and signalName() spell them:
    // RTMIN, RTMIN+n, RTMAX, RTMAX-n.
    for (const bool fromMin : {true, false}) {
        const std::string_view base = fromMin ? "RTMIN" : "RTMAX";
        if (!std::string_view(name).starts_with(base))
            continue;
        std::string_view rest = std::string_view(name).substr(base.size());
        uint64_t offset = 0;
        if (!rest.empty() && (rest.front() != (fromMin ? '+' : '-') || !toU64(rest.substr(1), offset)))
            return -1;
        if (offset > uint64_t(SIGRTMAX - SIGRTMIN))
            return -1;
        return fromMin ? SIGRTMIN + int(offset) : SIGRTMAX - int(offset);
    }
    return -1;
}

std::string signalName(int sig)
{
    for (const auto& e : kSignals)
        if (e.number == sig)
            return e.name;
    if (sig == SIGRTMIN)
        return "RTMIN";
    if (sig == SIGRTMAX)
        return "RTMAX";
    if (sig > SIGRTMIN && sig < SIGRTMAX)
        return "RTMIN+" + std::to_string(sig - SIGRTMIN);
    return std::to_string(sig);
}

uint64_t parseByteSize(const std::string& s)
{
    // supervisord's SuffixMultiplier: a case-insensitive two-letter suffix on
    // an integer; TB is scopevisor's addition.
    static constexpr std::pair<const char*, uint64_t> kSuffixes[] = {
        {"kb", 1ULL << 10}, {"mb", 1ULL << 20}, {"gb", 1ULL << 30}, {"tb", 1ULL << 40}};
    const std::string v = detail::lower(trim(s));
    std::string_view number = v;
    uint64_t mult = 1;
    for (const auto& [suffix, m] : kSuffixes) {
        if (number.size() >= 2 && number.ends_with(suffix)) {
            number.remove_suffix(2);
            mult = m;
            break;
        }
    }
    number = trim(number);
    if (!number.empty() && number.front() == '+')
        number.remove_prefix(1);
    uint64_t n = 0;
    if (!toU64(number, n) || __builtin_mul_overflow(n, mult, &n))
        throw std::invalid_argument("invalid value " + quote(s) +
                                    " (expected a byte size such as 1024, 50KB, 50MB or 1GB)");
    return n;
}

std::vector<std::string> splitCommand(const std::string& s)
{
    // Python's shlex.split(): POSIX mode, whitespace-separated words, no
    // comments. Backslash escapes any character outside quotes; inside double
    // quotes only '"' and '\' (others keep their backslash); none inside
    // single quotes. Adjacent quoted and unquoted parts form one word, and ''
    // is an empty word.
    std::vector<std::string> words;
    std::string word;
    bool inWord = false;
    const size_t n = s.size();
    for (size_t i = 0; i < n; ++i) {
        const char c = s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            if (inWord)
                words.push_back(std::move(word));
            word.clear();
            inWord = false;
            continue;
        }
        inWord = true;
        if (c == '\\') {
            if (++i >= n)
                throw std::invalid_argument("no character after the final backslash");
            word += s[i];
        } else if (c == '\'') {
            const size_t close = s.find('\'', i + 1);
            if (close == std::string::npos)
                throw std::invalid_argument("no closing quotation");
            word.append(s, i + 1, close - i - 1);
            i = close;
        } else if (c == '"') {
            for (++i;; ++i) {
                if (i >= n)
                    throw std::invalid_argument("no closing quotation");
                if (s[i] == '"')
                    break;
                if (s[i] == '\\') {
                    if (++i >= n)
                        throw std::invalid_argument("no closing quotation");
                    if (s[i] != '"' && s[i] != '\\')
                        word += '\\';
                }
                word += s[i];
            }
        } else {
            word += c;
        }
    }
    if (inWord)
        words.push_back(std::move(word));
    return words;
}

} // namespace scopevisor::config

namespace scopevisor::config::detail {

bool toU64(std::string_view s, uint64_t& out)
{
    if (s.empty())
        return false;
    uint64_t v = 0;
    for (char c : s)
        if (c < '0' || c > '9' || __builtin_mul_overflow(v, 10u, &v) ||
            __builtin_add_overflow(v, uint64_t(c - '0'), &v))
            return false;
    out = v;
    return true;
}

namespace {

bool isWordChar(char c)
{
    // shlex's non-POSIX wordchars plus what supervisord 4.2.5 adds.
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '/' || c == '.' || c == '+' || c == '-' || c == '(' || c == ')' ||
           c == ':';
}

bool isShlexSpace(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

struct Token {
    std::string text;
    bool word = false; // a run of word characters (not quoted, not punctuation)
};

// shlex.shlex(s) in non-POSIX mode, as supervisord 4.2.5 runs it: a word
// starts with a word character and then also takes quote characters; a
// quoted token keeps its quotes; every other character is a token of its
// own; '#' comments out the rest of the line (inside a word, the word then
// goes on with the next line, as Python's does).
std::vector<Token> envTokens(std::string_view s, const std::string& whole)
{
    std::vector<Token> tokens;
    size_t i = 0;
    auto skipLine = [&] {
        while (i < s.size() && s[i] != '\n')
            ++i;
        if (i < s.size())
            ++i;
    };
    while (i < s.size()) {
        const char c = s[i];
        if (isShlexSpace(c)) {
            ++i;
        } else if (c == '#') {
            skipLine();
        } else if (isWordChar(c)) {
            Token t{"", true};
            while (i < s.size()) {
                if (s[i] == '#')
                    skipLine();
                else if (isWordChar(s[i]) || s[i] == '"' || s[i] == '\'')
                    t.text += s[i++];
                else
                    break;
            }
            tokens.push_back(std::move(t));
        } else if (c == '"' || c == '\'') {
            const size_t close = s.find(c, i + 1);
            if (close == std::string_view::npos)
                throw std::invalid_argument("malformed environment " + quote(whole) +
                                            ": no closing quotation");
            tokens.push_back({std::string(s.substr(i, close - i + 1)), false});
            i = close + 1;
        } else {
            tokens.push_back({std::string(1, c), false});
            ++i;
        }
    }
    return tokens;
}

} // namespace

std::string_view trim(std::string_view s)
{
    auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
    while (!s.empty() && space(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && space(s.back()))
        s.remove_suffix(1);
    return s;
}

std::string lower(std::string_view s)
{
    std::string r(s);
    for (char& c : r)
        if (c >= 'A' && c <= 'Z')
            c = char(c - 'A' + 'a');
    return r;
}

std::string quote(std::string_view s)
{
    constexpr size_t kMax = 80;
    std::string r = "'";
    for (size_t i = 0; i < s.size() && i < kMax; ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '\n') {
            r += "\\n";
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            r += buf;
        } else {
            r += char(c);
        }
    }
    if (s.size() > kMax)
        r += "...";
    return r + "'";
}

bool parseBool(std::string_view s)
{
    const std::string v = lower(s);
    if (v == "true" || v == "yes" || v == "on" || v == "1")
        return true;
    if (v == "false" || v == "no" || v == "off" || v == "0")
        return false;
    throw std::invalid_argument("invalid value " + quote(s) + " (expected true or false)");
}

AutoRestart parseAutoRestart(std::string_view s)
{
    if (lower(s) == "unexpected")
        return AutoRestart::Unexpected;
    try {
        return parseBool(s) ? AutoRestart::True : AutoRestart::False;
    } catch (const std::invalid_argument&) {
        throw std::invalid_argument("invalid value " + quote(s) +
                                    " (expected true, false or unexpected)");
    }
}

long long parseInteger(std::string_view s, long long min, long long max)
{
    std::string_view t = trim(s);
    bool neg = false;
    if (!t.empty() && (t.front() == '-' || t.front() == '+')) {
        neg = t.front() == '-';
        t.remove_prefix(1);
    }
    uint64_t mag = 0;
    const bool ok = toU64(t, mag) && mag <= uint64_t(LLONG_MAX);
    const long long v = neg ? -static_cast<long long>(mag) : static_cast<long long>(mag);
    if (ok && v >= min && v <= max)
        return v;
    std::string expected = "an integer";
    if (min <= INT_MIN && max >= INT_MAX)
        expected = "an integer";
    else if (min == 0 && max >= INT_MAX)
        expected = "a non-negative integer";
    else if (min == 1 && max >= INT_MAX)
        expected = "a positive integer";
    else if (min > LLONG_MIN || max < LLONG_MAX)
        expected = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
    throw std::invalid_argument("invalid value " + quote(s) + " (expected " + expected + ")");
}

int parseOctal(std::string_view s, int max)
{
    std::string_view t = trim(s);
    if (t.size() > 2 && t[0] == '0' && (t[1] == 'o' || t[1] == 'O'))
        t.remove_prefix(2);
    long v = 0;
    bool ok = !t.empty();
    for (char c : t) {
        if (c < '0' || c > '7' || v > max) {
            ok = false;
            break;
        }
        v = v * 8 + (c - '0');
    }
    if (!ok || v > max)
        throw std::invalid_argument("invalid value " + quote(s) +
                                    " (expected an octal number such as 022)");
    return int(v);
}

std::vector<int> parseExitCodes(std::string_view s)
{
    std::vector<int> codes;
    if (trim(s).empty())
        return codes;
    size_t start = 0;
    for (;;) {
        const size_t comma = s.find(',', start);
        const std::string_view item = s.substr(start, comma == std::string_view::npos ? comma : comma - start);
        try {
            codes.push_back(int(parseInteger(item, 0, 255)));
        } catch (const std::invalid_argument&) {
            throw std::invalid_argument("invalid value " + quote(s) +
                                        " (expected a comma-separated list of exit codes from 0 to 255)");
        }
        if (comma == std::string_view::npos)
            break;
        start = comma + 1;
    }
    return codes;
}

std::vector<std::pair<std::string, std::string>> parseEnvironment(std::string_view s,
                                                                  std::vector<std::string>* notes)
{
    // supervisord 4.2.5 (datatypes.dict_of_key_value_pairs): tokens taken
    // three at a time as KEY '=' VALUE, the token after them skipped as the
    // separator, quotes stripped from both ends of VALUE. The separator is
    // not checked there, so `A=x y` silently means A=x; here it still means
    // A=x, but the caller is told (via `notes`) that "y" was dropped.
    const std::string whole(s);
    const std::vector<Token> tokens = envTokens(s, whole);
    std::vector<std::pair<std::string, std::string>> env;
    auto malformed = [&](const std::string& why) {
        return std::invalid_argument("malformed environment " + quote(whole) + ": " + why +
                                     " (expected KEY=value pairs separated by commas)");
    };
    for (size_t i = 0; i < tokens.size(); i += 4) {
        if (i + 2 >= tokens.size() || tokens[i + 1].text != "=")
            throw malformed("unexpected end of key/value pairs");
        if (!tokens[i].word)
            throw malformed("invalid variable name " + quote(tokens[i].text));
        std::string value = tokens[i + 2].text;
        const size_t b = value.find_first_not_of("'\"");
        const size_t e = value.find_last_not_of("'\"");
        value = b == std::string::npos ? std::string() : value.substr(b, e - b + 1);
        const std::string& key = tokens[i].text;
        bool replaced = false;
        for (auto& kv : env)
            if (kv.first == key) {
                kv.second = value;
                replaced = true;
            }
        if (!replaced)
            env.emplace_back(key, std::move(value));
        if (i + 3 < tokens.size() && tokens[i + 3].text != "," && notes)
            notes->push_back("in environment, " + quote(tokens[i + 3].text) + " after " + key +
                             "=... is not a comma: it is skipped, as supervisord does (quote values "
                             "that contain spaces or other punctuation)");
    }
    return env;
}

std::string checkName(std::string_view s)
{
    const std::string_view t = trim(s);
    if (t.empty())
        throw std::invalid_argument("empty name");
    for (char c : t)
        if (c == ' ' || c == ':' || c == '/' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            throw std::invalid_argument("invalid name " + quote(t) +
                                        " (a name may not contain a space, ':', '/' or a control character)");
    return std::string(t);
}

std::string checkRole(std::string_view s)
{
    const std::string r = lower(trim(s));
    if (r == "admin" || r == "operator" || r == "log-reader" || r == "viewer")
        return r;
    throw std::invalid_argument("invalid role " + quote(s) +
                                " (expected admin, operator, log-reader or viewer)");
}

std::string expandUser(const std::string& path, const std::map<std::string, std::string>& env)
{
    if (path.empty() || path[0] != '~' || (path.size() > 1 && path[1] != '/'))
        return path;
    const auto home = env.find("HOME");
    if (home == env.end() || home->second.empty())
        return path;
    return home->second + path.substr(1);
}

} // namespace scopevisor::config::detail
