#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The systemd backend at scale, in a container booted as for the system
tests (tests/system/container.py), as root:

1. N programs (default 1000) to RUNNING, each in its own transient scope:
   from the daemon's start-up line to the N-th "entered RUNNING" line, by
   the journal's own timestamps.
2. One chatty program writing L numbered lines (default 100000) as fast as
   it can: lines per second until the last line is in the journal, zero
   loss checked in both the in-memory buffer (ReadLog over D-Bus) and the
   journal (every number once, in order), and journald's CPU time.

Usage: bench_scopes.py [--programs N] [--lines L] [BUILD_DIR]
Prints figures; exits 1 on loss, 77 (skip) without root or systemd-nspawn.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "system"))
from container import wait_for  # noqa: E402


def journal_json(c, *args):
    out = c.journal(*args, "-o", "json", "--output-fields=MESSAGE,__REALTIME_TIMESTAMP")
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def cpu_seconds(c, unit):
    pid = c.run(["systemctl", "show", "-p", "MainPID", "--value", unit]).stdout.strip()
    return pid_cpu_seconds(c, pid)


def pid_cpu_seconds(c, pid):
    fields = c.run(["cat", "/proc/%s/stat" % pid]).stdout.rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


# Where the time of a mass start goes: CPU seconds of each party.
# The daemon's spawner process (daemon/spawn_zygote.h) is found by its name.
PARTIES = [("PID 1", None), ("scopevisord", "scopevisord.service"), ("its spawner", "scopevisor-fork"),
           ("dbus-daemon", "dbus.service"), ("journald", "systemd-journald.service"),
           ("logind", "systemd-logind.service")]


def cpu_by_party(c):
    out = {}
    for name, unit in PARTIES:
        try:
            if unit is None:
                out[name] = pid_cpu_seconds(c, 1)
            elif "." not in unit:
                out[name] = pid_cpu_seconds(c, c.run(["pgrep", "-x", unit]).stdout.split()[0])
            else:
                out[name] = cpu_seconds(c, unit)
        except Exception:  # a party that is not running counts nothing
            out[name] = 0.0
    return out


def programs_cpu_seconds(c):
    """CPU time of the programs' processes (`sleep`) over their whole life:
    the child from its creation by the daemon (copying, fd set-up, waiting
    for its scope) through exec. /proc/PID/schedstat, in ns: utime and stime
    are rounded to 10 ms per process, more than such a child uses."""
    out = c.run("for p in $(pgrep -x sleep); do cat /proc/$p/schedstat 2>/dev/null; done", check=False).stdout
    return sum(int(line.split()[0]) for line in out.splitlines() if line.strip()) / 1e9


def run_daemon(c, conf_text):
    c.run(["systemctl", "stop", "scopevisord.service"], timeout=300)
    c.run("cat > /run/scopevisor-bench.conf", input=conf_text)
    c.run("mkdir -p /run/systemd/system/scopevisord.service.d && printf '[Service]\\nExecStart=\\n"
          "ExecStart=/usr/local/sbin/scopevisord -c /run/scopevisor-bench.conf\\n' "
          "> /run/systemd/system/scopevisord.service.d/bench.conf && systemctl daemon-reload")
    c.run(["journalctl", "--rotate"], check=False)
    c.run(["journalctl", "--vacuum-files=1"], check=False)
    since = c.run(["date", "+%Y-%m-%d %H:%M:%S"]).stdout.strip()
    c.run(["systemctl", "start", "scopevisord.service"], timeout=300)
    return since


def bench_programs(c, n):
    conf = "[scopevisord]\nbackend = systemd\n\n[program:p]\ncommand = /bin/sleep 3600\n" \
           "process_name = p%%(process_num)04d\nnumprocs = %d\nstartsecs = 0\n" % n
    # The daemon is not running yet: its own CPU time counts from zero.
    before = cpu_by_party(c)
    since = run_daemon(c, conf)

    def count():
        out = c.run(["journalctl", "-q", "--no-pager", "-u", "scopevisord.service", "--since", since, "-o", "cat",
                     "--grep", "entered RUNNING"], check=False, timeout=120).stdout
        return len(out.splitlines())

    got = wait_for(lambda: count() >= n, timeout=300, step=1)
    after = cpu_by_party(c)
    before["scopevisord"] = before["its spawner"] = 0.0
    entries = journal_json(c, "-u", "scopevisord.service", "--since", since)
    t0 = next(int(e["__REALTIME_TIMESTAMP"]) for e in entries if "started with pid" in e.get("MESSAGE", ""))
    running = [int(e["__REALTIME_TIMESTAMP"]) for e in entries if "entered RUNNING" in e.get("MESSAGE", "")]
    scopes = c.run("systemctl list-units --plain --no-legend 'scopevisor-p*.scope' | wc -l").stdout.strip()
    if not got or len(running) < n:
        print("programs: only %d of %d reached RUNNING" % (len(running), n))
        return False
    elapsed = (sorted(running)[n - 1] - t0) / 1e6
    print("programs: %d to RUNNING in scopes in %.2f s (%.1f ms each, %s scopes active)" %
          (n, elapsed, elapsed * 1000 / n, scopes))
    print("programs: CPU seconds until then: " +
          ", ".join("%s %.2f" % (name, after[name] - before[name]) for name, _ in PARTIES) +
          ", the programs' processes %.2f" % programs_cpu_seconds(c))
    # A daemon restart: adopting every program and refilling every buffer
    # from the journal happen before READY=1, which `systemctl restart` waits for.
    t = time.monotonic()
    c.run(["systemctl", "restart", "scopevisord.service"], timeout=300)
    restart = time.monotonic() - t
    log = c.run(["journalctl", "-q", "--no-pager", "-u", "scopevisord.service", "-o", "cat"], timeout=120).stdout
    adopted = log.split("started with pid")[-1].count("adopted: ")
    print("restart: %.2f s for `systemctl restart` with %d programs (%d adopted, buffers refilled from the "
          "journal)" % (restart, n, adopted))
    return adopted == n


def report_journal_loss(c, got, lines):
    """Where the journal's copy differs, and what journald said about it."""
    have = set(got)
    missing = [i for i in range(1, lines + 1) if str(i) not in have]
    print("journal: %d of %d lines, %d missing (first missing %s, last %s)" %
          (len(got), lines, len(missing), missing[0] if missing else "-", missing[-1] if missing else "-"))
    said = c.journal("-u", "systemd-journald.service", "-o", "cat")
    print("journald said:\n  " + "\n  ".join(said.splitlines()[-15:]))


def bench_lines(c, lines):
    conf = ("[scopevisord]\nbackend = systemd\nlog_buffer_lines = %d\nlog_buffer_bytes = 64MB\n\n"
            "[program:chatty]\ncommand = /usr/bin/seq 1 %d\nstartsecs = 0\nautorestart = false\n"
            "autostart = false\n" % (lines + 10, lines))
    run_daemon(c, conf)
    cpu0 = cpu_seconds(c, "systemd-journald.service")
    t0 = time.monotonic()
    c.run(["busctl", "call", "org.scopevisor1", "/org/scopevisor1", "org.scopevisor1.Manager",
           "StartProgram", "s", "chatty"], timeout=60)

    def in_journal():
        out = c.journal("SCOPEVISOR_PROGRAM=chatty", "-o", "cat", "-n", "1")
        return out.strip() == str(lines)

    ok = wait_for(in_journal, timeout=600, step=0.05)
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(c, "systemd-journald.service") - cpu0
    if not ok:
        print("lines: the last line never reached the journal")
        report_journal_loss(c, c.journal("SCOPEVISOR_PROGRAM=chatty", "-o", "cat").split(), lines)
        return False
    got = c.journal("SCOPEVISOR_PROGRAM=chatty", "-o", "cat").split()
    journal_ok = got == [str(i) for i in range(1, lines + 1)]
    if not journal_ok:
        report_journal_loss(c, got, lines)
    reply = c.run(["busctl", "call", "--json=short", "org.scopevisor1", "/org/scopevisor1",
                   "org.scopevisor1.Manager", "ReadLog", "sstu", "chatty", "stdout", "1", str(lines + 10)],
                  timeout=120).stdout
    data = json.loads(reply)["data"]
    buffer_ok = data[0] == 1 and data[1] == lines and data[2] == [str(i) for i in range(1, lines + 1)]
    print("lines: %d lines in %.2f s = %.0f lines/s into buffer + journal; journald CPU %.2f s (%.0f%% of the "
          "wall time); loss: journal %s, buffer %s" %
          (lines, elapsed, lines / elapsed, cpu, 100 * cpu / elapsed, "none" if journal_ok else "LOST",
           "none" if buffer_ok else "LOST"))
    # A new daemon refills the buffer from the journal and goes on numbering.
    # It starts chatty again (started by hand: its desired state), whose
    # second run's lines follow the first run's, refilled ones.
    c.run(["systemctl", "restart", "scopevisord.service"], timeout=300)
    log = c.run(["journalctl", "-q", "--no-pager", "-u", "scopevisord.service", "-o", "cat"], timeout=120).stdout
    refill = [line for line in log.split("started with pid")[-1].splitlines() if "refilled" in line]

    def read(first, n):
        reply = c.run(["busctl", "call", "--json=short", "org.scopevisor1", "/org/scopevisor1",
                       "org.scopevisor1.Manager", "ReadLog", "sstu", "chatty", "stdout", str(first), str(n)],
                      timeout=120).stdout
        return json.loads(reply)["data"]

    wait_for(lambda: read(0, 1)[1] >= 2 * lines, timeout=600, step=0.5)
    data = read(lines - 2, 6)
    refill_ok = data[0] == lines - 2 and data[2] == [str(lines - 2), str(lines - 1), str(lines), "1", "2", "3"]
    print("refill: %s; numbering across the restart: %s" % (refill[0] if refill else "no refill logged",
                                                            "continued" if refill_ok else "BROKEN %s" % data))
    return journal_ok and buffer_ok and refill_ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--programs", type=int, default=1000)
    ap.add_argument("--lines", type=int, default=100000)
    ap.add_argument("build_dir", nargs="?", default=os.environ.get("SCOPEVISOR_BUILD_DIR", "build"))
    a = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("systemd-nspawn"):
        print("SKIP: needs root and systemd-nspawn")
        return 77
    from container import Container

    conf = tempfile.mkdtemp(prefix="scopevisor-bench-")
    os.chmod(conf, 0o755)
    with open(os.path.join(conf, "scopevisor.conf"), "w") as f:
        f.write("[scopevisord]\nbackend = systemd\n")
    try:
        with Container(config_dir=conf, build_dir=a.build_dir,
                       mask=["supervisor.service", "nats-server.service"]) as c:
            ok = bench_programs(c, a.programs)
            ok = bench_lines(c, a.lines) and ok
    finally:
        shutil.rmtree(conf, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
