// SPDX-License-Identifier: LGPL-2.1-or-later
//
// scopevisorctl: control scopevisord over D-Bus (org.scopevisor1), with the
// proxies generated from the interface XML. One connection, one call per
// command where possible, no signal subscriptions: it starts fast.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fnmatch.h>
#include <getopt.h>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>
#include <unistd.h>

#include "manager_proxy.h"
#include "output.h"
#include "polkit_agent.h"
#include "program_proxy.h"

namespace scopevisorctl {
namespace {

constexpr const char* kBusName = "org.scopevisor1";
constexpr const char* kManagerPath = "/org/scopevisor1";

// Exit statuses, as systemctl's (LSB): 3 "not running", 4 "no such program".
enum Exit { kOk = 0, kFailed = 1, kUsage = 2, kNotRunning = 3, kNoSuch = 4 };

// Neither proxy calls registerProxy(): that would add a match rule per
// signal (a round trip each) and this tool only calls methods.
class Manager final : public sdbus::ProxyInterfaces<org::scopevisor1::Manager_proxy> {
public:
    explicit Manager(sdbus::IConnection& c) : ProxyInterfaces(c, kBusName, kManagerPath) {}

private:
    void onProgramNew(const std::string&, const sdbus::ObjectPath&) override {}
    void onProgramRemoved(const std::string&, const sdbus::ObjectPath&) override {}
    void onProgramStateChanged(const std::string&, const std::string&, const std::string&) override {}
};

class Program final : public sdbus::ProxyInterfaces<org::scopevisor1::Program_proxy, sdbus::Properties_proxy> {
public:
    Program(sdbus::IConnection& c, const std::string& path) : ProxyInterfaces(c, kBusName, path) {}

private:
    void onPropertiesChanged(const std::string&, const std::map<std::string, sdbus::Variant>&,
                             const std::vector<std::string>&) override {}
};

struct Options {
    bool user = false;
    bool json = false;
    bool noColour = false;
    bool noAskPassword = false;
};

void usage(FILE* f) {
    fputs("Usage: scopevisorctl [OPTION]... COMMAND [ARG]...\n"
          "Control the programs of scopevisord over D-Bus.\n"
          "\n"
          "Commands:\n"
          "  status [PATTERN...]        list programs (all, or those matching the glob patterns)\n"
          "  start NAME|GROUP:*|all...  start programs and wait until they run\n"
          "  stop NAME|GROUP:*|all...   stop programs and wait until they stopped\n"
          "  restart NAME|GROUP:*|all...\n"
          "  signal SIG NAME...         send a signal (TERM, SIGHUP, 9, ...)\n"
          "  tail [-f] [-n N] [--stderr] NAME\n"
          "                             show the last N (10) lines of output; -f follows\n"
          "  send NAME TEXT...          write TEXT and a newline to the program's stdin\n"
          "  show NAME                  show the program's properties\n"
          "  reload                     apply configuration changes\n"
          "  shutdown                   stop every program and the daemon\n"
          "\n"
          "Options:\n"
          "      --user       talk to the daemon of the session bus (scopevisord --user)\n"
          "      --system     talk to the daemon of the system bus (default)\n"
          "      --json       machine-readable output\n"
          "      --no-color   no colours even on a terminal\n"
          "      --no-ask-password\n"
          "                   never ask for a password (polkit); without it, on a\n"
          "                   terminal, a password is asked for when one is needed\n"
          "  -h, --help       show this help\n"
          "\n"
          "Exit status: 0 success, 1 failure, 2 usage, 3 a named program is not running\n"
          "(status), 4 no such program. See scopevisorctl(1).\n",
          f);
}

// Whether method calls let polkit ask for a password (set by run()).
bool askedPassword = false;

// "Failed to stop web: not running" and an exit status for a D-Bus error.
int report(const std::string& what, const sdbus::Error& e) {
    const std::string& name = e.getName();
    std::string msg = e.getMessage().empty() ? name : e.getMessage();
    if (name == "org.freedesktop.DBus.Error.ServiceUnknown" || name == "org.freedesktop.DBus.Error.NameHasNoOwner")
        msg = "scopevisord is not running (" + msg + ")";
    else if (name == "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired")
        msg += askedPassword ? " (polkit found no authentication agent to ask for a password; run as root, or as "
                               "a member of a scopevisor-* group)"
                             : " (polkit wants a password, and scopevisorctl asks for one only on a terminal "
                               "without --no-ask-password; or run it as root, or as a member of a "
                               "scopevisor-* group)";
    fprintf(stderr, "Failed to %s: %s\n", what.c_str(), msg.c_str());
    if (name == "org.scopevisor1.Error.NoSuchProgram" || name == "org.scopevisor1.Error.NoSuchGroup")
        return kNoSuch;
    return kFailed;
}

std::vector<Row> listRows(Manager& m) {
    std::vector<Row> rows;
    for (auto& p : m.ListPrograms())
        rows.push_back(Row{p.get<0>(), p.get<1>(), p.get<2>(), p.get<3>(), p.get<4>(), p.get<5>()});
    return rows;
}

bool matches(const Row& r, const std::string& pattern) {
    return fnmatch(pattern.c_str(), r.name.c_str(), 0) == 0 ||
           (pattern.find(':') == std::string::npos && r.name.find(':') != std::string::npos &&
            fnmatch(pattern.c_str(), r.name.substr(r.name.find(':') + 1).c_str(), 0) == 0) ||
           (!r.group.empty() && pattern == r.group + ":*");
}

int cmdStatus(Manager& m, const Options& o, const std::vector<std::string>& patterns) {
    std::vector<Row> all = listRows(m);
    std::vector<Row> shown;
    int rc = kOk;
    if (patterns.empty()) {
        shown = all;
    } else {
        for (const auto& pat : patterns) {
            bool any = false;
            for (const auto& r : all) {
                if (!matches(r, pat))
                    continue;
                any = true;
                if (std::none_of(shown.begin(), shown.end(), [&](const Row& s) { return s.name == r.name; }))
                    shown.push_back(r);
            }
            if (!any) {
                fprintf(stderr, "No program matches '%s'.\n", pat.c_str());
                rc = kNoSuch;
            }
        }
        if (rc == kOk && std::any_of(shown.begin(), shown.end(), [](const Row& r) { return r.state != "RUNNING"; }))
            rc = kNotRunning;
    }
    if (o.json)
        printf("%s\n", jsonRows(shown).c_str());
    else
        printTable(shown, !o.noColour && useColour());
    return rc;
}

// start/stop/restart: NAME, GROUP:* or all, each waited for in turn.
int cmdControl(Manager& m, const std::string& verb, const std::vector<std::string>& targets) {
    if (targets.empty()) {
        fprintf(stderr, "%s: name a program, GROUP:* or all\n", verb.c_str());
        return kUsage;
    }
    int rc = kOk;
    for (const auto& t : targets) {
        try {
            const bool all = t == "all";
            const bool group = t.size() > 2 && t.compare(t.size() - 2, 2, ":*") == 0;
            const std::string g = group ? t.substr(0, t.size() - 2) : "";
            if (verb == "start") {
                all ? m.StartAll() : group ? m.StartGroup(g) : m.StartProgram(t);
            } else if (verb == "stop") {
                all ? m.StopAll() : group ? m.StopGroup(g) : m.StopProgram(t);
            } else if (all || group) {
                // A restart of many is a stop of all of them, then a start.
                all ? m.StopAll() : m.StopGroup(g);
                all ? m.StartAll() : m.StartGroup(g);
            } else {
                m.RestartProgram(t);
            }
        } catch (const sdbus::Error& e) {
            rc = std::max(rc, report(verb + " " + t, e));
        }
    }
    return rc;
}

int parseSignal(const std::string& s) {
    if (!s.empty() && std::all_of(s.begin(), s.end(), ::isdigit))
        return atoi(s.c_str());
    std::string name = s;
    for (auto& c : name)
        c = char(toupper(c));
    if (name.rfind("SIG", 0) == 0)
        name = name.substr(3);
    for (int i = 1; i < NSIG; ++i) {
        const char* abbrev = sigabbrev_np(i);
        if (abbrev && name == abbrev)
            return i;
    }
    return -1;
}

int cmdSignal(Manager& m, const std::vector<std::string>& args) {
    if (args.size() < 2) {
        fputs("signal: usage: signal SIG NAME...\n", stderr);
        return kUsage;
    }
    int sig = parseSignal(args[0]);
    if (sig <= 0) {
        fprintf(stderr, "signal: unknown signal '%s'\n", args[0].c_str());
        return kUsage;
    }
    int rc = kOk;
    for (size_t i = 1; i < args.size(); ++i) {
        try {
            m.SignalProgram(args[i], sig);
        } catch (const sdbus::Error& e) {
            rc = std::max(rc, report("signal " + args[i], e));
        }
    }
    return rc;
}

volatile sig_atomic_t stopFollowing = 0;

int cmdTail(Manager& m, const Options& o, std::vector<std::string> args) {
    bool follow = false;
    uint32_t n = 10;
    std::string stream = "stdout", name;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "-f" || a == "--follow")
            follow = true;
        else if (a == "--stderr")
            stream = "stderr";
        else if (a == "--all")
            stream = "all";
        else if ((a == "-n" || a == "--lines") && i + 1 < args.size())
            n = uint32_t(strtoul(args[++i].c_str(), nullptr, 10));
        else if (a.rfind("-n", 0) == 0 && a.size() > 2)
            n = uint32_t(strtoul(a.c_str() + 2, nullptr, 10));
        else if (name.empty() && (a.empty() || a[0] != '-'))
            name = a;
        else {
            fprintf(stderr, "tail: unexpected argument '%s'\n", a.c_str());
            return kUsage;
        }
    }
    if (name.empty()) {
        fputs("tail: name a program\n", stderr);
        return kUsage;
    }
    auto print = [&o](const std::vector<std::string>& lines, uint64_t first) {
        for (size_t i = 0; i < lines.size(); ++i) {
            if (o.json)
                printf("{\"line\":%llu,\"text\":%s}\n", (unsigned long long)(first + i), jsonString(lines[i]).c_str());
            else
                printf("%s\n", lines[i].c_str());
        }
        fflush(stdout);
    };
    uint64_t last = 0;
    try {
        // max_lines 0 would mean "everything": ask for one line to learn where the end is.
        auto [first, end, lines] = m.ReadLog(name, stream, 0, n == 0 ? 1 : n);
        if (n > 0)
            print(lines, first);
        last = end;
        if (!follow)
            return kOk;
        signal(SIGINT, [](int) { stopFollowing = 1; });
        signal(SIGTERM, [](int) { stopFollowing = 1; });
        while (!stopFollowing) {
            auto [f, l, more] = m.ReadLog(name, stream, last + 1, 1000);
            if (more.empty()) {
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
                continue;
            }
            print(more, f);
            last = l;
        }
    } catch (const sdbus::Error& e) {
        return report("read the output of " + name, e);
    }
    return kOk;
}

int cmdSend(Manager& m, const std::vector<std::string>& args) {
    if (args.size() < 2) {
        fputs("send: usage: send NAME TEXT...\n", stderr);
        return kUsage;
    }
    std::string text;
    for (size_t i = 1; i < args.size(); ++i)
        text += (i > 1 ? " " : "") + args[i];
    text += "\n";
    try {
        m.SendInput(args[0], std::vector<uint8_t>(text.begin(), text.end()));
    } catch (const sdbus::Error& e) {
        return report("send input to " + args[0], e);
    }
    return kOk;
}

std::string variantText(const sdbus::Variant& v, bool json) {
    const std::string t = v.peekValueType();
    if (t == "s")
        return json ? jsonString(v.get<std::string>()) : v.get<std::string>();
    if (t == "u")
        return std::to_string(v.get<uint32_t>());
    if (t == "i")
        return std::to_string(v.get<int32_t>());
    if (t == "t")
        return std::to_string(v.get<uint64_t>());
    return json ? "null" : "";
}

int cmdShow(Manager& m, sdbus::IConnection& c, const Options& o, const std::vector<std::string>& args) {
    if (args.size() != 1) {
        fputs("show: name one program\n", stderr);
        return kUsage;
    }
    try {
        Program p(c, m.GetProgram(args[0]));
        auto props = p.GetAll("org.scopevisor1.Program");
        if (o.json) {
            std::string out = "{";
            bool firstProp = true;
            for (const auto& [k, v] : props) {
                out += (firstProp ? "" : ",") + jsonString(k) + ":" + variantText(v, true);
                firstProp = false;
            }
            printf("%s}\n", out.c_str());
        } else {
            for (const auto& [k, v] : props)
                printf("%s=%s\n", k.c_str(), variantText(v, false).c_str());
        }
    } catch (const sdbus::Error& e) {
        return report("show " + args[0], e);
    }
    return kOk;
}

int cmdReload(Manager& m, const Options& o) {
    try {
        auto [added, changed, removed] = m.Reload();
        auto list = [](const std::vector<std::string>& v) {
            std::string s = "[";
            for (size_t i = 0; i < v.size(); ++i)
                s += (i ? "," : "") + jsonString(v[i]);
            return s + "]";
        };
        if (o.json) {
            printf("{\"added\":%s,\"changed\":%s,\"removed\":%s}\n", list(added).c_str(), list(changed).c_str(),
                   list(removed).c_str());
            return kOk;
        }
        for (const auto& g : added)
            printf("%s: added process group\n", g.c_str());
        for (const auto& g : changed)
            printf("%s: updated process group\n", g.c_str());
        for (const auto& g : removed)
            printf("%s: removed process group\n", g.c_str());
    } catch (const sdbus::Error& e) {
        return report("reload", e);
    }
    return kOk;
}

int run(int argc, char** argv) {
    enum { kUser = 1000, kSystem, kJson, kNoColour, kNoAskPassword };
    static const struct option longopts[] = {
        {"user", no_argument, nullptr, kUser},       {"system", no_argument, nullptr, kSystem},
        {"json", no_argument, nullptr, kJson},       {"no-color", no_argument, nullptr, kNoColour},
        {"no-ask-password", no_argument, nullptr, kNoAskPassword},
        {"help", no_argument, nullptr, 'h'},         {nullptr, 0, nullptr, 0},
    };
    Options o;
    int c;
    // "+": options end at the command, whose own options (tail -f) follow it.
    while ((c = getopt_long(argc, argv, "+h", longopts, nullptr)) != -1) {
        switch (c) {
        case kUser: o.user = true; break;
        case kSystem: o.user = false; break;
        case kJson: o.json = true; break;
        case kNoColour: o.noColour = true; break;
        case kNoAskPassword: o.noAskPassword = true; break;
        case 'h': usage(stdout); return kOk;
        default: usage(stderr); return kUsage;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return kUsage;
    }
    const std::string cmd = argv[optind];
    std::vector<std::string> args(argv + optind + 1, argv + argc);
    // Global options may follow the command too (scopevisorctl status --json).
    for (auto it = args.begin(); it != args.end();) {
        if (*it == "--json")
            o.json = true;
        else if (*it == "--user")
            o.user = true;
        else if (*it == "--system")
            o.user = false;
        else if (*it == "--no-color")
            o.noColour = true;
        else if (*it == "--no-ask-password")
            o.noAskPassword = true;
        else {
            ++it;
            continue;
        }
        it = args.erase(it);
    }

    static const char* known[] = {"status", "start", "stop", "restart", "signal", "tail",
                                  "send", "show", "reload", "shutdown", "help"};
    if (std::find_if(std::begin(known), std::end(known), [&](const char* k) { return cmd == k; }) == std::end(known)) {
        fprintf(stderr, "scopevisorctl: unknown command '%s'\n", cmd.c_str());
        return kUsage;
    }
    if (cmd == "help") {
        usage(stdout);
        return kOk;
    }

    std::unique_ptr<sdbus::IConnection> conn;
    try {
        conn = o.user ? sdbus::createSessionBusConnection() : sdbus::createSystemBusConnection();
        // Start and stop wait for startsecs and stopwaitsecs, which the
        // configuration may make long: wait as long as the daemon works.
        conn->setMethodCallTimeout(UINT64_MAX);
    } catch (const sdbus::Error& e) {
        fprintf(stderr, "Failed to connect to the %s bus: %s\n", o.user ? "session" : "system", e.getMessage().c_str());
        return kFailed;
    }
    // As systemctl: on a terminal, polkit may ask for a password, through a
    // textual agent started for the commands that change something (those
    // that only look are allowed to everyone by the shipped policy). The
    // session bus has no polkit: its daemon serves its one user.
    std::unique_ptr<PolkitAgent> agent;
    if (!o.user && !o.noAskPassword && isatty(STDIN_FILENO) && cmd != "status" && cmd != "show") {
        askedPassword = allowInteractiveAuthorization(*conn);
        if (askedPassword)
            agent = PolkitAgent::start();
    }
    Manager m(*conn);
    try {
        if (cmd == "status")
            return cmdStatus(m, o, args);
        if (cmd == "start" || cmd == "stop" || cmd == "restart")
            return cmdControl(m, cmd, args);
        if (cmd == "signal")
            return cmdSignal(m, args);
        if (cmd == "tail")
            return cmdTail(m, o, args);
        if (cmd == "send")
            return cmdSend(m, args);
        if (cmd == "show")
            return cmdShow(m, *conn, o, args);
        if (cmd == "reload")
            return cmdReload(m, o);
        if (cmd == "shutdown") {
            m.Shutdown();
            return kOk;
        }
    } catch (const sdbus::Error& e) {
        return report(cmd, e);
    }
    return kUsage;
}

} // namespace
} // namespace scopevisorctl

int main(int argc, char** argv) { return scopevisorctl::run(argc, argv); }
