// SPDX-License-Identifier: LGPL-2.1-or-later
//
// scopevisord: load the configuration, pick a backend, run the engine on the
// sd-event loop until SIGTERM/SIGINT (or a shutdown request) has stopped
// every program.
#include <atomic>
#include <csignal>
#include <thread>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <getopt.h>
#include <malloc.h>
#include <memory>
#include <string>

#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "build-config.h"
#include "adapter_host.h"
#include "command_scopes.h"
#include "config.h"
#include "direct_backend.h"
#include "engine.h"
#include "frontend.h"
#include "journal_read.h"
#include "journal_sink.h"
#include "logging.h"
#include "sd_event_loop.h"
#include "state_file.h"
#include "systemd_backend.h"
#include "thread_latency.h"

using namespace scopevisor;

namespace {

// docs/architecture.md §10 fixes the default path, whatever the install prefix.
constexpr const char* kDefaultConfig = "/etc/scopevisor/scopevisor.conf";

struct Options {
    std::string config = kDefaultConfig;
    std::string backend; // empty: from the config file
    std::string loglevel;
    bool user = false;
    bool checkOnly = false;
};

void usage(FILE* f) {
    std::fprintf(f,
                 "Usage: scopevisord [OPTION]...\n"
                 "Supervise the programs of a supervisord-style configuration.\n"
                 "\n"
                 "  -c, --config FILE      configuration file (default %s)\n"
                 "      --backend NAME     auto, systemd or direct (overrides [scopevisord] backend)\n"
                 "      --user             use the user's service manager and session bus\n"
                 "  -e, --loglevel LEVEL   critical, error, warn, info, debug, trace or blather\n"
                 "  -n, --nodaemon         accepted for compatibility; scopevisord always runs in the foreground\n"
                 "      --check-config     read the configuration, report problems and exit\n"
                 "  -h, --help             show this help and exit\n"
                 "  -v, --version          show the version and exit\n"
                 "\n"
                 "Signals: SIGTERM and SIGINT stop every program and exit (with the systemd\n"
                 "backend they exit and leave the programs running in their scopes, for the\n"
                 "next daemon to adopt), SIGHUP reloads the configuration (only added,\n"
                 "changed and removed programs are touched), SIGUSR2 reopens the log files.\n"
                 "See scopevisord(8) and scopevisor.conf(5).\n",
                 kDefaultConfig);
}

Options parseArgs(int argc, char** argv) {
    enum { kBackend = 1000, kUser, kCheck };
    static const struct option longopts[] = {
        {"config", required_argument, nullptr, 'c'},  {"backend", required_argument, nullptr, kBackend},
        {"user", no_argument, nullptr, kUser},        {"loglevel", required_argument, nullptr, 'e'},
        {"nodaemon", no_argument, nullptr, 'n'},      {"check-config", no_argument, nullptr, kCheck},
        {"help", no_argument, nullptr, 'h'},          {"version", no_argument, nullptr, 'v'},
        {nullptr, 0, nullptr, 0},
    };
    Options o;
    int c;
    while ((c = getopt_long(argc, argv, "c:e:nhv", longopts, nullptr)) != -1) {
        switch (c) {
        case 'c': o.config = optarg; break;
        case kBackend: o.backend = optarg; break;
        case kUser: o.user = true; break;
        case 'e': o.loglevel = optarg; break;
        case 'n': break;
        case kCheck: o.checkOnly = true; break;
        case 'h': usage(stdout); std::exit(0);
        case 'v': std::printf("scopevisord %s\n", SCOPEVISOR_VERSION); std::exit(0);
        default: usage(stderr); std::exit(2);
        }
    }
    if (optind < argc) {
        std::fprintf(stderr, "scopevisord: unexpected argument '%s'\n", argv[optind]);
        std::exit(2);
    }
    if (!o.backend.empty() && o.backend != "auto" && o.backend != "systemd" && o.backend != "direct") {
        std::fprintf(stderr, "scopevisord: --backend must be auto, systemd or direct, not '%s'\n", o.backend.c_str());
        std::exit(2);
    }
    return o;
}

// Many programs need many fds (three pipes and a pidfd each): raise the soft
// limit to supervisord's minfds at least, and to the hard limit if we can.
void raiseFdLimit(int minfds) {
    struct rlimit rl {};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = rl.rlim_max;
    if (rl.rlim_cur >= want)
        return;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < rlim_t(minfds))
        log::warn("could not raise the open-files limit to " + std::to_string(minfds));
}

// Add what the adapters import from legacy files; a name that is already
// a group of the configuration is an error, not a silent override.
bool addImports(const AdapterManager& adapters, config::Config& cfg, std::string* err) {
    std::vector<config::GroupConfig> imported;
    if (!adapters.importPrograms(&imported, err))
        return false;
    for (auto& g : imported) {
        // [supervisord] user= is the default user of imported programs too.
        for (auto& p : g.processes)
            if (p.user.empty())
                p.user = cfg.daemon.user;
        if (cfg.findGroup(g.name)) {
            *err = g.loc.file + ": imported program '" + g.name + "' has the name of a group of " + cfg.path;
            return false;
        }
        cfg.groups.push_back(std::move(g));
    }
    return true;
}

// Adapters may wait for engine answers while they shut down (a reply in
// flight): keep the loop turning until every adapter has stopped.
void stopAdapters(SdEventLoop& loop, AdapterManager& adapters) {
    std::atomic<bool> done{false};
    std::thread t([&] {
        adapters.stop();
        done = true;
        loop.post([] {});
    });
    loop.runUntil([&] { return done.load(); }, 60ull * 1000000);
    t.join();
}

} // namespace

// The engine thread's scheduler slice: it handles one call or event in
// well under a millisecond.
constexpr uint64_t kEngineSliceNs = 500000;

int main(int argc, char** argv) {
    Options opt = parseArgs(argc, argv);
    // Give memory back: without a fixed threshold glibc raises it after big
    // replies and keeps megabytes per adapter thread (two arenas suffice
    // for a daemon whose state lives on one thread).
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    mallopt(M_ARENA_MAX, 2);
    std::signal(SIGPIPE, SIG_IGN); // a program's closed stdin must not kill the daemon

    config::LoadContext ctx = config::LoadContext::fromProcess();
    config::Config cfg;
    try {
        cfg = config::load(opt.config, ctx);
    } catch (const config::ConfigError& e) {
        std::fprintf(stderr, "scopevisord: %s\n", e.what());
        return 78; // EX_CONFIG
    } catch (const std::exception& e) {
        std::fprintf(stderr, "scopevisord: %s: %s\n", opt.config.c_str(), e.what());
        return 78;
    }
    log::Level level = log::Level::Info;
    const std::string& levelName = opt.loglevel.empty() ? cfg.daemon.loglevel : opt.loglevel;
    if (!log::parseLevel(levelName, level)) {
        std::fprintf(stderr, "scopevisord: unknown log level '%s'\n", levelName.c_str());
        return 2;
    }
    log::setLevel(level);
    for (const auto& w : cfg.warnings)
        log::warn(w.text());
    if (opt.checkOnly) {
        size_t n = 0;
        for (auto& g : cfg.groups)
            n += g.processes.size();
        std::printf("%s: %zu group(s), %zu program(s), %zu warning(s)\n", opt.config.c_str(), cfg.groups.size(), n,
                    cfg.warnings.size());
        return 0;
    }

    // [supervisord] directory=: the daemon's working directory, as
    // supervisord's. The configuration is named by its absolute path from
    // here on, so that a reload and the state file's name do not depend on
    // where the daemon was started.
    if (!cfg.daemon.directory.empty()) {
        opt.config = cfg.path;
        if (chdir(cfg.daemon.directory.c_str()) != 0) {
            log::critical("cannot change to the directory " + cfg.daemon.directory + " ([supervisord] directory=): " +
                          std::strerror(errno));
            return 1;
        }
    }

    raiseFdLimit(cfg.daemon.minfds);
    if (cfg.daemon.umask >= 0)
        umask(mode_t(cfg.daemon.umask));

    SdEventLoop loop;
    // This thread is the engine's (thread_latency.h says why a short slice).
    if (int e = requestShortSlice(kEngineSliceNs))
        log::debug(std::string("no short scheduler slice for the engine's thread: ") + std::strerror(e));
    std::string backendChoice = opt.backend;
    if (backendChoice.empty())
        backendChoice = cfg.daemon.backend == config::BackendChoice::Systemd  ? "systemd"
                        : cfg.daemon.backend == config::BackendChoice::Direct ? "direct"
                                                                              : "auto";
    std::string backendError;
    std::unique_ptr<Backend> backend = chooseBackend(loop, backendChoice, opt.user, &backendError);
    if (!backend) {
        log::critical(backendError);
        return 1;
    }
    // Scopes for the commands that adapters run (Steward's REQCliCommand),
    // made over the systemd backend's connection to PID 1.
    auto* systemdBackend = dynamic_cast<SystemdBackend*>(backend.get());
    CommandScopes commandScopes(loop, systemdBackend ? &systemdBackend->manager() : nullptr);
    // Program output goes to the journal too, when there is one: the sink
    // is a listener of the engine's output events.
    std::unique_ptr<JournalSink> journal;
    std::unique_ptr<JournalSource> journalReader; // the lines back, after a restart
    if (JournalSink::available()) {
        journal = std::make_unique<JournalSink>();
        journalReader = openJournal();
    }

    // Adapters: load the modules the configuration enables, and add the
    // programs they import from legacy configuration files.
    AdapterManager adapters(cfg);
    adapters.setCommandScopes(&commandScopes);
    {
        std::string err;
        if (!adapters.load(planAdapters(cfg), &err) || !addImports(adapters, cfg, &err)) {
            log::critical(err);
            return 1;
        }
    }

    EngineOptions eo;
    eo.configPath = opt.config;
    eo.loadContext = ctx;
    eo.version = SCOPEVISOR_VERSION;
    // The adapter that runs the server says where it is (the xmlrpc adapter:
    // supervisord's rule, the unix socket first, else TCP).
    eo.serverUrl = adapters.serverUrl();
    eo.journal = journalReader.get();
    eo.load = [&adapters](const std::string& path, const config::LoadContext& c) {
        config::Config next = config::load(path, c);
        std::string err;
        if (!addImports(adapters, next, &err))
            throw std::runtime_error(err);
        return next;
    };
    Engine engine(loop, *backend, std::move(cfg), eo);
    if (journal)
        engine.addListener(journal.get());

    // The D-Bus API: the system bus as root, the session bus with --user or
    // for another user. Without a bus the daemon serves its adapters only.
    dbus::FrontendOptions fo;
    fo.sessionBus = opt.user || geteuid() != 0;
    fo.log = [](LogLevel lvl, std::string_view m) {
        switch (lvl) {
        case LogLevel::Error: return log::error(m);
        case LogLevel::Warn: return log::warn(m);
        case LogLevel::Info: return log::info(m);
        case LogLevel::Debug: return log::debug(m);
        }
    };
    std::string busError;
    std::unique_ptr<dbus::Frontend> dbusFrontend = dbus::Frontend::start(loop.raw(), engine, fo, &busError);
    if (!dbusFrontend)
        log::warn("no D-Bus bus reachable: running without the D-Bus API (" + busError + ")");
    else
        // Local peers of the adapters' unix sockets are asked about with
        // polkit, on the loop where the bus connection lives. Without a bus
        // no authorizer is set and only root gets in.
        adapters.setLocalAuthorizer([&loop, fe = dbusFrontend.get()](const UnixPeer& peer, Verb verb,
                                                                      const std::string& program,
                                                                      std::function<void(bool, std::string)> done) {
            const uint64_t startTicks = processStartTicks(peer.pid);
            loop.post([fe, peer, startTicks, verb, program, done = std::move(done)]() mutable {
                fe->authorizeProcess(peer, startTicks, verb, program, std::move(done));
            });
        });

    int exitCode = 0;
    engine.setOnShutdown([&] { loop.exit(exitCode); });
    // Programs in scopes do not depend on the daemon (docs/architecture.md §5): on the
    // systemd backend SIGTERM (`systemctl stop`, a restart) leaves them
    // running and the next daemon adopts them; an explicit shutdown request
    // (D-Bus Shutdown, supervisorctl shutdown) stops them. On the direct
    // backend SIGTERM stops them, as supervisord does.
    const bool programsOutliveDaemon = std::string(backend->name()) == "systemd";
    auto onTerm = [&] {
        if (programsOutliveDaemon)
            engine.requestDetach();
        else
            engine.requestShutdown();
    };
    auto s1 = loop.addSignal(SIGTERM, onTerm);
    auto s2 = loop.addSignal(SIGINT, onTerm);
    auto s3 = loop.addSignal(SIGHUP, [&] {
        log::info("received SIGHUP: reloading the configuration");
        engine.requestReload();
    });
    auto s4 = loop.addSignal(SIGUSR2, [&] { engine.reopenLogs(); });

    const std::string& pidfile = engine.currentConfig().daemon.pidfile;
    if (!pidfile.empty()) {
        std::ofstream(pidfile) << getpid() << "\n";
    }

    log::info("scopevisord " SCOPEVISOR_VERSION " started with pid " + std::to_string(getpid()));
    engine.begin();
    adapters.takeSocketActivation();
    {
        std::string err;
        if (!adapters.start(engine, &err)) {
            log::critical(err);
            stopAdapters(loop, adapters);
            return 1;
        }
    }
    // With WatchdogSec= in the unit, sd-event pings the manager itself.
    sd_event_set_watchdog(loop.raw(), true);
    sd_notify(0, "READY=1\nSTATUS=Supervising programs");
    int r = loop.run();
    sd_notify(0, "STOPPING=1");
    stopAdapters(loop, adapters);
    if (!pidfile.empty())
        unlink(pidfile.c_str());
    log::info("exiting");
    return r < 0 ? 1 : r;
}
