# SPDX-License-Identifier: LGPL-2.1-or-later
"""The systemd backend, the journal and the units against a real systemd,
journald and D-Bus, in a container (container.py): scopevisord.service runs
the programs of conf/ in scopes under scopevisor.slice."""

import json
import os
import re
import time

import pytest

from container import wait_for, with_config

HERE = os.path.dirname(os.path.abspath(__file__))

CONFIG = r"""
[scopevisord]
backend = systemd

[program:ticker]
command = /bin/sh -c 'i=0; while :; do i=$((i+1)); echo "tick $i"; echo "tock $i" >&2; sleep 0.2; done'
startsecs = 1
memory_max = 64M
memory_high = 48M
tasks_max = 32
cpu_weight = 42
cpu_quota = 50%
io_weight = 77

[program:web-api]
command = /bin/sleep 600
startsecs = 0

[program:forker]
command = /bin/sh -c 'sleep 600 & echo "child $!"; wait'
startsecs = 0
stopsignal = INT
stopwaitsecs = 3
autorestart = true

[program:taken]
command = /bin/sleep 600
startsecs = 0
startretries = 0

[group:grp]
programs = member

[program:member]
command = /bin/sleep 600
startsecs = 0
"""


def show(c, unit, *props):
    out = c.run(["systemctl", "show", unit] + ["-p" + p for p in props]).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def daemon_log(c):
    return c.daemon_log()


def spawned_pid(c, program, after=0):
    """pid of the newest spawn of `program` (the n-th after `after` ones)."""
    pat = re.compile(r"spawned: '%s' with pid (\d+) in (\S+)" % re.escape(program))

    def find():
        found = pat.findall(daemon_log(c))
        return found[-1] if len(found) > after else None

    hit = wait_for(find)
    assert hit, "no spawn of %s in the daemon's log:\n%s" % (program, daemon_log(c)[-3000:])
    return int(hit[0]), hit[1]


def cgroup_of(c, pid):
    r = c.run(["cat", "/proc/%d/cgroup" % pid], check=False)
    return r.stdout if r.returncode == 0 else ""


def alive(c, pid):
    return c.run(["kill", "-0", str(pid)], check=False).returncode == 0


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    with with_config(tmp_path_factory, CONFIG) as c:
        # First-boot presets enable (and so start) the daemon; starting it
        # again is harmless and covers a preset policy that does not.
        c.start_daemon()
        yield c


def service_active(c):
    return c.run(["systemctl", "is-active", "scopevisord.service"], check=False).stdout.strip() == "active"


def manager_call(c, method, *args, check=True):
    return c.run(["busctl", "call", "org.scopevisor1", "/org/scopevisor1", "org.scopevisor1.Manager", method, *args],
                 check=check, timeout=60)


def shut_down(c):
    """The daemon stopped with every program and scope, as a Shutdown request leaves it."""
    manager_call(c, "Shutdown")
    assert wait_for(lambda: not service_active(c), 60)
    assert wait_for(lambda: c.run(["systemctl", "list-units", "--plain", "--no-legend", "scopevisor-*"])
                    .stdout.strip() == "", 60)


@pytest.fixture(autouse=True)
def daemon_running(ct):
    """Every test starts with the daemon running, whichever tests ran before it
    (some stop it), so that each one also passes on its own."""
    if not service_active(ct):
        ct.run(["systemctl", "start", "scopevisord.service"], timeout=60)
        assert wait_for(lambda: service_active(ct), 60), daemon_log(ct)[-3000:]
    yield


def test_service_is_notify_with_watchdog(ct):
    p = show(ct, "scopevisord.service", "Type", "ActiveState", "StatusText", "WatchdogUSec",
             "LogRateLimitIntervalUSec", "LogRateLimitBurst", "FileDescriptorStoreMax", "Restart")
    assert p["Type"] == "notify"
    assert p["ActiveState"] == "active"
    assert p["StatusText"], "no STATUS= from the daemon"
    assert p["WatchdogUSec"] == "30s"
    # journald's rate limit is out of reach (0 would mean "journald's default").
    assert p["LogRateLimitIntervalUSec"] == "1s" and int(p["LogRateLimitBurst"]) >= 100000000
    assert ct.run(["readlink", "/run/systemd/units/log-rate-limit-burst:scopevisord.service"]).stdout.strip() \
        == p["LogRateLimitBurst"]
    assert int(p["FileDescriptorStoreMax"]) > 0
    assert p["Restart"] == "on-failure"
    assert "backend: systemd" in daemon_log(ct)


def test_scope_under_slice_holds_the_program(ct):
    pid, unit = spawned_pid(ct, "ticker")
    assert unit == "scopevisor-ticker.scope"
    p = show(ct, unit, "Slice", "ActiveState", "Description", "ControlGroup", "CollectMode")
    assert p["Slice"] == "scopevisor.slice"
    assert p["ActiveState"] == "active"
    assert p["Description"] == "scopevisor program ticker"
    assert p["ControlGroup"] == "/scopevisor.slice/scopevisor-ticker.scope"
    assert p["CollectMode"] == "inactive-or-failed"
    assert "/scopevisor.slice/scopevisor-ticker.scope" in cgroup_of(ct, pid)
    procs = ct.run("cat /sys/fs/cgroup/unified/scopevisor.slice/scopevisor-ticker.scope/cgroup.procs "
                   "/sys/fs/cgroup/scopevisor.slice/scopevisor-ticker.scope/cgroup.procs 2>/dev/null",
                   check=False).stdout.split()
    assert str(pid) in procs
    # The slice is the shipped unit, not an implicit one.
    assert show(ct, "scopevisor.slice", "FragmentPath")["FragmentPath"].endswith("/scopevisor.slice")


def ppid_of(c, pid):
    return int(c.run(["ps", "-o", "ppid=", "-p", str(pid)]).stdout.strip())


def spawners(c):
    return [int(p) for p in c.run(["pgrep", "-x", "scopevisor-fork"], check=False).stdout.split()]


def test_spawner_in_the_service_makes_the_daemons_children(ct):
    # daemon/spawn_zygote.h: one spawner, the daemon's child, in the
    # daemon's own cgroup, holding nothing but its socket; the programs are
    # the daemon's children, made by it, in their scopes.
    main = int(show(ct, "scopevisord.service", "MainPID")["MainPID"])
    found = spawners(ct)
    assert len(found) == 1, found
    assert ppid_of(ct, found[0]) == main
    assert "/system.slice/scopevisord.service" in cgroup_of(ct, found[0])
    fds = ct.run(["ls", "/proc/%d/fd" % found[0]]).stdout.split()
    assert sorted(fds) == ["0", "1", "2", "3"], fds
    pid, unit = spawned_pid(ct, "web-api")
    assert ppid_of(ct, pid) == main
    assert "/scopevisor.slice/" + unit in cgroup_of(ct, pid)
    assert "spawner process" not in daemon_log(ct), "the daemon fell back to fork()"


def test_scope_names_are_systemd_escaped(ct):
    escaped = ct.run(["systemd-escape", "web-api"]).stdout.strip()
    assert escaped == r"web\x2dapi"
    _pid, unit = spawned_pid(ct, "web-api")
    assert unit == "scopevisor-%s.scope" % escaped
    assert show(ct, unit, "ActiveState")["ActiveState"] == "active"
    _pid, unit = spawned_pid(ct, "grp:member")
    assert unit == "scopevisor-grp:member.scope"
    assert show(ct, unit, "ActiveState")["ActiveState"] == "active"


def journal_entries(ct, *match):
    out = ct.journal(*match, "-o", "json")
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_journalctl_u_shows_lines_with_fields(ct):
    pid, unit = spawned_pid(ct, "ticker")

    def both():
        es = [e for e in journal_entries(ct, "-u", unit) if e.get("SCOPEVISOR_PROGRAM") == "ticker"]
        outs = [e for e in es if e.get("SCOPEVISOR_STREAM") == "stdout"]
        return es if len(outs) >= 3 and len(outs) < len(es) else None

    entries = wait_for(both)
    assert entries, ct.journal("-u", unit)
    for e in entries:
        assert e["SYSLOG_IDENTIFIER"] == "ticker"
        assert e["OBJECT_PID"] == str(pid)
        assert e["OBJECT_SYSTEMD_UNIT"] == unit
        if e["SCOPEVISOR_STREAM"] == "stdout":
            assert e["PRIORITY"] == "6" and e["MESSAGE"].startswith("tick ")
        else:
            assert e["PRIORITY"] == "3" and e["MESSAGE"].startswith("tock ")
    # Lines are whole and in order: tick 1, tick 2, ... from the first run.
    ticks = [int(e["MESSAGE"].split()[1]) for e in entries if e["SCOPEVISOR_STREAM"] == "stdout"]
    assert ticks[:3] == [1, 2, 3]
    assert ticks == list(range(1, len(ticks) + 1))


def test_journalctl_by_program_field(ct):
    out = wait_for(lambda: ct.journal("SCOPEVISOR_PROGRAM=ticker", "SCOPEVISOR_STREAM=stderr", "-o", "cat"))
    assert out.splitlines()[0] == "tock 1"


def test_resource_limits_are_scope_properties(ct):
    _pid, unit = spawned_pid(ct, "ticker")
    p = show(ct, unit, "MemoryMax", "MemoryHigh", "TasksMax", "CPUWeight", "CPUQuotaPerSecUSec", "IOWeight")
    assert p == {
        "MemoryMax": str(64 << 20),
        "MemoryHigh": str(48 << 20),
        "TasksMax": "32",
        "CPUWeight": "42",
        "CPUQuotaPerSecUSec": "500ms",
        "IOWeight": "77",
    }


def test_kill_settings_follow_stopsignal_and_stopwaitsecs(ct):
    _pid, unit = spawned_pid(ct, "forker")
    p = show(ct, unit, "KillMode", "KillSignal", "TimeoutStopUSec", "SendSIGKILL")
    assert p == {"KillMode": "control-group", "KillSignal": "2", "TimeoutStopUSec": "3s", "SendSIGKILL": "yes"}


def test_exit_of_main_process_kills_the_rest_of_the_scope(ct):
    pid, unit = spawned_pid(ct, "forker")
    out = wait_for(lambda: ct.journal("-u", unit, "SCOPEVISOR_PROGRAM=forker", "-o", "cat"))
    child = int(re.findall(r"child (\d+)", out)[-1])
    assert alive(ct, child) and "scopevisor-forker.scope" in cgroup_of(ct, child)
    ct.run(["kill", "-KILL", str(pid)])
    # The program is restarted (autorestart) in a fresh scope of the same
    # name, and the sleep its first run left behind is gone.
    new_pid, new_unit = spawned_pid(ct, "forker", after=1)
    assert new_unit == unit and new_pid != pid
    assert wait_for(lambda: not alive(ct, child)), "the forked child survived the program"
    assert wait_for(lambda: "scopevisor-forker.scope" in cgroup_of(ct, new_pid))


def ticks(c):
    out = c.journal("SCOPEVISOR_PROGRAM=ticker", "SCOPEVISOR_STREAM=stdout", "-o", "cat")
    return [int(n) for n in re.findall(r"^tick (\d+)$", out, re.M)]


def test_programs_outlive_systemctl_stop_and_are_adopted(ct):
    pid, unit = spawned_pid(ct, "ticker")
    assert wait_for(lambda: len(ticks(ct)) >= 3)
    ct.run(["systemctl", "stop", "scopevisord.service"], timeout=60)
    # The spawner went with the daemon.
    assert wait_for(lambda: spawners(ct) == [], 5), spawners(ct)
    # Ten seconds without a daemon: the program keeps running in its scope,
    # and what it prints waits in its pipe (it holds both ends itself).
    time.sleep(10)
    assert alive(ct, pid)
    assert unit in cgroup_of(ct, pid)
    before = ticks(ct)
    ct.run(["systemctl", "start", "scopevisord.service"], timeout=60)
    assert wait_for(lambda: re.search(r"adopted: 'ticker' with pid %d in %s" % (pid, re.escape(unit)),
                                      daemon_log(ct))), daemon_log(ct)[-3000:]
    assert "spawned: 'ticker'" not in daemon_log(ct).split("adopted: 'ticker'")[-1]
    # The lines printed while no daemon read come through: no gap, no double.
    assert wait_for(lambda: len(ticks(ct)) >= len(before) + 60, 30)
    seen = ticks(ct)
    assert seen == list(range(seen[0], seen[0] + len(seen))), "gap or double across the restart"
    assert alive(ct, pid)


def test_shutdown_request_stops_every_scope(ct):
    _pid, _unit = spawned_pid(ct, "forker")
    out = ct.journal("SCOPEVISOR_PROGRAM=forker", "-o", "cat")
    child = int(re.findall(r"child (\d+)", out)[-1])
    shut_down(ct)
    assert not alive(ct, child)


def test_failed_scope_job_is_a_spawn_error_with_systemds_reason(ct):
    # The daemon's own scope of "taken" gone, somebody else takes its name
    # before the daemon starts again.
    shut_down(ct)
    tickers = len(re.findall(r"spawned: 'ticker'", daemon_log(ct)))
    ct.run("setsid systemd-run --quiet --scope --unit=scopevisor-taken.scope sleep 600 "
           "</dev/null >/dev/null 2>&1 &")
    try:
        assert wait_for(lambda: show(ct, "scopevisor-taken.scope", "ActiveState")["ActiveState"] == "active")
        ct.run(["systemctl", "start", "scopevisord.service"], timeout=60)
        log = wait_for(lambda: "spawnerr: taken:" in daemon_log(ct) and daemon_log(ct))
        assert log, daemon_log(ct)[-3000:]
        taken = "\n".join(line for line in log.splitlines() if "taken" in line)
        assert "couldn't create scope scopevisor-taken.scope" in log, taken
        assert re.search(r"couldn.t create scope scopevisor-taken\.scope: .*already (exists|loaded)", log), taken
        # The other programs started normally, and the foreign scope is untouched.
        assert wait_for(lambda: len(re.findall(r"spawned: 'ticker'", daemon_log(ct))) > tickers)
        assert show(ct, "scopevisor-taken.scope", "ActiveState")["ActiveState"] == "active"
    finally:
        # The name free again and "taken" running, for whatever test comes next.
        ct.run(["systemctl", "stop", "scopevisor-taken.scope"], check=False)
        manager_call(ct, "StartProgram", "s", "taken", check=False)
