// SPDX-License-Identifier: LGPL-2.1-or-later
#include "srs_command.h"

namespace srs {
namespace {

struct OpWord {
    const char* word;
    Op op;
};
// Every spelling the original's Command::new_from_str matches.
constexpr OpWord kOps[] = {
    {"restart", Op::Restart}, {"Restart", Op::Restart}, {"start", Op::Start},       {"Start", Op::Start},
    {"stop", Op::Stop},       {"Stop", Op::Stop},       {"check", Op::Check},       {"Check", Op::Check},
    {"kill", Op::Kill},       {"Kill", Op::Kill},       {"trystart", Op::TryStart}, {"Trystart", Op::TryStart},
    {"TryStart", Op::TryStart}, {"info", Op::Info},     {"Info", Op::Info},         {"INFO", Op::Info},
    {"InFo", Op::Info},       {"help", Op::Help},       {"Help", Op::Help},         {"-h", Op::Help},
};

bool isPrep(std::string_view w) { return w == "on" || w == "On" || w == "with" || w == "With"; }

bool childOptional(Op op) { return op == Op::Check || op == Op::Kill || op == Op::Info; }

} // namespace

std::vector<std::string_view> splitSpaces(std::string_view s) {
    std::vector<std::string_view> out;
    size_t b = 0;
    for (;;) {
        size_t e = s.find(' ', b);
        out.push_back(s.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b));
        if (e == std::string_view::npos)
            return out;
        b = e + 1;
    }
}

std::optional<Op> parseOp(std::string_view word) noexcept {
    for (const auto& w : kOps)
        if (word == w.word)
            return w.op;
    return std::nullopt;
}

const char* opName(Op op) noexcept {
    switch (op) {
    case Op::Restart: return "restart";
    case Op::Start: return "start";
    case Op::Stop: return "stop";
    case Op::Check: return "check";
    case Op::Kill: return "kill";
    case Op::TryStart: return "trystart";
    case Op::Info: return "info";
    case Op::Help: return "help";
    }
    return "?";
}

scopevisor::Verb verbFor(Op op) noexcept {
    switch (op) {
    // check shows the command lines, which may hold secrets: it needs
    // log-reader, as reading a program's output does.
    case Op::Check: return scopevisor::Verb::ReadLog;
    case Op::Info:
    case Op::Help: return scopevisor::Verb::View;
    case Op::Start:
    case Op::Stop:
    case Op::Restart:
    case Op::TryStart: return scopevisor::Verb::Control;
    case Op::Kill: return scopevisor::Verb::Manage;
    }
    return scopevisor::Verb::Manage;
}

ParseOutcome parseCommand(std::string_view text) {
    ParseOutcome out;
    if (text.empty()) {
        out.error = reply::kNoLegalOp; // the original panicked on an empty message
        return out;
    }
    auto tokens = splitSpaces(text);
    auto op = parseOp(tokens[0]);
    if (!op) {
        out.error = reply::kNoLegalOp;
        return out;
    }
    Command c;
    c.op = *op;
    if (tokens.size() == 1) {
        if (!childOptional(*op)) {
            // The original panicked here, holding its lock, and never answered again.
            out.error = std::string(opName(*op)) + " needs a child name";
            return out;
        }
        out.command = std::move(c);
        return out;
    }
    // check/kill/info may go straight to their prepositions ("check on
    // 127.0.0.1"); the other ops take the next token as the child whatever
    // it is ("start on" names a child "on", which the server refuses).
    size_t rest = 2;
    if (childOptional(*op) && isPrep(tokens[1])) {
        rest = 1;
    } else {
        c.child = std::string(tokens[1]);
        c.hasChild = true;
    }
    if (c.hasChild && parseOp(c.child)) {
        out.error = "child name cannot be command";
        return out;
    }
    if ((tokens.size() - rest) % 2 != 0) {
        out.error = "prep & obj arguments number should be even";
        return out;
    }
    for (size_t i = rest; i + 1 < tokens.size(); i += 2) {
        std::string_view prep = tokens[i];
        if (!isPrep(prep)) {
            out.error = "does not support " + std::string(prep);
            return out;
        }
        c.preps.emplace_back(std::string(prep), std::string(tokens[i + 1]));
    }
    out.command = std::move(c);
    return out;
}

std::string_view stripTrailingNuls(std::string_view raw) noexcept {
    while (!raw.empty() && raw.back() == '\0')
        raw.remove_suffix(1);
    return raw;
}

SignedSplit splitSigned(std::string_view raw) {
    SignedSplit out;
    size_t semi = raw.find(';');
    if (semi == std::string_view::npos) {
        out.error = reply::kCannotParseEncrypt;
        return out;
    }
    std::string_view key = raw.substr(0, semi), data = raw.substr(semi + 1);
    if (key.empty() || stripTrailingNuls(data).empty()) {
        out.error = reply::kKeyOrCommandEmpty;
        return out;
    }
    out.message = SignedMessage{std::string(key), std::string(data)};
    return out;
}

bool validUtf8(std::string_view s) noexcept {
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (len == 0 || i + len > s.size())
            return false;
        uint32_t cp = len == 1 ? c : c & (0x7F >> len);
        for (size_t k = 1; k < len; ++k) {
            unsigned char d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (d & 0x3F);
        }
        static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

std::string printable(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < s.size() && i < 200; ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f || c == '\\') {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
        } else {
            out += char(c);
        }
    }
    if (s.size() > 200)
        out += "...";
    return out;
}

std::optional<std::string> commandFromDecrypted(std::string_view plain) {
    std::string s;
    for (char c : plain)
        if (c != '\0')
            s += c;
    if (!validUtf8(s))
        return std::nullopt;
    return s;
}

namespace reply {
std::string keyNotFound(std::string_view key) { return "Cannot found '" + std::string(key) + "' file in keys path"; }
std::string reserved(std::string_view child) {
    return "\"" + std::string(child) + "\" is reserved keywords, cannot run child named \"" + std::string(child) + "\"";
}
std::string noConfig(std::string_view child) { return "Cannot found '" + std::string(child) + "' file in load path"; }
std::string alreadyRunning(std::string_view child) {
    return "Cannot start this child " + std::string(child) + ", it already exsits";
}
std::string cannotStart(std::string_view child) { return "Cannot start child " + std::string(child); }
std::string notRunning(std::string_view child) { return std::string(child) + " not exsit, cannot stop"; }
std::string repeatSuffix(std::string_view action, long seconds) {
    return ", and it will " + std::string(action) + " in " + std::to_string(seconds) + "s";
}
std::string startOk(std::string_view child, std::string_view suffix, bool prehook) {
    return std::string(prehook ? "Find pre-hook, has started pre-hook firstly. " : "") + "start " + std::string(child) +
           " success" + std::string(suffix);
}
std::string restartOk(std::string_view child, std::string_view suffix) {
    return "restart " + std::string(child) + " success" + std::string(suffix);
}
std::string stopOk(std::string_view child) { return "stop " + std::string(child) + " success"; }
std::string tryStartFresh(std::string_view child, std::string_view suffix) {
    return "Start " + std::string(child) + " success" + std::string(suffix) + " ";
}
std::string tryStartAgain(std::string_view child, std::string_view suffix, std::string_view posthook) {
    std::string s = "This child already start, stop it first. ";
    if (!posthook.empty())
        s += "find post-hook \"" + std::string(posthook) + "\", run it after stop. ";
    return s + "Stop " + std::string(child) + " success, start it again. " + tryStartFresh(child, suffix);
}
std::string help(std::string_view timestamp) { return "[" + std::string(timestamp) + "] not support"; }
std::string kill(std::string_view error) { return "I am dying. last error: " + std::string(error) + "\n"; }
std::string recursiveCheck(std::string_view child) {
    return "This child, " + std::string(child) + ", cannot pass recursive check";
}
std::string infoEmpty() { return "==Server Info Below==\n=======================\n"; }
} // namespace reply

} // namespace srs
