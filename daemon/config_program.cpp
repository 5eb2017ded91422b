// SPDX-License-Identifier: LGPL-2.1-or-later
//
// [program:x] and [group:x]: supervisord's options.py
// (processes_from_section, process_groups_from_parser) with its defaults,
// plus scopevisor's keys (startretries=infinite, backoff_max, the systemd
// resource controls).
#include <algorithm>
#include <iterator>
#include <map>
#include <set>

#include "config_loader.h"

namespace scopevisor::config::detail {

namespace {

// More than this is a typo (or a fuzzer), not a deployment.
constexpr long long kMaxNumprocs = 10000;
constexpr size_t kMaxProcesses = 100000;

constexpr std::string_view kProgramKeys[] = {
    "command", "process_name", "numprocs", "numprocs_start", "priority", "autostart",
    "startsecs", "startretries", "autorestart", "exitcodes", "stopsignal", "stopwaitsecs",
    "stopasgroup", "killasgroup", "user", "redirect_stderr",
    "stdout_logfile", "stdout_logfile_maxbytes", "stdout_logfile_backups",
    "stdout_capture_maxbytes", "stdout_events_enabled", "stdout_syslog",
    "stderr_logfile", "stderr_logfile_maxbytes", "stderr_logfile_backups",
    "stderr_capture_maxbytes", "stderr_events_enabled", "stderr_syslog",
    "environment", "directory", "umask", "serverurl",
    // scopevisor's
    "backoff_max", "stdin_buffer_max", "memory_max", "memory_high", "cpu_weight", "cpu_quota", "tasks_max", "io_weight",
};

struct Program {
    const ini::Section* section;
    std::string name;
};

LogFileConfig readLog(SectionReader& r, const std::string& stream, const LoadContext& ctx)
{
    const std::string key = stream + "_logfile";
    LogFileConfig lf;
    lf.maxBytes = r.bytes(key + "_maxbytes", lf.maxBytes);
    lf.backups = int(r.integer(key + "_backups", lf.backups, 0, INT_MAX));
    lf.captureMaxBytes = r.bytes(stream + "_capture_maxbytes", 0);
    lf.eventsEnabled = r.boolean(stream + "_events_enabled", false);
    lf.syslog = r.boolean(stream + "_syslog", false);

    const std::optional<std::string> v = r.get(key);
    const std::string l = v ? lower(trim(*v)) : "auto";
    if (l == "auto") {
        lf.isAuto = true;
        if (lf.maxBytes == 0)
            r.warn(key, "AUTO log file without rotation (" + key +
                            "_maxbytes = 0) may fill the file system");
    } else if (l == "syslog") {
        r.warn(key, key + " = syslog is deprecated; use " + stream + "_syslog = true");
        lf.syslog = true;
    } else if (l != "none" && l != "off") {
        lf.path = expandUser(std::string(trim(*v)), ctx.env);
    }
    return lf;
}

ProcessConfig readProcess(SectionReader& r, const Program& p, const std::string& group,
                          const std::string& rawName, long long num, long long numprocs)
{
    Vars& vars = r.vars();
    vars["process_num"] = num;
    vars["numprocs"] = numprocs;

    ProcessConfig pc;
    pc.programName = p.name;
    pc.group = group;
    pc.processNum = int(num);
    pc.loc = p.section->loc;

    // First, because the keys after it may use its variables as %(ENV_X)s.
    std::vector<std::string> notes;
    if (auto env = r.convert("environment", [&](const std::string& s) { return parseEnvironment(s, &notes); }))
        pc.environment = std::move(*env);
    for (const std::string& n : notes)
        r.warn("environment", n);
    for (const auto& [k, v] : pc.environment)
        vars["ENV_" + k] = v;

    try {
        pc.name = checkName(r.expandFor("process_name", rawName));
    } catch (const std::invalid_argument& e) {
        r.fail("process_name", e.what());
    }

    const std::optional<std::string> command = r.get("command");
    if (!command)
        r.fail("command", "program section " + r.name() + " does not specify a command");
    pc.command = *command;
    try {
        pc.argv = splitCommand(pc.command);
    } catch (const std::invalid_argument& e) {
        r.fail("command", "cannot split " + quote(pc.command) + ": " + e.what());
    }
    if (pc.argv.empty())
        r.fail("command", "empty command");

    pc.priority = int(r.integer("priority", pc.priority, INT_MIN, INT_MAX));
    pc.autostart = r.boolean("autostart", pc.autostart);
    pc.startsecs = int(r.integer("startsecs", pc.startsecs, 0, INT_MAX));
    if (auto v = r.convert("startretries", [](const std::string& s) {
            const std::string l = lower(trim(s));
            if (l == "infinite" || l == "infinity")
                return -1LL;
            try {
                return parseInteger(s, 0, INT_MAX);
            } catch (const std::invalid_argument&) {
                throw std::invalid_argument("invalid value " + quote(s) +
                                            " (expected a non-negative integer or infinite)");
            }
        })) {
        // With the flag set, the count is the largest there is, so that a
        // reader who only looks at the count still never gives up.
        pc.startretriesInfinite = *v < 0;
        pc.startretries = *v < 0 ? INT_MAX : int(*v);
    }
    pc.backoffMax = int(r.integer("backoff_max", 0, 0, INT_MAX));
    if (auto v = r.convert("autorestart", [](const std::string& s) { return parseAutoRestart(s); }))
        pc.autorestart = *v;
    if (auto v = r.convert("exitcodes", [](const std::string& s) { return parseExitCodes(s); }))
        pc.exitcodes = std::move(*v);
    if (auto v = r.convert("stopsignal", [](const std::string& s) {
            const int sig = parseSignal(s);
            if (sig < 0)
                throw std::invalid_argument("invalid value " + quote(s) +
                                            " (expected a signal name such as TERM, or a number)");
            return sig;
        }))
        pc.stopsignal = *v;
    pc.stopwaitsecs = int(r.integer("stopwaitsecs", pc.stopwaitsecs, 0, INT_MAX));
    pc.stopasgroup = r.boolean("stopasgroup", false);
    pc.killasgroup = r.boolean("killasgroup", pc.stopasgroup);
    if (pc.stopasgroup && !pc.killasgroup)
        r.fail("killasgroup", "cannot be false when stopasgroup is true");
    // [supervisord] user= is every program's user unless it names its own
    // (scopevisord stays root to manage the programs' scopes).
    pc.user = std::string(trim(r.get("user", r.loader().cfg.daemon.user)));
    pc.redirectStderr = r.boolean("redirect_stderr", false);
    pc.stdinBufferMax = r.bytes("stdin_buffer_max", pc.stdinBufferMax);
    if (pc.stdinBufferMax == 0)
        r.fail("stdin_buffer_max", "must be at least 1 byte");

    const LoadContext& ctx = r.loader().ctx;
    pc.stdoutLog = readLog(r, "stdout", ctx);
    pc.stderrLog = readLog(r, "stderr", ctx);
    if (pc.redirectStderr) {
        if (!pc.stderrLog.path.empty())
            r.warn("stderr_logfile", "ignored because redirect_stderr is true");
        pc.stderrLog.path.clear();
        pc.stderrLog.isAuto = false;
    }

    pc.directory = r.get("directory", "");
    pc.umask = r.octal("umask", -1, 0777);
    pc.serverurl = std::string(trim(r.get("serverurl", "AUTO")));
    if (pc.serverurl.empty() || lower(pc.serverurl) == "auto")
        pc.serverurl = "AUTO";

    // Taken as written, not %-expanded: these are scopevisor's keys, and
    // their percentages ("50%") would otherwise have to be written "50%%".
    for (const char* key : kResourceKeys) {
        if (const std::optional<std::string> v = r.raw(key)) {
            const std::string t(trim(*v));
            try {
                pc.resources[key] = parseResource(key, t);
            } catch (const std::invalid_argument& e) {
                r.fail(key, e.what());
            }
        }
    }
    return pc;
}

std::vector<ProcessConfig> processesOf(Loader& l, const Program& p, const std::string& group)
{
    Vars base = l.globals;
    base["program_name"] = p.name;
    base["group_name"] = group;
    SectionReader r(l, *p.section, base);
    l.warnUnknownKeys(*p.section, kProgramKeys);

    const long long numprocs = r.integer("numprocs", 1, 0, kMaxNumprocs);
    const long long start = r.integer("numprocs_start", 0, INT_MIN, INT_MAX - numprocs);
    const std::string rawName = r.raw("process_name").value_or("%(program_name)s");
    if (numprocs > 1 && rawName.find("%(process_num)") == std::string::npos)
        r.fail("process_name", "%(process_num) must be present within process_name when numprocs > 1");

    std::vector<ProcessConfig> out;
    for (long long num = start; num < start + numprocs; ++num) {
        r.vars() = base; // a process sees its own environment= only
        out.push_back(readProcess(r, p, group, rawName, num, numprocs));
    }
    return out;
}

std::string where(const SourceLoc& loc)
{
    return loc.file + ":" + std::to_string(loc.line);
}

} // namespace

void buildGroups(Loader& l)
{
    std::vector<Program> programs;
    std::map<std::string, size_t> byName;
    std::set<std::string> fcgiNames;
    for (const ini::Section& s : l.doc.sections()) {
        const size_t colon = s.name.find(':');
        if (colon == std::string::npos)
            continue;
        const std::string kind = s.name.substr(0, colon);
        if (kind == "fcgi-program")
            fcgiNames.insert(std::string(trim(s.name.substr(colon + 1))));
        if (kind != "program")
            continue;
        std::string name;
        try {
            name = checkName(s.name.substr(colon + 1));
        } catch (const std::invalid_argument& e) {
            throw ConfigError(s.loc, s.name, "", e.what());
        }
        if (const auto it = byName.find(name); it != byName.end())
            throw ConfigError(s.loc, s.name, "", "program " + quote(name) + " is also defined by [" +
                                                     programs[it->second].section->name + "] at " +
                                                     where(programs[it->second].section->loc));
        byName[name] = programs.size();
        programs.push_back(Program{&s, name});
    }

    struct GroupSpec {
        std::string name;
        int priority = 999;
        std::vector<size_t> members;
    };
    std::map<const ini::Section*, GroupSpec> specs;
    std::set<size_t> claimed;
    for (const ini::Section& s : l.doc.sections()) {
        if (!s.name.starts_with("group:"))
            continue;
        SectionReader r(l, s, l.globals);
        GroupSpec g;
        try {
            g.name = checkName(s.name.substr(6));
        } catch (const std::invalid_argument& e) {
            throw ConfigError(s.loc, s.name, "", e.what());
        }
        const std::optional<std::string> list = r.get("programs");
        if (!list)
            r.fail("programs", "missing (required)");
        for (size_t i = 0; i <= list->size();) {
            const size_t comma = std::min(list->find(',', i), list->size());
            const std::string member(trim(std::string_view(*list).substr(i, comma - i)));
            i = comma + 1;
            if (member.empty())
                continue;
            const auto it = byName.find(member);
            if (it == byName.end()) {
                if (!fcgiNames.count(member))
                    r.fail("programs", "names unknown program " + member);
                r.warn("programs", "names fcgi-program " + member + ", which is not supported; skipped");
                continue;
            }
            if (std::find(g.members.begin(), g.members.end(), it->second) != g.members.end())
                r.fail("programs", "names program " + member + " twice");
            g.members.push_back(it->second);
            claimed.insert(it->second);
        }
        if (g.members.empty())
            r.warn("programs", "names no program; the group is empty");
        g.priority = int(r.integer("priority", 999, INT_MIN, INT_MAX));
        static constexpr std::string_view kGroupKeys[] = {"programs", "priority"};
        l.warnUnknownKeys(s, kGroupKeys);
        specs[&s] = std::move(g);
    }

    // Groups in the order of their sections; the engine orders by priority.
    std::map<std::string, SourceLoc> groupLocs;
    size_t total = 0;
    auto addProcesses = [&](GroupConfig& g, const Program& p, const ini::Section& s) {
        std::vector<ProcessConfig> procs = processesOf(l, p, g.name);
        total += procs.size();
        if (total > kMaxProcesses)
            throw ConfigError(s.loc, s.name, "", "too many processes (more than " +
                                                     std::to_string(kMaxProcesses) + ")");
        std::move(procs.begin(), procs.end(), std::back_inserter(g.processes));
    };
    for (const ini::Section& s : l.doc.sections()) {
        GroupConfig g;
        g.loc = s.loc;
        if (const auto spec = specs.find(&s); spec != specs.end()) {
            g.name = spec->second.name;
            g.priority = spec->second.priority;
            g.fromGroupSection = true;
            for (size_t m : spec->second.members)
                addProcesses(g, programs[m], s);
        } else if (s.name.starts_with("program:")) {
            const size_t idx = byName.at(std::string(trim(std::string_view(s.name).substr(8))));
            if (claimed.count(idx))
                continue;
            g.name = programs[idx].name;
            addProcesses(g, programs[idx], s);
            // supervisord gives a program's own group the program's priority.
            if (!g.processes.empty()) {
                g.priority = g.processes.front().priority;
            } else {
                Vars vars = l.globals;
                vars["program_name"] = g.name;
                vars["group_name"] = g.name;
                SectionReader r(l, s, vars);
                g.priority = int(r.integer("priority", 999, INT_MIN, INT_MAX));
            }
        } else {
            continue;
        }

        if (const auto it = groupLocs.find(g.name); it != groupLocs.end())
            throw ConfigError(s.loc, s.name, "", "group name " + quote(g.name) +
                                                     " is also used by the section at " + where(it->second));
        groupLocs[g.name] = s.loc;
        std::set<std::string> names;
        for (const ProcessConfig& pc : g.processes)
            if (!names.insert(pc.name).second)
                throw ConfigError(pc.loc, s.name, "process_name",
                                  "two processes of group " + quote(g.name) + " are named " + quote(pc.name));
        l.cfg.groups.push_back(std::move(g));
    }
}

} // namespace scopevisor::config::detail
