// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The configuration loader: the INI syntax, every key and its default, the
// expansions, includes, groups, warnings and errors.
#include <gtest/gtest.h>

#include <climits>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "config.h"
#include "ini.h"

using namespace scopevisor::config;

namespace {

const std::string kFile = "/etc/sv/test.conf";

LoadContext testContext()
{
    LoadContext ctx;
    ctx.env = {{"HOME", "/home/u"}, {"PATH", "/usr/bin:/bin"}, {"LANG", "C.UTF-8"}};
    ctx.hostname = "node1";
    ctx.euid = 0;
    return ctx;
}

Config parseText(const std::string& text, const LoadContext& ctx = testContext())
{
    return parse(text, kFile, ctx);
}

// The one process of a config with a single one-process program.
ProcessConfig onlyProcess(const std::string& text)
{
    const Config c = parseText(text);
    EXPECT_EQ(c.groups.size(), 1u);
    EXPECT_EQ(c.groups.at(0).processes.size(), 1u);
    return c.groups.at(0).processes.at(0);
}

ProcessConfig program(const std::string& keys)
{
    return onlyProcess("[program:p]\ncommand=/bin/true\n" + keys + "\n");
}

// Parses `text`, expects a ConfigError and returns it.
ConfigError errorOf(const std::string& text, const LoadContext& ctx = testContext())
{
    try {
        parseText(text, ctx);
    } catch (const ConfigError& e) {
        return e;
    }
    ADD_FAILURE() << "no ConfigError for:\n" << text;
    return ConfigError({}, "", "", "");
}

// The error names the file and line, the section and the key.
void expectError(const std::string& text, int line, const std::string& section, const std::string& key,
                 const std::string& messagePart)
{
    const ConfigError e = errorOf(text);
    const std::string what = e.what();
    EXPECT_EQ(e.loc().file, kFile) << what;
    EXPECT_EQ(e.loc().line, line) << what;
    EXPECT_EQ(e.section(), section) << what;
    EXPECT_EQ(e.key(), key) << what;
    EXPECT_NE(what.find(kFile + ":" + std::to_string(line) + ": "), std::string::npos) << what;
    if (!section.empty()) {
        EXPECT_NE(what.find("[" + section + "]"), std::string::npos) << what;
    }
    if (!key.empty()) {
        EXPECT_NE(what.find(key + ": "), std::string::npos) << what;
    }
    EXPECT_NE(what.find(messagePart), std::string::npos) << what;
}

void expectProgramError(const std::string& keys, const std::string& key, const std::string& messagePart)
{
    // The bad key is on line 3.
    expectError("[program:p]\ncommand=/bin/true\n" + keys + "\n", 3, "program:p", key, messagePart);
}

bool hasWarning(const Config& c, int line, const std::string& part)
{
    for (const Diagnostic& d : c.warnings)
        if (d.loc.line == line && d.text().find(part) != std::string::npos)
            return true;
    return false;
}

std::string allWarnings(const Config& c)
{
    std::string r;
    for (const Diagnostic& d : c.warnings)
        r += d.text() + "\n";
    return r;
}

class TempDir {
public:
    TempDir()
    {
        std::string tmpl = (std::filesystem::temp_directory_path() / "scopevisor-config-XXXXXX").string();
        if (!::mkdtemp(tmpl.data()))
            throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string write(const std::string& rel, const std::string& text) const
    {
        const std::filesystem::path p = path_ / rel;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p.string();
    }
    std::string path() const { return path_.string(); }

private:
    std::filesystem::path path_;
};

} // namespace

// ---------------------------------------------------------------- INI syntax

TEST(Ini, KeysValuesAndDelimiters)
{
    const auto doc = ini::Document::parse("[s]\na = 1\nB: two\nc=x=y\nd: e:f\n  \n", "f");
    const ini::Section* s = doc.find("s");
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->find("a")->value, "1");
    EXPECT_EQ(s->find("b")->value, "two"); // keys are lower-cased
    EXPECT_EQ(s->find("c")->value, "x=y"); // the first delimiter ends the key
    EXPECT_EQ(s->find("d")->value, "e:f");
    EXPECT_EQ(s->find("b")->loc, (SourceLoc{"f", 3}));
}

TEST(Ini, Comments)
{
    const auto doc = ini::Document::parse("; full\n# full\n[s]\n"
                                          "a = 1 ; inline\n"
                                          "b = 2 # inline\n"
                                          "c = x;y\n"
                                          "d = http://h/#frag\n"
                                          "  ; indented comment\n",
                                          "f");
    const ini::Section* s = doc.find("s");
    EXPECT_EQ(s->find("a")->value, "1");
    EXPECT_EQ(s->find("b")->value, "2");
    EXPECT_EQ(s->find("c")->value, "x;y");
    EXPECT_EQ(s->find("d")->value, "http://h/#frag");
    EXPECT_EQ(s->entries.size(), 4u);
}

TEST(Ini, ContinuationLines)
{
    const auto doc = ini::Document::parse("[s]\n"
                                          "a = one\n"
                                          "  two\n"
                                          "\n"
                                          "\tthree ; comment\n"
                                          "b = x\n"
                                          "\n\n"
                                          "c = y\n",
                                          "f");
    const ini::Section* s = doc.find("s");
    EXPECT_EQ(s->find("a")->value, "one\ntwo\n\nthree");
    EXPECT_EQ(s->find("a")->loc.line, 2);
    EXPECT_EQ(s->find("b")->value, "x"); // trailing blank lines are not part of it
    EXPECT_EQ(s->find("c")->value, "y");
}

TEST(Ini, IndentedLineAfterHeaderIsAKey)
{
    const auto doc = ini::Document::parse("[s]\n  a = 1\n", "f");
    EXPECT_EQ(doc.find("s")->find("a")->value, "1");
}

TEST(Ini, DuplicateSectionsMergeAndKeysLastWins)
{
    const auto doc = ini::Document::parse("[s]\na=1\nb=2\n[t]\n[s]\na=3\n", "f");
    ASSERT_EQ(doc.sections().size(), 2u);
    const ini::Section* s = doc.find("s");
    EXPECT_EQ(s->loc.line, 1);
    EXPECT_EQ(s->find("a")->value, "3");
    EXPECT_EQ(s->find("a")->loc.line, 6);
    EXPECT_EQ(s->find("b")->value, "2");
}

TEST(Ini, MergeOfAnotherFile)
{
    auto doc = ini::Document::parse("[s]\na=1\n", "one");
    doc.merge(ini::Document::parse("[s]\na=2\nb=3\n[t]\nc=4\n", "two"));
    EXPECT_EQ(doc.find("s")->find("a")->value, "2");
    EXPECT_EQ(doc.find("s")->find("a")->loc.file, "two");
    EXPECT_EQ(doc.find("s")->loc.file, "one");
    EXPECT_EQ(doc.find("t")->find("c")->value, "4");
}

TEST(Ini, AccessKeysContainColonsAndKeepCase)
{
    const auto doc = ini::Document::parse("[access]\nkhanat:Client = operator\nx:y=admin\n", "f");
    const ini::Section* s = doc.find("access");
    ASSERT_EQ(s->entries.size(), 2u);
    EXPECT_EQ(s->entries[0].key, "khanat:Client");
    EXPECT_EQ(s->entries[0].value, "operator");
    EXPECT_EQ(s->entries[1].key, "x:y");
}

TEST(Ini, LineEndingsAndHeaders)
{
    const auto doc = ini::Document::parse("[a] trailing\r\nk=v\r\n[b]x]\rk2=v2", "f");
    EXPECT_EQ(doc.find("a")->find("k")->value, "v");
    EXPECT_EQ(doc.find("b]x")->find("k2")->value, "v2");
    EXPECT_EQ(doc.find("b]x")->find("k2")->loc.line, 4);
}

TEST(Ini, Errors)
{
    try {
        ini::Document::parse("; c\nk = v\n", "f.conf");
        FAIL();
    } catch (const ConfigError& e) {
        EXPECT_EQ(e.loc(), (SourceLoc{"f.conf", 2}));
        EXPECT_NE(std::string(e.what()).find("f.conf:2: "), std::string::npos);
    }
    try {
        ini::Document::parse("[s]\na=1\njunk line\n", "f.conf");
        FAIL();
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()).substr(0, 15), "f.conf:3: [s] c");
        EXPECT_NE(std::string(e.what()).find("'junk line'"), std::string::npos);
    }
    EXPECT_THROW(ini::Document::parse("[s]\n= value\n", "f"), ConfigError);
    EXPECT_THROW(ini::Document::parse("[]\n", "f"), ConfigError);
    // In [access] only '=' delimits.
    EXPECT_THROW(ini::Document::parse("[access]\nkhanat:client\n", "f"), ConfigError);
}

// ------------------------------------------------------------ program keys

TEST(Program, Defaults)
{
    const ProcessConfig p = onlyProcess("[program:web]\ncommand=/usr/bin/web --port 80\n");
    EXPECT_EQ(p.name, "web");
    EXPECT_EQ(p.group, "web");
    EXPECT_EQ(p.programName, "web");
    EXPECT_EQ(p.namespec(), "web");
    EXPECT_EQ(p.processNum, 0);
    EXPECT_EQ(p.command, "/usr/bin/web --port 80");
    EXPECT_EQ(p.argv, (std::vector<std::string>{"/usr/bin/web", "--port", "80"}));
    EXPECT_EQ(p.priority, 999);
    EXPECT_TRUE(p.autostart);
    EXPECT_EQ(p.startsecs, 1);
    EXPECT_EQ(p.startretries, 3);
    EXPECT_FALSE(p.startretriesInfinite);
    EXPECT_EQ(p.backoffMax, 0);
    EXPECT_EQ(p.autorestart, AutoRestart::Unexpected);
    EXPECT_EQ(p.exitcodes, std::vector<int>{0});
    EXPECT_EQ(p.stopsignal, SIGTERM);
    EXPECT_EQ(p.stopwaitsecs, 10);
    EXPECT_FALSE(p.stopasgroup);
    EXPECT_FALSE(p.killasgroup);
    EXPECT_EQ(p.user, "");
    EXPECT_FALSE(p.redirectStderr);
    for (const LogFileConfig* lf : {&p.stdoutLog, &p.stderrLog}) {
        EXPECT_TRUE(lf->isAuto);
        EXPECT_EQ(lf->path, "");
        EXPECT_EQ(lf->maxBytes, 50u * 1024 * 1024);
        EXPECT_EQ(lf->backups, 10);
        EXPECT_EQ(lf->captureMaxBytes, 0u);
        EXPECT_FALSE(lf->eventsEnabled);
        EXPECT_FALSE(lf->syslog);
    }
    EXPECT_TRUE(p.environment.empty());
    EXPECT_EQ(p.directory, "");
    EXPECT_EQ(p.umask, -1);
    EXPECT_EQ(p.serverurl, "AUTO");
    EXPECT_TRUE(p.resources.empty());
    EXPECT_EQ(p.loc, (SourceLoc{kFile, 1}));
}

TEST(Program, EveryKey)
{
    const ProcessConfig p = onlyProcess(R"([program:theprogramname]
command=/bin/cat              ; the program (relative uses PATH, can take args)
process_name=%(program_name)s ; process_name expr (default %(program_name)s)
numprocs=1                    ; number of processes copies to start (def 1)
directory=/tmp                ; directory to cwd to before exec (def no cwd)
umask=022                     ; umask for process (default None)
priority=998                  ; the relative start priority (default 999)
autostart=false               ; start at supervisord start (default: true)
startsecs=5                   ; # of secs prog must stay up to be running (def. 1)
startretries=7                ; max # of serial start failures when starting (default 3)
autorestart=true              ; when to restart if exited after running (def: unexpected)
exitcodes=0,2                 ; 'expected' exit codes used with autorestart (default 0)
stopsignal=QUIT               ; signal used to kill process (default TERM)
stopwaitsecs=30               ; max num secs to wait b4 SIGKILL (default 10)
stopasgroup=true              ; send stop signal to the UNIX process group (default false)
killasgroup=true              ; SIGKILL the UNIX process group (def false)
user=chrism                   ; setuid to this UNIX account to run the program
redirect_stderr=false         ; redirect proc stderr to stdout (default false)
stdout_logfile=/a/path        ; stdout log path, NONE for none; default AUTO
stdout_logfile_maxbytes=1MB   ; max # logfile bytes b4 rotation (default 50MB)
stdout_logfile_backups=3      ; # of stdout logfile backups (0 means none, default 10)
stdout_capture_maxbytes=1KB   ; number of bytes in 'capturemode' (default 0)
stdout_events_enabled=true    ; emit events on stdout writes (default false)
stdout_syslog=yes             ; send stdout to syslog with process name (default false)
stderr_logfile=/b/path        ; stderr log path, NONE for none; default AUTO
stderr_logfile_maxbytes=0     ; max # logfile bytes b4 rotation (default 50MB)
stderr_logfile_backups=0      ; # of stderr logfile backups (0 means none, default 10)
stderr_capture_maxbytes=2MB   ; number of bytes in 'capturemode' (default 0)
stderr_events_enabled=On      ; emit events on stderr writes (default false)
stderr_syslog=1               ; send stderr to syslog with process name (default false)
environment=A="1",B="2"       ; process environment additions (def no adds)
serverurl=http://127.0.0.1:9001 ; override serverurl computation (childutils)
)");
    EXPECT_EQ(p.name, "theprogramname");
    EXPECT_EQ(p.argv, std::vector<std::string>{"/bin/cat"});
    EXPECT_EQ(p.directory, "/tmp");
    EXPECT_EQ(p.umask, 022);
    EXPECT_EQ(p.priority, 998);
    EXPECT_FALSE(p.autostart);
    EXPECT_EQ(p.startsecs, 5);
    EXPECT_EQ(p.startretries, 7);
    EXPECT_EQ(p.autorestart, AutoRestart::True);
    EXPECT_EQ(p.exitcodes, (std::vector<int>{0, 2}));
    EXPECT_EQ(p.stopsignal, SIGQUIT);
    EXPECT_EQ(p.stopwaitsecs, 30);
    EXPECT_TRUE(p.stopasgroup);
    EXPECT_TRUE(p.killasgroup);
    EXPECT_EQ(p.user, "chrism");
    EXPECT_FALSE(p.redirectStderr);
    EXPECT_EQ(p.stdoutLog, (LogFileConfig{"/a/path", false, 1024 * 1024, 3, 1024, true, true}));
    EXPECT_EQ(p.stderrLog, (LogFileConfig{"/b/path", false, 0, 0, 2 * 1024 * 1024, true, true}));
    EXPECT_EQ(p.environment, (std::vector<std::pair<std::string, std::string>>{{"A", "1"}, {"B", "2"}}));
    EXPECT_EQ(p.serverurl, "http://127.0.0.1:9001");
}

TEST(Program, ScopevisorKeys)
{
    const ProcessConfig p = program("startretries = Infinite\nbackoff_max = 60\n"
                                    "memory_max = 512M\nmemory_high = 80%\ncpu_weight = 200\n"
                                    "cpu_quota = 150%\ntasks_max = infinity\nio_weight = 1");
    EXPECT_TRUE(p.startretriesInfinite);
    EXPECT_EQ(p.startretries, INT_MAX); // for readers that only look at the count
    EXPECT_EQ(p.backoffMax, 60);
    // Converted at load time to the scope properties (config_resources.h).
    EXPECT_EQ(p.resources, (std::map<std::string, ResourceProperty>{
                               {"memory_max", {"MemoryMax", uint64_t(512) << 20}},
                               {"memory_high", {"MemoryHighScale", uint32_t(3435973836u)}},
                               {"cpu_weight", {"CPUWeight", uint64_t(200)}},
                               {"cpu_quota", {"CPUQuotaPerSecUSec", uint64_t(1'500'000)}},
                               {"tasks_max", {"TasksMax", UINT64_MAX}},
                               {"io_weight", {"IOWeight", uint64_t(1)}}}));
    EXPECT_EQ(program("memory_max=infinity\ntasks_max=50%").resources.at("tasks_max"),
              (ResourceProperty{"TasksMaxScale", uint32_t(2147483648u)}));
    EXPECT_EQ(program("memory_max=1073741824").resources.at("memory_max"),
              (ResourceProperty{"MemoryMax", uint64_t(1) << 30}));
    EXPECT_EQ(program("memory_max = 1.5G ").resources.at("memory_max"),
              (ResourceProperty{"MemoryMax", uint64_t(3) << 29}));
}

TEST(Program, Booleans)
{
    for (const char* t : {"true", "TRUE", "yes", "Yes", "on", "1"})
        EXPECT_TRUE(program(std::string("stopasgroup=") + t).stopasgroup) << t;
    for (const char* f : {"false", "False", "no", "NO", "off", "0"})
        EXPECT_FALSE(program(std::string("autostart=") + f).autostart) << f;
}

TEST(Program, AutorestartValues)
{
    EXPECT_EQ(program("autorestart=unexpected").autorestart, AutoRestart::Unexpected);
    EXPECT_EQ(program("autorestart=UNEXPECTED").autorestart, AutoRestart::Unexpected);
    EXPECT_EQ(program("autorestart=yes").autorestart, AutoRestart::True);
    EXPECT_EQ(program("autorestart=off").autorestart, AutoRestart::False);
}

TEST(Program, KillasgroupFollowsStopasgroup)
{
    EXPECT_TRUE(program("stopasgroup=true").killasgroup);
    const ProcessConfig p = program("killasgroup=true");
    EXPECT_TRUE(p.killasgroup);
    EXPECT_FALSE(p.stopasgroup);
}

TEST(Program, Signals)
{
    EXPECT_EQ(program("stopsignal=KILL").stopsignal, SIGKILL);
    EXPECT_EQ(program("stopsignal=SIGhup").stopsignal, SIGHUP);
    EXPECT_EQ(program("stopsignal=int").stopsignal, SIGINT);
    EXPECT_EQ(program("stopsignal=10").stopsignal, 10);
}

TEST(Program, Logfiles)
{
    ProcessConfig p = program("stdout_logfile=NONE\nstderr_logfile=off");
    EXPECT_EQ(p.stdoutLog.path, "");
    EXPECT_FALSE(p.stdoutLog.isAuto);
    EXPECT_EQ(p.stderrLog.path, "");
    EXPECT_FALSE(p.stderrLog.isAuto);

    p = program("stdout_logfile=auto");
    EXPECT_TRUE(p.stdoutLog.isAuto);

    p = program("stdout_logfile=~/logs/p.log\nstderr_logfile=");
    EXPECT_EQ(p.stdoutLog.path, "/home/u/logs/p.log");
    EXPECT_EQ(p.stderrLog.path, "");
    EXPECT_FALSE(p.stderrLog.isAuto);

    const Config c = parseText("[program:p]\ncommand=x\nstdout_logfile=syslog\n");
    p = c.groups[0].processes[0];
    EXPECT_TRUE(p.stdoutLog.syslog);
    EXPECT_EQ(p.stdoutLog.path, "");
    EXPECT_FALSE(p.stdoutLog.isAuto);
    EXPECT_TRUE(hasWarning(c, 3, "deprecated")) << allWarnings(c);
}

TEST(Program, AutoLogWithoutRotationWarns)
{
    const Config c = parseText("[program:p]\ncommand=x\nstdout_logfile_maxbytes=0\n");
    EXPECT_TRUE(hasWarning(c, 1, "stdout_logfile: AUTO log file without rotation")) << allWarnings(c);
}

TEST(Program, RedirectStderr)
{
    const Config c = parseText("[program:p]\ncommand=x\nredirect_stderr=true\nstderr_logfile=/var/log/e.log\n");
    const ProcessConfig& p = c.groups[0].processes[0];
    EXPECT_TRUE(p.redirectStderr);
    EXPECT_EQ(p.stderrLog.path, "");
    EXPECT_FALSE(p.stderrLog.isAuto);
    EXPECT_TRUE(p.stdoutLog.isAuto);
    EXPECT_TRUE(hasWarning(c, 4, "[program:p] stderr_logfile: ignored because redirect_stderr is true"))
        << allWarnings(c);

    const Config quiet = parseText("[program:p]\ncommand=x\nredirect_stderr=true\n");
    EXPECT_TRUE(quiet.warnings.empty()) << allWarnings(quiet);
    EXPECT_FALSE(quiet.groups[0].processes[0].stderrLog.isAuto);
}

TEST(Program, ByteSizes)
{
    EXPECT_EQ(program("stdout_logfile_maxbytes=50MB").stdoutLog.maxBytes, 50u << 20);
    EXPECT_EQ(program("stdout_logfile_maxbytes=1KB").stdoutLog.maxBytes, 1024u);
    EXPECT_EQ(program("stdout_logfile_maxbytes=1gb").stdoutLog.maxBytes, 1u << 30);
    EXPECT_EQ(program("stdout_logfile_maxbytes=1234").stdoutLog.maxBytes, 1234u);
}

TEST(Program, Environment)
{
    const ProcessConfig p = program("environment=KEY=\"val\",KEY2='val 2',KEY3=plain,\n"
                                    "  PATH=\"/opt/bin:%(ENV_PATH)s\",URL=http://h:80/x");
    EXPECT_EQ(p.environment, (std::vector<std::pair<std::string, std::string>>{
                                 {"KEY", "val"},
                                 {"KEY2", "val 2"},
                                 {"KEY3", "plain"},
                                 {"PATH", "/opt/bin:/usr/bin:/bin"},
                                 {"URL", "http://h:80/x"}}));
    EXPECT_EQ(program("environment=A=\"a,b\",A=2").environment,
              (std::vector<std::pair<std::string, std::string>>{{"A", "2"}}));
    EXPECT_TRUE(program("environment=").environment.empty());
}

TEST(Program, EnvironmentDroppedTextWarns)
{
    // supervisord reads A=x and skips "y"; so do we, but not silently.
    const Config c = parseText("[program:p]\ncommand=x\nenvironment=A=x y\n");
    EXPECT_EQ(c.groups[0].processes[0].environment,
              (std::vector<std::pair<std::string, std::string>>{{"A", "x"}}));
    EXPECT_TRUE(hasWarning(c, 3, "environment: in environment, 'y'")) << allWarnings(c);
}

TEST(Program, Errors)
{
    expectProgramError("autorestart=maybe", "autorestart",
                       "invalid value 'maybe' (expected true, false or unexpected)");
    expectProgramError("autostart=maybe", "autostart", "invalid value 'maybe' (expected true or false)");
    expectProgramError("stopasgroup=2", "stopasgroup", "expected true or false");
    expectProgramError("killasgroup=x", "killasgroup", "expected true or false");
    expectProgramError("redirect_stderr=x", "redirect_stderr", "expected true or false");
    expectProgramError("stdout_events_enabled=x", "stdout_events_enabled", "expected true or false");
    expectProgramError("stderr_syslog=x", "stderr_syslog", "expected true or false");
    expectProgramError("priority=high", "priority", "invalid value 'high' (expected an integer)");
    expectProgramError("startsecs=-1", "startsecs", "expected a non-negative integer");
    expectProgramError("startretries=many", "startretries", "expected a non-negative integer or infinite");
    expectProgramError("stopwaitsecs=1.5", "stopwaitsecs", "invalid value '1.5'");
    expectProgramError("backoff_max=-5", "backoff_max", "expected a non-negative integer");
    expectProgramError("numprocs=-1", "numprocs", "invalid value '-1'");
    expectProgramError("numprocs=100000", "numprocs", "from 0 to 10000");
    expectProgramError("numprocs_start=x", "numprocs_start", "invalid value 'x'");
    expectProgramError("exitcodes=0,256", "exitcodes", "exit codes from 0 to 255");
    expectProgramError("exitcodes=0,", "exitcodes", "exit codes");
    expectProgramError("stopsignal=FOO", "stopsignal", "invalid value 'FOO' (expected a signal name");
    expectProgramError("stopsignal=0", "stopsignal", "invalid value '0'");
    expectProgramError("umask=999", "umask", "expected an octal number");
    expectProgramError("stdout_logfile_maxbytes=lots", "stdout_logfile_maxbytes", "expected a byte size");
    expectProgramError("stderr_logfile_backups=-1", "stderr_logfile_backups", "non-negative");
    expectProgramError("stdout_capture_maxbytes=1XB", "stdout_capture_maxbytes", "byte size");
    expectProgramError("environment=A=\"x", "environment", "no closing quotation");
    expectProgramError("environment=A", "environment", "malformed environment 'A'");
    expectProgramError("environment=A=1,B", "environment", "expected KEY=value pairs");
    expectProgramError("process_name=a b", "process_name", "invalid name 'a b'");
    expectProgramError("process_name=a:b", "process_name", "invalid name");
    expectProgramError("process_name=%(program_name)s/x", "process_name", "invalid name 'p/x'");
    expectProgramError("memory_max=lots", "memory_max", "invalid value 'lots'");
    expectProgramError("memory_max=512m", "memory_max", "K, M, G, T, P or E suffix");
    expectProgramError("memory_high=120%", "memory_high", "a percentage up to 100%");
    expectProgramError("memory_max=16E", "memory_max", "invalid value '16E' (expected bytes");
    expectProgramError("memory_max=17179869184G", "memory_max", "less than 16E");
    expectProgramError("memory_max=18446744073709551616", "memory_max", "less than 16E");
    expectProgramError("memory_max=%(ENV_MEM)s", "memory_max", "invalid value '%(ENV_MEM)s'");
    expectProgramError("cpu_weight=0", "cpu_weight", "from 1 to 10000");
    expectProgramError("cpu_weight=10001", "cpu_weight", "from 1 to 10000");
    expectProgramError("io_weight=x", "io_weight", "from 1 to 10000");
    expectProgramError("cpu_quota=50", "cpu_quota", "invalid value '50' (expected a percentage above 0");
    expectProgramError("cpu_quota=0%", "cpu_quota", "invalid value '0%' (expected a percentage above 0");
    expectProgramError("tasks_max=0", "tasks_max", "invalid value '0' (expected a positive integer");
    expectProgramError("tasks_max=101%", "tasks_max", "a percentage up to 100%");
    expectProgramError("command=/bin/sh -c 'x", "command", "no closing quotation");
    expectProgramError("command=", "command", "empty command");
}

TEST(Program, ErrorTextFormat)
{
    const ConfigError e = errorOf("[program:web]\ncommand=x\nautorestart=maybe\n");
    EXPECT_STREQ(e.what(), "/etc/sv/test.conf:3: [program:web] autorestart: invalid value 'maybe' "
                           "(expected true, false or unexpected)");
    EXPECT_EQ(e.message(), "invalid value 'maybe' (expected true, false or unexpected)");
}

TEST(Program, MissingCommand)
{
    expectError("[program:x]\nautostart=true\n", 1, "program:x", "command",
                "program section program:x does not specify a command");
}

TEST(Program, StopasgroupWithoutKillasgroup)
{
    expectError("[program:p]\ncommand=x\nstopasgroup=true\nkillasgroup=false\n", 4, "program:p", "killasgroup",
                "cannot be false when stopasgroup is true");
}

TEST(Program, InvalidProgramNames)
{
    expectError("[program:a b]\ncommand=x\n", 1, "program:a b", "", "invalid name 'a b'");
    expectError("[program:]\ncommand=x\n", 1, "program:", "", "empty name");
    expectError("[program:a/b]\ncommand=x\n", 1, "program:a/b", "", "invalid name");
}

TEST(Program, CommandSplitting)
{
    EXPECT_EQ(program("command=/bin/sh -c \"echo 'a b' \\\"q\\\"\"").argv,
              (std::vector<std::string>{"/bin/sh", "-c", "echo 'a b' \"q\""}));
    EXPECT_EQ(program("command=a\\ b '' c").argv, (std::vector<std::string>{"a b", "", "c"}));
}

// ---------------------------------------------------------------- expansion

TEST(Expansion, ProgramNames)
{
    const Config c = parseText("[program:web]\n"
                               "command=/bin/%(program_name)s --group %(group_name)s --n %(numprocs)d "
                               "--host %(host_node_name)s --home %(ENV_HOME)s --here %(here)s\n");
    EXPECT_EQ(c.groups[0].processes[0].command,
              "/bin/web --group web --n 1 --host node1 --home /home/u --here /etc/sv");
}

TEST(Expansion, PercentAndFormats)
{
    EXPECT_EQ(program("command=date +%%s").command, "date +%s");
    EXPECT_EQ(program("command=x %(process_num)02d %(process_num)#x %(program_name)-3s| %(program_name).0s|")
                  .command,
              "x 00 0x0 p  | |");
    EXPECT_EQ(program("numprocs_start=255\ncommand=x %(process_num)X %(process_num)+d %(process_num)05.3d")
                  .command,
              "x FF +255 00255");
}

TEST(Expansion, UnknownName)
{
    const ConfigError e = errorOf("[program:p]\ncommand=x\ndirectory=/srv/%(nope)s\n");
    const std::string what = e.what();
    EXPECT_EQ(e.loc().line, 3);
    EXPECT_EQ(e.key(), "directory");
    EXPECT_NE(what.find("%(nope)"), std::string::npos) << what;
    EXPECT_NE(what.find("available names: ENV_HOME, ENV_LANG, ENV_PATH, group_name, here, "
                        "host_node_name, numprocs, process_num, program_name"),
              std::string::npos)
        << what;
}

TEST(Expansion, BadFormats)
{
    expectProgramError("directory=/srv/%s", "directory", "unnamed conversion '%s'");
    expectProgramError("directory=50%", "directory", "incomplete format");
    expectProgramError("directory=%(program_name", "directory", "unterminated");
    expectProgramError("directory=%(program_name)d", "directory", "needs a number");
    expectProgramError("directory=%(process_num)q", "directory", "unsupported format character 'q'");
    expectProgramError("directory=%(process_num)99999d", "directory", "too large");
}

TEST(Expansion, ProgramEnvironmentIsUsableInLaterKeys)
{
    const ProcessConfig p = program("environment=APP_HOME=/opt/app\n"
                                    "directory=%(ENV_APP_HOME)s\n"
                                    "stdout_logfile=%(ENV_APP_HOME)s/out.log");
    EXPECT_EQ(p.directory, "/opt/app");
    EXPECT_EQ(p.stdoutLog.path, "/opt/app/out.log");
    EXPECT_EQ(program("command=%(ENV_X)s\nenvironment=X=/bin/x").argv[0], "/bin/x");
}

TEST(Expansion, SupervisordEnvironmentIsUsableEverywhere)
{
    const Config c = parseText("[supervisord]\nenvironment=BASE=/srv,HOME=/root\nchildlogdir=%(ENV_BASE)s/log\n"
                               "[program:p]\ncommand=%(ENV_BASE)s/bin/p %(ENV_HOME)s\n");
    EXPECT_EQ(c.daemon.environment,
              (std::vector<std::pair<std::string, std::string>>{{"BASE", "/srv"}, {"HOME", "/root"}}));
    EXPECT_EQ(c.daemon.childlogdir, "/srv/log");
    EXPECT_EQ(c.groups[0].processes[0].command, "/srv/bin/p /root");
}

TEST(Expansion, ProcessNamesAreNotAvailableOutsidePrograms)
{
    expectError("[supervisord]\nlogfile=%(program_name)s.log\n", 2, "supervisord", "logfile",
                "unknown name");
}

// ---------------------------------------------------------------- numprocs

TEST(Numprocs, NamingAndPerProcessValues)
{
    const Config c = parseText("[program:worker]\n"
                               "command=/bin/worker --id %(process_num)d\n"
                               "process_name=%(program_name)s_%(process_num)02d\n"
                               "numprocs=3\nnumprocs_start=8\npriority=5\n"
                               "environment=ID=%(process_num)d\n"
                               "stdout_logfile=/var/log/w-%(process_num)d.log\n");
    ASSERT_EQ(c.groups.size(), 1u);
    const GroupConfig& g = c.groups[0];
    EXPECT_EQ(g.name, "worker");
    EXPECT_EQ(g.priority, 5);
    EXPECT_FALSE(g.fromGroupSection);
    ASSERT_EQ(g.processes.size(), 3u);
    const char* names[] = {"worker_08", "worker_09", "worker_10"};
    for (int i = 0; i < 3; ++i) {
        const ProcessConfig& p = g.processes[size_t(i)];
        EXPECT_EQ(p.name, names[i]);
        EXPECT_EQ(p.namespec(), std::string("worker:") + names[i]);
        EXPECT_EQ(p.processNum, 8 + i);
        EXPECT_EQ(p.argv.back(), std::to_string(8 + i));
        EXPECT_EQ(p.environment.at(0).second, std::to_string(8 + i));
        EXPECT_EQ(p.stdoutLog.path, "/var/log/w-" + std::to_string(8 + i) + ".log");
    }
}

TEST(Numprocs, ProcessNameMustUseProcessNum)
{
    expectError("[program:w]\ncommand=x\nnumprocs=2\n", 1, "program:w", "process_name",
                "%(process_num) must be present within process_name when numprocs > 1");
    expectError("[program:w]\ncommand=x\nnumprocs=2\nprocess_name=w\n", 4, "program:w", "process_name",
                "%(process_num) must be present");
}

TEST(Numprocs, DuplicateNamesAreAnError)
{
    expectError("[program:w]\ncommand=x\nnumprocs=2\nprocess_name=w%(process_num).0s\n", 1, "program:w",
                "process_name", "two processes of group 'w' are named 'w'");
}

TEST(Numprocs, ZeroMakesAnEmptyGroup)
{
    const Config c = parseText("[program:w]\ncommand=x\nnumprocs=0\npriority=3\n");
    ASSERT_EQ(c.groups.size(), 1u);
    EXPECT_TRUE(c.groups[0].processes.empty());
    EXPECT_EQ(c.groups[0].priority, 3);
}

// ------------------------------------------------------------------- groups

TEST(Groups, GroupSection)
{
    const Config c = parseText("[program:a]\ncommand=a\npriority=10\n"
                               "[program:b]\ncommand=b\n"
                               "[group:g]\nprograms=a, b\npriority=100\n"
                               "[program:c]\ncommand=c\npriority=7\n");
    ASSERT_EQ(c.groups.size(), 2u);
    const GroupConfig& g = c.groups[0];
    EXPECT_EQ(g.name, "g");
    EXPECT_EQ(g.priority, 100);
    EXPECT_TRUE(g.fromGroupSection);
    EXPECT_EQ(g.loc.line, 6);
    ASSERT_EQ(g.processes.size(), 2u);
    EXPECT_EQ(g.processes[0].namespec(), "g:a");
    EXPECT_EQ(g.processes[0].priority, 10); // processes keep their own priority
    EXPECT_EQ(g.processes[1].namespec(), "g:b");
    EXPECT_EQ(g.processes[1].programName, "b");
    EXPECT_EQ(c.groups[1].name, "c");
    EXPECT_EQ(c.groups[1].priority, 7);
    EXPECT_EQ(c.findGroup("g"), &c.groups[0]);
    EXPECT_EQ(c.findGroup("a"), nullptr);
    EXPECT_EQ(c.findGroup("c"), &c.groups[1]);
}

TEST(Groups, GroupNameInProgramExpansions)
{
    const Config c = parseText("[group:g]\nprograms=a\n[program:a]\ncommand=run %(group_name)s %(program_name)s\n");
    EXPECT_EQ(c.groups.at(0).processes.at(0).command, "run g a");
}

TEST(Groups, Errors)
{
    expectError("[group:g]\nprograms=a,nope\n[program:a]\ncommand=x\n", 2, "group:g", "programs",
                "names unknown program nope");
    expectError("[group:g]\npriority=1\n", 1, "group:g", "programs", "missing (required)");
    expectError("[group:g]\nprograms=a,a\n[program:a]\ncommand=x\n", 2, "group:g", "programs",
                "names program a twice");
    expectError("[group:g]\nprograms=a\npriority=x\n[program:a]\ncommand=x\n", 3, "group:g", "priority",
                "invalid value 'x'");
    expectError("[program:g]\ncommand=x\n[group:g]\nprograms=a\n[program:a]\ncommand=x\n", 3, "group:g", "",
                "group name 'g' is also used");
    expectError("[group:a b]\nprograms=a\n", 1, "group:a b", "", "invalid name");
}

TEST(Groups, FcgiProgramsAreSkippedWithAWarning)
{
    const Config c = parseText("[fcgi-program:f]\nsocket=tcp://localhost:9002\ncommand=x\n"
                               "[group:g]\nprograms=f\n");
    ASSERT_EQ(c.groups.size(), 1u);
    EXPECT_TRUE(c.groups[0].processes.empty());
    EXPECT_TRUE(hasWarning(c, 1, "FastCGI programs are not supported")) << allWarnings(c);
    EXPECT_TRUE(hasWarning(c, 5, "names fcgi-program f")) << allWarnings(c);
}

TEST(Groups, LoadOrder)
{
    const Config c = parseText("[program:z]\ncommand=x\npriority=1\n[program:a]\ncommand=x\n"
                               "[program:m]\ncommand=x\npriority=-5\n");
    ASSERT_EQ(c.groups.size(), 3u);
    EXPECT_EQ(c.groups[0].name, "z");
    EXPECT_EQ(c.groups[1].name, "a");
    EXPECT_EQ(c.groups[2].name, "m");
    EXPECT_EQ(c.groups[2].priority, -5);
}

// ---------------------------------------------------------------- includes

TEST(Include, GlobsRelativeToTheIncludingFile)
{
    TempDir dir;
    const std::string main = dir.write("etc/main.conf", "[supervisord]\n"
                                                        "[include]\n"
                                                        "files = conf.d/*.conf\n"
                                                        "  extra.ini nothing/*.conf\n"
                                                        "[program:main]\ncommand=%(here)s/main\n");
    dir.write("etc/conf.d/b.conf", "[program:b]\ncommand=%(here)s/b\n");
    dir.write("etc/conf.d/a.conf", "[program:a]\ncommand=/a\n[program:main]\npriority=1\n");
    dir.write("etc/conf.d/ignored.txt", "junk");
    dir.write("etc/extra.ini", "[group:g]\nprograms=b\n");
    const Config c = load(main, testContext());
    const std::string etc = dir.path() + "/etc";
    EXPECT_EQ(c.path, main);
    EXPECT_EQ(c.files, (std::vector<std::string>{main, etc + "/conf.d/a.conf", etc + "/conf.d/b.conf",
                                                 etc + "/extra.ini"}));
    // Section order: the main file's, then new sections in file order.
    ASSERT_EQ(c.groups.size(), 3u);
    EXPECT_EQ(c.groups[0].name, "main");
    EXPECT_EQ(c.groups[0].priority, 1); // merged from a.conf
    EXPECT_EQ(c.groups[0].processes[0].command, etc + "/main");
    EXPECT_EQ(c.groups[1].name, "a");
    EXPECT_EQ(c.groups[2].name, "g");
    EXPECT_EQ(c.groups[2].processes[0].command, etc + "/conf.d/b");
    EXPECT_EQ(c.groups[2].processes[0].loc, (SourceLoc{etc + "/conf.d/b.conf", 1}));
    EXPECT_TRUE(hasWarning(c, 3, "no file matches '" + etc + "/nothing/*.conf'")) << allWarnings(c);
    EXPECT_EQ(c.warnings.size(), 1u) << allWarnings(c);
}

TEST(Include, AbsolutePatternsAndErrorsInIncludedFiles)
{
    TempDir dir;
    dir.write("inc/bad.conf", "[program:bad]\ncommand=x\nautostart=perhaps\n");
    const std::string main = dir.write("main.conf", "[include]\nfiles=" + dir.path() + "/inc/*.conf\n");
    try {
        load(main, testContext());
        FAIL();
    } catch (const ConfigError& e) {
        EXPECT_EQ(e.loc(), (SourceLoc{dir.path() + "/inc/bad.conf", 3}));
        EXPECT_EQ(e.key(), "autostart");
    }
}

TEST(Include, IncludesOfIncludedFilesAreNotFollowed)
{
    TempDir dir;
    dir.write("one.conf", "[program:one]\ncommand=x\n[include]\nfiles=two.conf\n");
    dir.write("two.conf", "[program:two]\ncommand=x\n");
    const std::string main = dir.write("main.conf", "[include]\nfiles=one.conf\n");
    const Config c = load(main, testContext());
    ASSERT_EQ(c.groups.size(), 1u);
    EXPECT_EQ(c.groups[0].name, "one");
    ASSERT_EQ(c.warnings.size(), 1u);
    EXPECT_EQ(c.warnings[0].loc, (SourceLoc{dir.path() + "/one.conf", 3}));
    EXPECT_NE(c.warnings[0].message.find("not followed"), std::string::npos);
}

TEST(Include, SyntaxErrorInIncludedFile)
{
    TempDir dir;
    dir.write("conf.d/x.conf", "[program:x]\ncommand=x\nthis is not ini\n");
    const std::string main = dir.write("main.conf", "[include]\nfiles=conf.d/*.conf\n");
    try {
        load(main, testContext());
        FAIL();
    } catch (const ConfigError& e) {
        EXPECT_EQ(e.loc(), (SourceLoc{dir.path() + "/conf.d/x.conf", 3}));
    }
}

TEST(Include, DirectoriesAreSkipped)
{
    TempDir dir;
    dir.write("conf.d/sub/x.conf", "[program:x]\ncommand=x\n");
    const std::string main = dir.write("main.conf", "[include]\nfiles=conf.d/*\n");
    const Config c = load(main, testContext());
    EXPECT_TRUE(c.groups.empty());
    EXPECT_TRUE(hasWarning(c, 2, "is a directory")) << allWarnings(c);
}

TEST(Include, MissingFilesKey)
{
    expectError("[include]\nfile=x\n", 1, "include", "files", "missing (required)");
}

TEST(Include, NotReadWhenDisabled)
{
    LoadContext ctx = testContext();
    ctx.readIncludes = false;
    const Config c = parse("[include]\nfiles=/nonexistent/*.conf\n", kFile, ctx);
    EXPECT_TRUE(c.warnings.empty()) << allWarnings(c);
    EXPECT_EQ(c.files, std::vector<std::string>{kFile});
}

TEST(Load, MissingFile)
{
    TempDir dir;
    try {
        load(dir.path() + "/nope.conf", testContext());
        FAIL();
    } catch (const ConfigError& e) {
        EXPECT_EQ(e.loc().file, dir.path() + "/nope.conf");
        EXPECT_NE(std::string(e.what()).find("could not find config file"), std::string::npos);
    }
}

// ------------------------------------------------- [supervisord] and friends

TEST(Daemon, Defaults)
{
    LoadContext ctx = testContext();
    ctx.env["TMPDIR"] = "/var/tmp/x";
    const Config c = parse("", kFile, ctx);
    const DaemonConfig& d = c.daemon;
    EXPECT_EQ(d.backend, BackendChoice::Auto);
    EXPECT_EQ(d.logfile, "");
    EXPECT_EQ(d.logfileMaxbytes, 50u << 20);
    EXPECT_EQ(d.logfileBackups, 10);
    EXPECT_EQ(d.loglevel, "info");
    EXPECT_EQ(d.pidfile, "");
    EXPECT_EQ(d.umask, 022);
    EXPECT_TRUE(d.nodaemon);
    EXPECT_FALSE(d.silent);
    EXPECT_EQ(d.minfds, 1024);
    EXPECT_EQ(d.minprocs, 200);
    EXPECT_FALSE(d.nocleanup);
    // Not $TMPDIR: AUTO log files go under the state directory unless set.
    EXPECT_EQ(d.childlogdir, "");
    EXPECT_EQ(d.user, "");
    EXPECT_EQ(d.directory, "");
    EXPECT_FALSE(d.stripAnsi);
    EXPECT_TRUE(d.environment.empty());
    EXPECT_EQ(d.identifier, "supervisor");
    EXPECT_EQ(d.logBufferLines, 10000u);
    EXPECT_EQ(d.logBufferBytes, 1024u * 1024);
    EXPECT_EQ(d.stateDir, "/var/lib/scopevisor");
    EXPECT_TRUE(c.groups.empty());
    EXPECT_FALSE(c.unixHttpServer);
    EXPECT_FALSE(c.inetHttpServer);
    EXPECT_EQ(c.path, kFile);
}

TEST(Daemon, StateDirOfAnUnprivilegedDaemon)
{
    LoadContext ctx = testContext();
    ctx.euid = 1000;
    EXPECT_EQ(parse("", kFile, ctx).daemon.stateDir, "/home/u/.local/state/scopevisor");
    ctx.env["XDG_STATE_HOME"] = "/xdg/state";
    EXPECT_EQ(parse("", kFile, ctx).daemon.stateDir, "/xdg/state/scopevisor");
    EXPECT_EQ(parse("", kFile, LoadContext{}).daemon.childlogdir, "");
}

TEST(Daemon, UserIsTheDefaultUserOfPrograms)
{
    const Config c = parseText("[supervisord]\nuser = app \n"
                               "[program:a]\ncommand=/bin/true\n"
                               "[program:b]\ncommand=/bin/true\nuser=root\n");
    EXPECT_EQ(c.daemon.user, "app");
    ASSERT_EQ(c.groups.size(), 2u);
    EXPECT_EQ(c.groups[0].processes[0].user, "app");
    EXPECT_EQ(c.groups[1].processes[0].user, "root");
    // Without it a program runs as the daemon's user, as before.
    const Config plain = parseText("[program:a]\ncommand=/bin/true\n");
    EXPECT_EQ(plain.groups[0].processes[0].user, "");
}

TEST(Daemon, EveryKey)
{
    const Config c = parseText("[supervisord]\n"
                               "logfile=~/supervisord.log\nlogfile_maxbytes=1MB\nlogfile_backups=2\n"
                               "loglevel=DEBUG\npidfile=/run/s.pid\numask=077\nnodaemon=false\n"
                               "silent=true\nminfds=4096\nminprocs=10\nnocleanup=true\n"
                               "childlogdir=/var/log/sv\nuser=svc\ndirectory=/srv\nstrip_ansi=yes\n"
                               "environment=A=1,B=\"two words\"\nidentifier=ident\n");
    const DaemonConfig& d = c.daemon;
    EXPECT_EQ(d.logfile, "/home/u/supervisord.log");
    EXPECT_EQ(d.logfileMaxbytes, 1u << 20);
    EXPECT_EQ(d.logfileBackups, 2);
    EXPECT_EQ(d.loglevel, "debug");
    EXPECT_EQ(d.pidfile, "/run/s.pid");
    EXPECT_EQ(d.umask, 077);
    EXPECT_FALSE(d.nodaemon);
    EXPECT_TRUE(d.silent);
    EXPECT_EQ(d.minfds, 4096);
    EXPECT_EQ(d.minprocs, 10);
    EXPECT_TRUE(d.nocleanup);
    EXPECT_EQ(d.childlogdir, "/var/log/sv");
    EXPECT_EQ(d.user, "svc");
    EXPECT_EQ(d.directory, "/srv");
    EXPECT_TRUE(d.stripAnsi);
    EXPECT_EQ(d.environment,
              (std::vector<std::pair<std::string, std::string>>{{"A", "1"}, {"B", "two words"}}));
    EXPECT_EQ(d.identifier, "ident");
    EXPECT_TRUE(c.warnings.empty()) << allWarnings(c);
}

TEST(Daemon, ScopevisordSectionOverrides)
{
    const Config c = parseText("[scopevisord]\nbackend = Direct\nlog_buffer_lines=500\nlog_buffer_bytes=64KB\n"
                               "state_dir=/var/lib/sv\nloglevel=warn\n"
                               "[supervisord]\nloglevel=error\nidentifier=x\n");
    EXPECT_EQ(c.daemon.backend, BackendChoice::Direct);
    EXPECT_EQ(c.daemon.logBufferLines, 500u);
    EXPECT_EQ(c.daemon.logBufferBytes, 64u * 1024);
    EXPECT_EQ(c.daemon.stateDir, "/var/lib/sv");
    EXPECT_EQ(c.daemon.loglevel, "warn");
    EXPECT_EQ(c.daemon.identifier, "x");
    EXPECT_TRUE(c.warnings.empty()) << allWarnings(c);
    EXPECT_EQ(parseText("[scopevisord]\nbackend=systemd\n").daemon.backend, BackendChoice::Systemd);
    EXPECT_EQ(parseText("[scopevisord]\nbackend=auto\n").daemon.backend, BackendChoice::Auto);
}

TEST(Daemon, Errors)
{
    expectError("[supervisord]\nloglevel=loud\n", 2, "supervisord", "loglevel", "invalid value 'loud'");
    expectError("[supervisord]\numask=8\n", 2, "supervisord", "umask", "octal");
    expectError("[supervisord]\nnodaemon=sure\n", 2, "supervisord", "nodaemon", "expected true or false");
    expectError("[supervisord]\nminfds=many\n", 2, "supervisord", "minfds", "invalid value");
    expectError("[supervisord]\nlogfile_maxbytes=big\n", 2, "supervisord", "logfile_maxbytes", "byte size");
    expectError("[supervisord]\nenvironment=A=1,=\n", 2, "supervisord", "environment", "malformed");
    expectError("[scopevisord]\nbackend=docker\n", 2, "scopevisord", "backend",
                "invalid value 'docker' (expected auto, systemd or direct)");
    expectError("[scopevisord]\nlog_buffer_lines=0\n", 2, "scopevisord", "log_buffer_lines", "positive");
    expectError("[scopevisord]\nlog_buffer_bytes=0\n", 2, "scopevisord", "log_buffer_bytes", "at least 1");
}

TEST(Servers, UnixHttpServer)
{
    const Config c = parseText("[unix_http_server]\nfile=/run/sv.sock\nchmod=0760\nchown=root:adm\n"
                               "username=u\npassword={SHA}abc\n");
    ASSERT_TRUE(c.unixHttpServer);
    EXPECT_EQ(c.unixHttpServer->file, "/run/sv.sock");
    EXPECT_EQ(c.unixHttpServer->chmod, 0760u);
    EXPECT_EQ(c.unixHttpServer->chown, "root:adm");
    EXPECT_EQ(c.unixHttpServer->username, "u");
    EXPECT_EQ(c.unixHttpServer->password, "{SHA}abc");
    EXPECT_EQ(c.unixHttpServer->loc.line, 1);
    const Config d = parseText("[unix_http_server]\nfile=/run/sv.sock\n");
    EXPECT_EQ(d.unixHttpServer->chmod, 0700u);
    EXPECT_EQ(d.unixHttpServer->chown, "");
}

TEST(Servers, InetHttpServer)
{
    for (const char* port : {"127.0.0.1:9001", "9001", "*:9001", ":9001"}) {
        const Config c = parseText(std::string("[inet_http_server]\nport=") + port + "\n");
        ASSERT_TRUE(c.inetHttpServer);
        EXPECT_EQ(c.inetHttpServer->port, port);
    }
}

TEST(Servers, Errors)
{
    expectError("[unix_http_server]\nchmod=0700\n", 1, "unix_http_server", "file", "missing (required)");
    expectError("[unix_http_server]\nfile=/s\nchmod=rwx\n", 3, "unix_http_server", "chmod", "octal");
    expectError("[unix_http_server]\nfile=/s\nchown=:grp\n", 3, "unix_http_server", "chown", "user:group");
    expectError("[unix_http_server]\nfile=/s\nusername=u\n", 3, "unix_http_server", "username",
                "without a password");
    expectError("[inet_http_server]\npassword=p\nport=1\n", 2, "inet_http_server", "password",
                "without a username");
    expectError("[inet_http_server]\nusername=u\n", 1, "inet_http_server", "port", "missing (required)");
    expectError("[inet_http_server]\nport=host:http\n", 2, "inet_http_server", "port", "invalid value");
    expectError("[inet_http_server]\nport=70000\n", 2, "inet_http_server", "port", "1 to 65535");
}

TEST(Sections, AdaptersAndAccess)
{
    const Config c = parseText("[adapter:khanat]\nport = 8000\naddress =\nCERTFILE = %(here)s/cert.pem\n"
                               "default_role = Viewer\n"
                               "[access]\nkhanat:client = operator\nxmlrpc:Admin = admin\n"
                               "supervisor-rs:alice = log-reader\n");
    ASSERT_EQ(c.adapters.size(), 1u);
    const RawSection& a = c.adapters[0];
    EXPECT_EQ(a.name, "adapter:khanat");
    EXPECT_EQ(a.loc.line, 1);
    EXPECT_EQ(*a.get("port"), "8000");
    EXPECT_EQ(*a.get("address"), "");
    EXPECT_EQ(*a.get("certfile"), "/etc/sv/cert.pem");
    EXPECT_EQ(*a.get("default_role"), "viewer");
    EXPECT_EQ(a.get("nope"), nullptr);
    EXPECT_EQ(a.keyLocs.at("certfile").line, 4);
    EXPECT_EQ(c.access, (std::vector<std::pair<std::string, std::string>>{
                            {"khanat:client", "operator"},
                            {"xmlrpc:Admin", "admin"},
                            {"supervisor-rs:alice", "log-reader"}}));
    EXPECT_TRUE(c.warnings.empty()) << allWarnings(c);
    EXPECT_EQ(*parseText("[adapter:x]\ndefault_role=\n").adapters[0].get("default_role"), "");
}

TEST(Sections, AccessAndAdapterErrors)
{
    expectError("[access]\nkhanat:client = root\n", 2, "access", "khanat:client",
                "invalid role 'root' (expected admin, operator, log-reader or viewer)");
    expectError("[access]\nclient = admin\n", 2, "access", "client", "<adapter>:<identity>");
    expectError("[adapter:x]\ndefault_role=boss\n", 2, "adapter:x", "default_role", "invalid role");
}

TEST(Sections, WarningsForUnknownAndUnsupported)
{
    const Config c = parseText("[supervisord]\nlogfile=/l\nbogus=1\n"             // 1-3
                               "[program:p]\ncommand=x\nstartsec=3\n"               // 4-6
                               "[frobnicate]\na=1\n"                                // 7-8
                               "[eventlistener:e]\ncommand=x\nevents=TICK_5\n"      // 9-11
                               "[rpcinterface:supervisor]\n"                        // 12
                               "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
                               "[rpcinterface:other]\nsupervisor.rpcinterface_factory=x:y\n" // 14-15
                               "[ctlplugin:c]\nsupervisor.ctl_factory=x:y\n"       // 16-17
                               "[supervisorctl]\nserverurl=unix:///s\nprompt=p\nhistory_file=~/.h\n"
                               "username=u\npassword=p\ncolour=1\n"                 // 18-24
                               "[include]\nfiles=/nonexistent-dir/*.x\nrecursive=1\n"); // 25-27
    EXPECT_TRUE(hasWarning(c, 3, "[supervisord] bogus: unknown key, ignored")) << allWarnings(c);
    EXPECT_TRUE(hasWarning(c, 6, "[program:p] startsec: unknown key, ignored")) << allWarnings(c);
    EXPECT_TRUE(hasWarning(c, 7, "[frobnicate] unknown section, ignored")) << allWarnings(c);
    EXPECT_TRUE(hasWarning(c, 9, "[eventlistener:e] event listeners are not supported")) << allWarnings(c);
    EXPECT_TRUE(hasWarning(c, 14, "[rpcinterface:other] RPC interface plugins are not supported"))
        << allWarnings(c);
    EXPECT_TRUE(hasWarning(c, 16, "[ctlplugin:c]")) << allWarnings(c);
    EXPECT_TRUE(hasWarning(c, 24, "[supervisorctl] colour: unknown key")) << allWarnings(c);
    EXPECT_TRUE(hasWarning(c, 26, "no file matches")) << allWarnings(c);
    EXPECT_TRUE(hasWarning(c, 27, "[include] recursive: unknown key")) << allWarnings(c);
    EXPECT_EQ(c.warnings.size(), 9u) << allWarnings(c);
    for (const Diagnostic& d : c.warnings)
        EXPECT_EQ(d.loc.file, kFile);
    EXPECT_EQ(c.warnings[0].text().substr(0, kFile.size() + 1), kFile + ":");
}

TEST(Sections, WarningsAreNotRepeatedPerProcess)
{
    const Config c = parseText("[program:p]\ncommand=x\nnumprocs=3\nprocess_name=%(process_num)d\n"
                               "stdout_logfile=syslog\nextra=1\n");
    EXPECT_EQ(c.warnings.size(), 2u) << allWarnings(c);
}

TEST(Sections, DefaultSectionSuppliesDefaults)
{
    const Config c = parseText("[DEFAULT]\nautorestart=true\nstartsecs=0\n"
                               "[program:a]\ncommand=x\n[program:b]\ncommand=y\nstartsecs=4\n");
    EXPECT_EQ(c.groups[0].processes[0].autorestart, AutoRestart::True);
    EXPECT_EQ(c.groups[0].processes[0].startsecs, 0);
    EXPECT_EQ(c.groups[1].processes[0].startsecs, 4);
    EXPECT_TRUE(c.warnings.empty()) << allWarnings(c);
    const Config w = parseText("[DEFAULT]\nwhatever=1\n");
    EXPECT_TRUE(hasWarning(w, 2, "[DEFAULT] whatever: unknown key")) << allWarnings(w);
}

// ------------------------------------------------- real supervisord files

// Debian's /etc/supervisor/supervisord.conf (supervisor 4.2.5-1), verbatim.
const char* const kDebianConf = R"(; supervisor config file

[unix_http_server]
file=/var/run/supervisor.sock   ; (the path to the socket file)
chmod=0700                       ; sockef file mode (default 0700)

[supervisord]
logfile=/var/log/supervisor/supervisord.log ; (main log file;default $CWD/supervisord.log)
pidfile=/var/run/supervisord.pid ; (supervisord pidfile;default supervisord.pid)
childlogdir=/var/log/supervisor            ; ('AUTO' child log dir, default $TEMP)

; the below section must remain in the config file for RPC
; (supervisorctl/web interface) to work, additional interfaces may be
; added by defining them in separate rpcinterface: sections
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix:///var/run/supervisor.sock ; use a unix:// URL  for a unix socket

; The [include] section can just contain the "files" setting.  This
; setting can list multiple files (separated by whitespace or
; newlines).  It can also contain wildcards.  The filenames are
; interpreted as relative to this file.  Included files *cannot*
; include files themselves.

[include]
files = /etc/supervisor/conf.d/*.conf
)";

TEST(RealFiles, DebianDefault)
{
    LoadContext ctx = testContext();
    ctx.readIncludes = false; // its include pattern is absolute
    const Config c = parse(kDebianConf, "/etc/supervisor/supervisord.conf", ctx);
    EXPECT_TRUE(c.warnings.empty()) << allWarnings(c);
    ASSERT_TRUE(c.unixHttpServer);
    EXPECT_EQ(c.unixHttpServer->file, "/var/run/supervisor.sock");
    EXPECT_EQ(c.unixHttpServer->chmod, 0700u);
    EXPECT_EQ(c.unixHttpServer->loc, (SourceLoc{"/etc/supervisor/supervisord.conf", 3}));
    EXPECT_FALSE(c.inetHttpServer);
    EXPECT_EQ(c.daemon.logfile, "/var/log/supervisor/supervisord.log");
    EXPECT_EQ(c.daemon.pidfile, "/var/run/supervisord.pid");
    EXPECT_EQ(c.daemon.childlogdir, "/var/log/supervisor");
    EXPECT_TRUE(c.groups.empty());
}

TEST(RealFiles, DebianDefaultWithConfD)
{
    TempDir dir;
    std::string text = kDebianConf;
    text.replace(text.find("/etc/supervisor/conf.d"), 22, "conf.d");
    const std::string main = dir.write("supervisord.conf", text);
    dir.write("conf.d/web.conf", "[program:web]\n"
                                 "command=/usr/bin/python3 -m http.server 8080\n"
                                 "directory=/srv/www\n"
                                 "user=www-data\n"
                                 "autorestart=true\n"
                                 "redirect_stderr=true\n"
                                 "stdout_logfile=/var/log/supervisor/web.log\n"
                                 "environment=PYTHONUNBUFFERED=\"1\"\n");
    const Config c = load(main, testContext());
    EXPECT_TRUE(c.warnings.empty()) << allWarnings(c);
    ASSERT_EQ(c.groups.size(), 1u);
    const ProcessConfig& p = c.groups[0].processes[0];
    EXPECT_EQ(p.namespec(), "web");
    EXPECT_EQ(p.argv, (std::vector<std::string>{"/usr/bin/python3", "-m", "http.server", "8080"}));
    EXPECT_EQ(p.user, "www-data");
    EXPECT_EQ(p.stdoutLog.path, "/var/log/supervisor/web.log");
}

// ------------------------------------------------------------------ sameAs

TEST(SameAs, DetectsChanges)
{
    const std::string base = "[program:p]\ncommand=/bin/p\n";
    const ProcessConfig a = onlyProcess(base);
    EXPECT_TRUE(a.sameAs(onlyProcess(base)));
    // Only the location differs.
    EXPECT_TRUE(a.sameAs(onlyProcess("\n\n" + base)));
    EXPECT_FALSE(a == onlyProcess("\n\n" + base));
    for (const char* change : {"command=/bin/q", "autostart=false", "environment=A=1", "stopsignal=INT",
                               "stdout_logfile=/x", "stderr_logfile_maxbytes=1KB", "memory_max=1G",
                               "startretries=infinite", "backoff_max=3", "umask=002", "user=nobody",
                               "exitcodes=0,1", "priority=1"})
        EXPECT_FALSE(a.sameAs(program(change))) << change;

    const Config g1 = parseText("[group:g]\nprograms=a\n[program:a]\ncommand=x\n");
    const Config g2 = parseText("[group:g]\nprograms=a\npriority=5\n[program:a]\ncommand=x\n");
    const Config g3 = parseText("\n[group:g]\nprograms=a\n[program:a]\ncommand=x\n");
    const Config g4 = parseText("[group:g]\nprograms=a\n[program:a]\ncommand=y\n");
    EXPECT_TRUE(g1.groups[0].sameAs(g3.groups[0]));
    EXPECT_FALSE(g1.groups[0].sameAs(g2.groups[0]));
    EXPECT_FALSE(g1.groups[0].sameAs(g4.groups[0]));
}

TEST(SameAs, ResourceLimitsCompareByValueNotSpelling)
{
    // Another spelling of the same limit sets the same scope property: no
    // change, so a reload does not restart the program for it.
    EXPECT_TRUE(program("memory_max=512M").sameAs(program("memory_max=524288K")));
    EXPECT_TRUE(program("cpu_quota=50%").sameAs(program("cpu_quota=50.00%")));
    EXPECT_FALSE(program("memory_max=512M").sameAs(program("memory_max=513M")));
    EXPECT_FALSE(program("memory_max=100%").sameAs(program("memory_max=infinity")));
    EXPECT_FALSE(program("tasks_max=10").sameAs(program("tasks_max=10%")));
}

// ----------------------------------------------------------------- helpers

TEST(Helpers, ParseSignal)
{
    EXPECT_EQ(parseSignal("TERM"), SIGTERM);
    EXPECT_EQ(parseSignal("SIGTERM"), SIGTERM);
    EXPECT_EQ(parseSignal("sigusr1"), SIGUSR1);
    EXPECT_EQ(parseSignal("15"), 15);
    EXPECT_EQ(parseSignal(" HUP "), SIGHUP);
    EXPECT_EQ(parseSignal("IOT"), SIGABRT);
    EXPECT_EQ(parseSignal("RTMIN"), SIGRTMIN);
    EXPECT_EQ(parseSignal("SIGRTMIN+3"), SIGRTMIN + 3);
    EXPECT_EQ(parseSignal("rtmax-1"), SIGRTMAX - 1);
    EXPECT_EQ(parseSignal("RTMAX"), SIGRTMAX);
    EXPECT_EQ(parseSignal("RTMIN+"), -1);
    EXPECT_EQ(parseSignal("RTMIN-1"), -1);
    EXPECT_EQ(parseSignal("RTMIN+99"), -1);
    EXPECT_EQ(parseSignal("FOO"), -1);
    EXPECT_EQ(parseSignal(""), -1);
    EXPECT_EQ(parseSignal("0"), -1);
    EXPECT_EQ(parseSignal("999"), -1);
    EXPECT_EQ(parseSignal("-9"), -1);
}

TEST(Helpers, SignalName)
{
    EXPECT_EQ(signalName(SIGTERM), "TERM");
    EXPECT_EQ(signalName(SIGKILL), "KILL");
    EXPECT_EQ(signalName(SIGABRT), "ABRT");
    EXPECT_EQ(signalName(SIGCHLD), "CHLD");
    EXPECT_EQ(signalName(SIGRTMIN + 2), "RTMIN+2");
    EXPECT_EQ(signalName(1000), "1000");
    for (int sig = 1; sig <= SIGRTMAX; ++sig) {
        if (signalName(sig) != std::to_string(sig)) {
            EXPECT_EQ(parseSignal(signalName(sig)), sig);
        }
    }
}

TEST(Helpers, ParseByteSize)
{
    EXPECT_EQ(parseByteSize("0"), 0u);
    EXPECT_EQ(parseByteSize("123"), 123u);
    EXPECT_EQ(parseByteSize("1KB"), 1024u);
    EXPECT_EQ(parseByteSize("50MB"), 50u * 1024 * 1024);
    EXPECT_EQ(parseByteSize("2gb"), 2ull << 30);
    EXPECT_EQ(parseByteSize("1TB"), 1ull << 40);
    EXPECT_EQ(parseByteSize(" 7 "), 7u);
    for (const char* bad : {"", "MB", "-1", "1.5MB", "1 M", "x", "99999999999999999999", "17179869184GB"})
        EXPECT_THROW(parseByteSize(bad), std::invalid_argument) << bad;
}

TEST(Helpers, SplitCommand)
{
    using V = std::vector<std::string>;
    EXPECT_EQ(splitCommand("a b  c"), (V{"a", "b", "c"}));
    EXPECT_EQ(splitCommand("  "), V{});
    EXPECT_EQ(splitCommand("'a b' \"c d\""), (V{"a b", "c d"}));
    EXPECT_EQ(splitCommand("a'b'\"c\"d"), (V{"abcd"}));
    EXPECT_EQ(splitCommand("\"a\\\"b\\\\c\\d\""), (V{"a\"b\\c\\d"}));
    EXPECT_EQ(splitCommand("'a\\b'"), (V{"a\\b"}));
    EXPECT_EQ(splitCommand("a\\ b\\'c"), (V{"a b'c"}));
    EXPECT_EQ(splitCommand("x '' \"\""), (V{"x", "", ""}));
    EXPECT_EQ(splitCommand("a\tb\nc"), (V{"a", "b", "c"}));
    EXPECT_EQ(splitCommand("a #b"), (V{"a", "#b"}));
    EXPECT_THROW(splitCommand("'abc"), std::invalid_argument);
    EXPECT_THROW(splitCommand("\"abc"), std::invalid_argument);
    EXPECT_THROW(splitCommand("abc\\"), std::invalid_argument);
}

TEST(Helpers, DiagnosticText)
{
    EXPECT_EQ((Diagnostic{{"/f", 3}, "program:x", "foo", "unknown key, ignored"}).text(),
              "/f:3: [program:x] foo: unknown key, ignored");
    EXPECT_EQ((Diagnostic{{"/f", 7}, "x", "", "unknown section, ignored"}).text(),
              "/f:7: [x] unknown section, ignored");
    EXPECT_EQ((Diagnostic{{"/f", 0}, "", "", "could not find config file"}).text(),
              "/f: could not find config file");
}

TEST(Helpers, LoadContextFromProcess)
{
    ::setenv("SCOPEVISOR_TEST_VAR", "v=1", 1);
    const LoadContext ctx = LoadContext::fromProcess();
    EXPECT_EQ(ctx.env.at("SCOPEVISOR_TEST_VAR"), "v=1");
    EXPECT_FALSE(ctx.hostname.empty());
    EXPECT_EQ(ctx.euid, ::geteuid());
    EXPECT_TRUE(ctx.readIncludes);
}
