#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Whole-daemon benchmarks: scopevisord against supervisord, same run, same config.

Each scenario writes one configuration file into a fresh temporary directory
and runs each daemon on it in turn, in the foreground, in a session (and
process group) of its own, with its console output (stdout and stderr) going
to a file in that directory. Figures come from the daemons' own log lines,
which both print in the same format:

    2024-01-01 12:00:00,123 INFO spawned: 'p0001' with pid 4242
    2024-01-01 12:00:00,124 INFO success: p0001 entered RUNNING state, ...
    2024-01-01 12:00:02,456 INFO exited: out (exit status 0; expected)

Scenarios (N programs, default 1000; L lines, default 20,000,000):

  start-sleep   N x `/bin/sleep 100000`, stdout/stderr_logfile=NONE.
                Time from exec of the daemon to the timestamp of the N-th
                "entered RUNNING state" line; then, after 2 s of quiet, the
                daemon's VmRSS (and Pss, VmHWM) with the N programs idle; then
                the time from SIGTERM to the daemon's exit (all stopped).
  start-auto    the same with the default stdout/stderr_logfile=AUTO, i.e.
                2N log files in childlogdir.
  start-shell   N x `sh -c 'while :; do sleep 1; done'`, logs NONE (a busy
                machine: N shells fork a sleep every second).
  out-file      one program `seq 1 L`, stdout_logfile=<tmp>/out.log,
                stdout_logfile_maxbytes=0 (no rotation). Time from the
                "spawned:" line to the later of the "exited:" line and the
                last write to out.log (its mtime once it has all its bytes).
                Zero loss is checked on the file: L lines, last line "L", and
                the whole file byte-identical to `seq 1 L` (SHA-256). The
                daemon's CPU time over the copy is printed too: seq writes
                some 50 million lines/s, so a daemon that keeps up shows
                seq's rate, and only its CPU time tells it from another.
  out-buffer    scopevisord only: the same program with stdout_logfile=NONE,
                i.e. into the in-memory log buffer only; time from "spawned:"
                to "exited:" (scopevisord reads the pipe to its end before it
                logs "exited:"). Loss cannot be seen from outside here;
                bench_throughput checks the numbering exactly in process.
                supervisord has no such buffer: the ratio is taken against
                its out-file figure, the only thing it does with output.

All programs use startsecs=0, so RUNNING is reached at spawn. scopevisord
reports it at once; supervisord reports it at the next pass of its main loop
(which waits up to 1 s in poll(), less when anything happens), so for
supervisord the figure may contain up to one loop pass of waiting.

No timing assertion is made anywhere: the script prints figures, ratios and
the targets, and exits non-zero only when a run failed (a daemon did not
start, a program did not reach RUNNING, output was lost).

Usage: bench_daemons.py [--quick] [--programs N] [--lines L]
                        [--scenarios a,b,...] [--scopevisord PATH]
                        [--supervisord PATH] [--control-socket auto|yes|no]
                        [--nice N] [--timeout S] [--stop-timeout S] [--keep]
"""

import argparse
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))

TS_RE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) ")
MiB = 1024.0 * 1024.0


def log(msg):
    print(msg, flush=True)


def parse_ts(line):
    """Wall-clock seconds of a log line's timestamp (local time, ms), or None."""
    m = TS_RE.match(line)
    if not m:
        return None
    return time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) + int(m.group(2)) / 1000.0


# ---------------------------------------------------------------- processes


def proc_status(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = v.strip()
    except OSError:
        pass
    return out


def kib(field):
    """'1234 kB' -> 1234."""
    try:
        return int(field.split()[0])
    except (AttributeError, IndexError, ValueError):
        return None


def memory(pid):
    """VmRSS, VmHWM and Pss of a process, in KiB."""
    st = proc_status(pid)
    pss = None
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = kib(line.split(":", 1)[1])
    except OSError:
        pass
    return {"rss": kib(st.get("VmRSS")), "hwm": kib(st.get("VmHWM")), "pss": pss}


def sched(pid):
    """(seconds on a CPU, seconds waiting for a CPU) of a process's main thread, or (None, None)."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            on_cpu, waiting = f.read().split()[:2]
        return int(on_cpu) / 1e9, int(waiting) / 1e9
    except (OSError, ValueError):
        return None, None


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def marked_pids(marker):
    """Every process whose environment carries the marker of one run."""
    needle = marker.encode() + b"\0"
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                if needle in f.read():
                    pids.append(int(d))
        except OSError:
            pass
    return pids


def kill_leftovers(marker):
    """SIGKILL what a daemon left behind; returns how many there were."""
    seen = set()
    for _ in range(50):
        pids = [p for p in marked_pids(marker) if p != os.getpid()]
        if not pids:
            break
        for p in pids:
            seen.add(p)
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)
    return len(seen)


class Daemon:
    """One daemon run: started in its own session, stopped with SIGTERM."""

    def __init__(self, name, argv, workdir, run_id):
        self.name = name
        self.argv = argv
        self.workdir = workdir
        self.console_path = os.path.join(workdir, "%s.console" % name)
        self.marker = "SCOPEVISOR_BENCH_RUN=%s" % run_id
        self.proc = None
        self.killed = False  # needed SIGKILL to go
        self.t_exec = None
        self._offset = 0
        self._partial = b""
        self.lines = []

    def start(self):
        env = dict(os.environ)
        k, _, v = self.marker.partition("=")
        env[k] = v
        env["PYTHONUNBUFFERED"] = "1"
        console = open(self.console_path, "wb")
        self.t_exec = time.time()
        self.proc = subprocess.Popen(self.argv, cwd=self.workdir, env=env, stdin=subprocess.DEVNULL,
                                     stdout=console, stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=(lambda: os.nice(NICE)) if NICE else None)
        console.close()

    def poll_lines(self):
        """Read what the daemon logged since the last call; return the new lines."""
        with open(self.console_path, "rb") as f:
            f.seek(self._offset)
            data = f.read()
        self._offset += len(data)
        data = self._partial + data
        parts = data.split(b"\n")
        self._partial = parts.pop()
        new = [p.decode("utf-8", "replace") for p in parts]
        self.lines.extend(new)
        return new

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=120.0):
        """SIGTERM, wait, SIGKILL the group and any leftover. Returns seconds to exit, or None."""
        if self.proc is None:
            return None
        took = None
        if self.proc.poll() is None:
            t = time.time()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
                took = time.time() - t
            except subprocess.TimeoutExpired:
                log("  %s did not exit %.0f s after SIGTERM: SIGKILL" % (self.name, timeout))
                self.killed = True
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                self.proc.wait()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        n = kill_leftovers(self.marker)
        if n:
            log("  %s left %d process(es) behind after it exited; killed them" % (self.name, n))
        self.poll_lines()
        return took

    def tail(self, n=15):
        self.poll_lines()
        return "\n".join("    " + l for l in self.lines[-n:])


# ------------------------------------------------------------------- config


CONTROL_SOCKET = True  # [unix_http_server] in the configuration (see main())
NICE = 0  # niceness increment for the daemons and their programs (see main())


def write_config(workdir, programs):
    """The one configuration both daemons read. programs: [(name, command, keys)]."""
    parts = [
        "[supervisord]",
        "logfile = %s/daemon.log" % workdir,
        "pidfile = %s/daemon.pid" % workdir,
        "childlogdir = %s/childlogs" % workdir,
        "minfds = 1024",
        "",
    ]
    if CONTROL_SOCKET:
        parts += [
            "[unix_http_server]",
            "file = %s/s.sock" % workdir,
            "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "",
        ]
    parts += [
        "[scopevisord]",
        "state_dir = %s/state" % workdir,
        "",
    ]
    for name, command, keys in programs:
        parts.append("[program:%s]" % name)
        parts.append("command = %s" % command)
        for k, v in keys:
            parts.append("%s = %s" % (k, v))
        parts.append("")
    os.makedirs(os.path.join(workdir, "childlogs"), exist_ok=True)
    path = os.path.join(workdir, "bench.conf")
    with open(path, "w") as f:
        f.write("\n".join(parts))
    return path


def probe_control_socket(args):
    """Can this scopevisord serve [unix_http_server] (is its xmlrpc adapter there)?"""
    workdir = tempfile.mkdtemp(prefix="scopevisor-bench-")
    try:
        conf = write_config(workdir, [])
        d = Daemon("probe", daemon_argv("scopevisord", args, conf), workdir, "probe-%d" % os.getpid())
        d.start()
        deadline = time.time() + 10
        started = False
        while time.time() < deadline and d.alive() and not started:
            time.sleep(0.02)
            started = any(" started with pid " in l for l in d.poll_lines())
        # The adapters load right after that line; give them a moment to fail.
        time.sleep(0.3)
        ok = started and d.alive()
        why = "" if ok else d.tail(5)
        d.stop(timeout=30)
        return ok, why
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def daemon_argv(which, args, conf):
    if which == "scopevisord":
        return [args.scopevisord, "-c", conf, "--backend", "direct"]
    return [args.supervisord, "-n", "-c", conf]


# ---------------------------------------------------------------- scenarios

LOGS_NONE = [("stdout_logfile", "NONE"), ("stderr_logfile", "NONE")]


def run_start(which, args, workdir, run_id, command, logs):
    """N programs to RUNNING; then RSS with them idle; then stop. Returns a result dict."""
    n = args.programs
    keys = [("startsecs", "0"), ("autostart", "true")] + logs
    progs = [("p%04d" % i, command, keys) for i in range(n)]
    conf = write_config(workdir, progs)
    d = Daemon(which, daemon_argv(which, args, conf), workdir, run_id)
    res = {"ok": False}
    d.start()
    running = 0
    t_last = t_first_spawn = None
    deadline = time.time() + args.timeout
    try:
        while running < n and time.time() < deadline:
            new = d.poll_lines()
            for line in new:
                if "entered RUNNING state" in line:
                    running += 1
                    if running == n:
                        t_last = parse_ts(line)
                elif t_first_spawn is None and " spawned: " in line:
                    t_first_spawn = parse_ts(line)
            if not d.alive():
                d.poll_lines()
                break
            if running < n:
                time.sleep(0.01)
        t_seen = time.time()
        cpu, waiting = sched(d.proc.pid)
        if running < n:
            log("  %s: only %d of %d programs reached RUNNING\n%s" % (which, running, n, d.tail()))
            return res
        res["to_running"] = t_last - d.t_exec
        res["to_running_seen"] = t_seen - d.t_exec
        res["to_first_spawn"] = (t_first_spawn - d.t_exec) if t_first_spawn else None
        res["cpu"], res["runq"] = cpu, waiting
        time.sleep(2.0)
        res["mem"] = memory(d.proc.pid)
        # Nothing may have died in the quiet period.
        bad = [l for l in d.poll_lines() if " exited: " in l or "spawnerr" in l or "FATAL" in l]
        if bad:
            log("  %s: programs exited while idle:\n    %s" % (which, "\n    ".join(bad[:5])))
            return res
        res["ok"] = True
        return res
    finally:
        res["stop"] = d.stop(timeout=args.stop_timeout)
        res["stop_killed"] = d.killed


def seq_digest(lines):
    h = hashlib.sha256()
    size = 0
    with subprocess.Popen(["seq", "1", str(lines)], stdout=subprocess.PIPE) as p:
        while True:
            b = p.stdout.read(1 << 20)
            if not b:
                break
            size += len(b)
            h.update(b)
    return h.hexdigest(), size


def check_file(path, lines, want_digest):
    h = hashlib.sha256()
    count = 0
    last = b""
    tail = b""
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
            count += b.count(b"\n")
            tail = (tail + b)[-64:]
    if tail.endswith(b"\n"):
        last = tail[:-1].rsplit(b"\n", 1)[-1]
    return {"lines": count, "last": last.decode(), "exact": h.hexdigest() == want_digest,
            "complete": count == lines and last == str(lines).encode()}


def run_output(which, args, workdir, run_id, to_file, want):
    """One program printing args.lines lines. Returns a result dict."""
    lines = args.lines
    out = os.path.join(workdir, "out.log")
    keys = [("startsecs", "0"), ("autorestart", "false"), ("stderr_logfile", "NONE")]
    if to_file:
        keys += [("stdout_logfile", out), ("stdout_logfile_maxbytes", "0")]
    else:
        keys += [("stdout_logfile", "NONE")]
    conf = write_config(workdir, [("out", "seq 1 %d" % lines, keys)])
    d = Daemon(which, daemon_argv(which, args, conf), workdir, run_id)
    res = {"ok": False}
    d.start()
    t_spawn = t_exit = cpu_spawn = None
    deadline = time.time() + args.timeout
    try:
        while time.time() < deadline:
            for line in d.poll_lines():
                if t_spawn is None and " spawned: 'out'" in line:
                    t_spawn = parse_ts(line)
                    # The daemon's CPU time so far is its start-up (and at
                    # most one poll interval of copying).
                    cpu_spawn = sched(d.proc.pid)[0]
                elif " exited: out " in line:
                    t_exit = parse_ts(line)
            if t_exit is not None:
                if not to_file:
                    break
                try:
                    if os.path.getsize(out) >= want[1]:
                        break
                except OSError:
                    pass
            if not d.alive():
                break
            time.sleep(0.005)
        cpu = sched(d.proc.pid)[0]
        if t_spawn is None or t_exit is None:
            log("  %s: the program did not run to its end\n%s" % (which, d.tail()))
            return res
        t_end = t_exit
        if to_file:
            st = os.stat(out)
            if st.st_size < want[1]:
                log("  %s: out.log has %d of %d bytes" % (which, st.st_size, want[1]))
            t_end = max(t_end, st.st_mtime_ns / 1e9)
        secs = max(t_end - t_spawn, 1e-3)
        res.update({"secs": secs, "rate": lines / secs, "cpu": cpu,
                    "cpu_copy": (cpu - cpu_spawn) if cpu is not None and cpu_spawn is not None else None,
                    "exit_after": t_exit - t_spawn})
        # A few more log lines would show a respawn or an error.
        time.sleep(0.2)
        again = [l for l in d.poll_lines() if " spawned: 'out'" in l]
        if again:
            log("  %s: the program was started again" % which)
        if to_file:
            d.stop(timeout=args.stop_timeout)  # closes the file
            chk = check_file(out, lines, want[0])
            res["check"] = chk
            res["ok"] = chk["complete"] and chk["exact"] and not again
        else:
            res["ok"] = not again
        return res
    finally:
        d.stop(timeout=args.stop_timeout)


# -------------------------------------------------------------------- table


def fmt_s(v):
    return "-" if v is None else "%.3f s" % v


def fmt_mib(kb):
    return "-" if kb is None else "%.1f MiB" % (kb / 1024.0)


def fmt_rate(v):
    return "-" if v is None else "%.2f M/s" % (v / 1e6)


def ratio(a, b):
    if a is None or b is None or a <= 0 or b <= 0:
        return "-"
    return "%.1fx" % (a / b)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="smoke mode: 100 programs, 1,000,000 lines, scenarios start-sleep and out-*")
    ap.add_argument("--programs", type=int, help="programs for the start-* scenarios (default 1000)")
    ap.add_argument("--lines", type=int, help="lines for the out-* scenarios (default 20000000)")
    ap.add_argument("--scopevisord", default=os.path.join(SOURCE_ROOT, "build", "daemon", "scopevisord"))
    ap.add_argument("--supervisord", default="/usr/bin/supervisord",
                    help="supervisord to compare with; '' to run scopevisord alone")
    ap.add_argument("--scenarios", help="comma-separated subset of: "
                    "start-sleep,start-auto,start-shell,out-file,out-buffer")
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds allowed to reach RUNNING / to copy")
    ap.add_argument("--stop-timeout", type=float, default=60.0,
                    help="seconds allowed from SIGTERM to exit before SIGKILL")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    ap.add_argument("--control-socket", choices=["auto", "yes", "no"], default="auto",
                    help="put [unix_http_server] (a control socket) in the configuration; "
                    "auto: yes if scopevisord can serve it (its xmlrpc adapter is built)")
    ap.add_argument("--nice", type=int, default=0,
                    help="run the daemons (and so their programs) with this niceness increment; a "
                    "negative one (root only) shields the figures from other work on the machine")
    args = ap.parse_args()
    global NICE
    NICE = args.nice

    all_scen = ["start-sleep", "start-auto", "start-shell", "out-file", "out-buffer"]
    if args.quick:
        args.programs = args.programs or 100
        args.lines = args.lines or 1000000
        scen = ["start-sleep", "out-file", "out-buffer"]
    else:
        args.programs = args.programs or 1000
        args.lines = args.lines or 20000000
        scen = all_scen
    if args.scenarios:
        scen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
        for s in scen:
            if s not in all_scen:
                ap.error("unknown scenario %r" % s)

    args.scopevisord = os.path.abspath(args.scopevisord)
    if not os.access(args.scopevisord, os.X_OK):
        ap.error("%s is not executable (build first: ninja -C build)" % args.scopevisord)
    daemons = ["scopevisord"]
    if args.supervisord and os.access(args.supervisord, os.X_OK):
        daemons.append("supervisord")
    else:
        log("supervisord not found (%r): scopevisord runs alone" % args.supervisord)
    ver = subprocess.run([args.scopevisord, "--version"], capture_output=True, text=True).stdout.strip()
    log("daemons: %s (%s, --backend direct)%s" % (
        args.scopevisord, ver,
        "" if len(daemons) == 1 else ", %s (%s, -n)" % (
            args.supervisord,
            subprocess.run([args.supervisord, "--version"], capture_output=True, text=True).stdout.strip())))
    log("machine: %d CPUs, load average %s; programs N=%d, lines L=%d%s" % (
        os.cpu_count(), loadavg(), args.programs, args.lines,
        "; daemons run with nice %+d" % NICE if NICE else ""))
    global CONTROL_SOCKET
    if args.control_socket == "auto":
        CONTROL_SOCKET, why = probe_control_socket(args)
        if not CONTROL_SOCKET:
            log("scopevisord cannot serve [unix_http_server] here; both daemons run without a control "
                "socket:\n%s" % why)
    else:
        CONTROL_SOCKET = args.control_socket == "yes"
    log("control socket ([unix_http_server]): %s" % ("yes, both daemons" if CONTROL_SOCKET else "no"))

    results = {}  # (scenario, daemon) -> dict
    failed = False
    want = None
    run_no = 0
    for s in scen:
        for which in daemons:
            if s == "out-buffer" and which != "scopevisord":
                continue
            run_no += 1
            run_id = "%d-%d-%d" % (os.getpid(), run_no, int(time.time()))
            workdir = tempfile.mkdtemp(prefix="scopevisor-bench-")
            log("%s / %s (load average %s) ..." % (s, which, loadavg()))
            try:
                if s == "start-sleep":
                    r = run_start(which, args, workdir, run_id, "/bin/sleep 100000", LOGS_NONE)
                elif s == "start-auto":
                    r = run_start(which, args, workdir, run_id, "/bin/sleep 100000", [])
                elif s == "start-shell":
                    r = run_start(which, args, workdir, run_id, "sh -c 'while :; do sleep 1; done'", LOGS_NONE)
                else:
                    if want is None:
                        want = seq_digest(args.lines)
                    r = run_output(which, args, workdir, run_id, s == "out-file", want)
            finally:
                if args.keep:
                    log("  kept %s" % workdir)
                else:
                    shutil.rmtree(workdir, ignore_errors=True)
            results[(s, which)] = r
            if not r.get("ok"):
                failed = True
            if s.startswith("start"):
                m = r.get("mem") or {}
                log("  all RUNNING at %s (first spawn at %s; seen by the poller at %s, when the daemon had "
                    "run %s on a CPU and waited %s for one)" % (
                        fmt_s(r.get("to_running")), fmt_s(r.get("to_first_spawn")),
                        fmt_s(r.get("to_running_seen")), fmt_s(r.get("cpu")), fmt_s(r.get("runq"))))
                log("  2 s later: VmRSS %s, Pss %s, VmHWM %s; SIGTERM to exit: %s" % (
                    fmt_mib(m.get("rss")), fmt_mib(m.get("pss")), fmt_mib(m.get("hwm")),
                    "> %.0f s (killed)" % args.stop_timeout if r.get("stop_killed") else fmt_s(r.get("stop"))))
            else:
                c = r.get("check")
                log("  %s lines in %s = %s (exited: line after %s; daemon CPU %s since the spawn, %s in all)%s" % (
                    args.lines, fmt_s(r.get("secs")), fmt_rate(r.get("rate")), fmt_s(r.get("exit_after")),
                    fmt_s(r.get("cpu_copy")), fmt_s(r.get("cpu")),
                    "" if not c else "; file: %d lines, last %r, %s" % (
                        c["lines"], c["last"], "identical to seq output" if c["exact"] else "DIFFERS")))
            time.sleep(0.5)

    # ---- the table
    N, L = args.programs, args.lines
    rows = []

    def get(s, d, *path):
        v = results.get((s, d))
        for p in path:
            if v is None:
                return None
            v = v.get(p)
        return v

    def verdict(v, target, better_low):
        if v is None:
            return ""
        ok = v <= target if better_low else v >= target
        return " (met)" if ok else " (MISSED)"

    if "start-sleep" in scen:
        a, b = get("start-sleep", "scopevisord", "to_running"), get("start-sleep", "supervisord", "to_running")
        rows.append(("%d x sleep to RUNNING, logs NONE" % N, fmt_s(a), fmt_s(b), ratio(b, a),
                     "<= 1 s" + verdict(a, 1.0, True) if N == 1000 else "(<= 1 s at N=1000)"))
    if "start-auto" in scen:
        a, b = get("start-auto", "scopevisord", "to_running"), get("start-auto", "supervisord", "to_running")
        rows.append(("%d x sleep to RUNNING, logs AUTO" % N, fmt_s(a), fmt_s(b), ratio(b, a), ""))
    if "start-shell" in scen:
        a, b = get("start-shell", "scopevisord", "to_running"), get("start-shell", "supervisord", "to_running")
        rows.append(("%d x shell loop to RUNNING, logs NONE" % N, fmt_s(a), fmt_s(b), ratio(b, a), ""))
    if "start-sleep" in scen:
        a = get("start-sleep", "scopevisord", "mem", "rss")
        b = get("start-sleep", "supervisord", "mem", "rss")
        rows.append(("RSS, %d idle programs (logs NONE)" % N, fmt_mib(a), fmt_mib(b), ratio(b, a),
                     "<= 10 MiB" + verdict(a and a / 1024.0, 10.0, True) if N == 1000 else "(<= 10 MiB at N=1000)"))
        a = get("start-sleep", "scopevisord", "mem", "pss")
        b = get("start-sleep", "supervisord", "mem", "pss")
        rows.append(("Pss, %d idle programs (logs NONE)" % N, fmt_mib(a), fmt_mib(b), ratio(b, a), ""))
    if "start-auto" in scen:
        a = get("start-auto", "scopevisord", "mem", "rss")
        b = get("start-auto", "supervisord", "mem", "rss")
        rows.append(("RSS, %d idle programs (logs AUTO)" % N, fmt_mib(a), fmt_mib(b), ratio(b, a), ""))
    if "start-sleep" in scen:
        def stop(d):
            if get("start-sleep", d, "stop_killed"):
                return "> %.0f s" % args.stop_timeout
            return fmt_s(get("start-sleep", d, "stop"))
        a, b = get("start-sleep", "scopevisord", "stop"), get("start-sleep", "supervisord", "stop")
        rows.append(("SIGTERM to exit, %d programs" % N, stop("scopevisord"), stop("supervisord"), ratio(b, a), ""))
    sup_file = get("out-file", "supervisord", "rate")
    if "out-file" in scen:
        a = get("out-file", "scopevisord", "rate")
        rows.append(("%d lines, to a file" % L, fmt_rate(a), fmt_rate(sup_file), ratio(a, sup_file), ""))
        def lost(d):
            c = get("out-file", d, "check")
            if c is None:
                return "-"
            return "%d%s" % (L - c["lines"], "" if c["exact"] else " (file DIFFERS)")
        rows.append(("  lines lost (file vs seq 1 %d)" % L, lost("scopevisord"),
                     lost("supervisord") if "supervisord" in daemons else "-", "", "0"))
        a, b = get("out-file", "scopevisord", "cpu_copy"), get("out-file", "supervisord", "cpu_copy")
        rows.append(("  daemon CPU for it (file)", fmt_s(a), fmt_s(b), ratio(b, a), ""))
    if "out-buffer" in scen:
        a = get("out-buffer", "scopevisord", "rate")
        rows.append(("%d lines, into the log buffer" % L, fmt_rate(a), "(no buffer)", ratio(a, sup_file) + "*",
                     ">= 10 M/s" + verdict(a and a / 1e6, 10.0, False)))
        a = get("out-buffer", "scopevisord", "cpu_copy")
        rows.append(("  daemon CPU for it (buffer)", fmt_s(a), "", "", ""))

    head = ("metric", "scopevisord", "supervisord", "ratio", "target")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(5)]
    print()
    print("  ".join(h.ljust(widths[i]) for i, h in enumerate(head)))
    print("  ".join("-" * widths[i] for i in range(5)))
    for r in rows:
        print("  ".join(str(c).ljust(widths[i]) for i, c in enumerate(r)).rstrip())
    print()
    print("ratio: how many times better scopevisord is (supervisord / scopevisord for times and memory,")
    print("scopevisord / supervisord for lines/s). * against supervisord's copy to a file.")
    print("When both daemons keep up with seq, lines/s is seq's rate; the daemon CPU rows tell them apart.")
    print("Times are from exec of the daemon (or its 'spawned:' line) to the daemon's own log timestamps")
    print("(ms); both daemons ran in turn, on the same machine, on the same generated configuration")
    print("(%s control socket)%s." % ("with a" if CONTROL_SOCKET else "without any",
                                      ", both at nice %+d" % NICE if NICE else ""))
    if failed:
        print("SOME RUNS FAILED: see the messages above.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
