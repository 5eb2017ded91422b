#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""scopevisord's xmlrpc adapter beside the real supervisord, same config,
same run: 1000 programs (/bin/sleep) and one program printing 500,000
lines. Prints both figures and the ratios; asserts nothing about speed.

    /usr/bin/python3 adapters/xmlrpc/bench/bench_xmlrpc.py --scopevisord build/daemon/scopevisord

Measured, each through the daemon's unix socket:
  - start-up: from launching the daemon until getAllProcessInfo shows every
    /bin/sleep program RUNNING (startsecs=0, so this is the supervisor's own
    work, not a configured wait);
  - getAllProcessInfo with 1000 programs: the server's answer (raw HTTP,
    until the last byte of the reply), and the full xmlrpc.client call
    (which adds Python's parsing of ~14000 struct members);
  - getState;
  - the daemon's RSS (VmRSS) with everything running, and at the same
    moment its PSS and its anonymous memory (heap, stacks) from
    /proc/PID/smaps_rollup, for insight: VmRSS is the figure compared;
  - reading the tail of the 500,000-line log: readProcessStdoutLog(name,
    -1600, 0), what `supervisorctl tail` does, and a 1 MiB tail.
"""

import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import xmlrpc.client

N_PROGRAMS = 1000
BIG_LINES = 500000
BIG_BYTES = sum(len(str(i)) + 1 for i in range(1, BIG_LINES + 1))


def config(n):
    parts = [
        "[supervisord]\nlogfile = %(here)s/main.log\npidfile = %(here)s/daemon.pid\n"
        "childlogdir = %(here)s\nminfds = 20000\nnodaemon = true\n",
        "[scopevisord]\nstate_dir = %(here)s/state\n",
        "[unix_http_server]\nfile = %(here)s/rpc.sock\n",
        "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
        "[program:biglog]\ncommand = /usr/bin/seq 1 %d\nstartsecs = 0\nautorestart = false\n" % BIG_LINES,
        "[program:s]\ncommand = /bin/sleep 100000\nprocess_name = s%%(process_num)04d\nnumprocs = %d\n"
        "startsecs = 0\n" % n,
    ]
    return "\n".join(parts)


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=600)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(600)
        self.sock.connect(self.path)


class UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path):
        super().__init__()
        self.path = path

    def make_connection(self, host):
        return UnixConn(self.path)


def proxy(sock):
    return xmlrpc.client.ServerProxy("http://localhost", transport=UnixTransport(sock))


def raw_call(sock, method, params=()):
    """The server's time: request out, last byte of the reply in."""
    body = xmlrpc.client.dumps(tuple(params), method).encode()
    c = UnixConn(sock)
    c.connect()
    t = time.perf_counter()
    c.request("POST", "/RPC2", body, {"Content-Type": "text/xml"})
    r = c.getresponse()
    data = r.read()
    dt = time.perf_counter() - t
    c.close()
    assert r.status == 200 and b"<fault>" not in data, data[:200]
    return dt, len(data)


def median_time(fn, n):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def memory_kib(pid):
    """VmRSS, then Pss and Anonymous read right after it."""
    res = {"rss_kib": 0, "pss_kib": 0, "anon_kib": 0}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                res["rss_kib"] = int(line.split()[1])
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                res["pss_kib"] = int(line.split()[1])
            elif line.startswith("Anonymous:"):
                res["anon_kib"] = int(line.split()[1])
    return res


def measure(name, argv, workdir):
    sock = os.path.join(workdir, "rpc.sock")
    res = {}
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "stderr.log"), "w"),
                            cwd=workdir)
    try:
        # Start-up until every sleeper is RUNNING.
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited: see {workdir}/stderr.log")
            try:
                infos = proxy(sock).supervisor.getAllProcessInfo()
                running = sum(1 for i in infos if i["group"] == "s" and i["statename"] == "RUNNING")
                if running == N_PROGRAMS:
                    break
            except (OSError, xmlrpc.client.Error):
                pass
            time.sleep(0.05)
        res["startup_s"] = time.perf_counter() - t0
        p = proxy(sock)
        raw = [raw_call(sock, "supervisor.getAllProcessInfo") for _ in range(15)]
        res["all_info_raw_s"] = statistics.median(t for t, _ in raw)
        res["all_info_bytes"] = raw[0][1]
        res["all_info_client_s"] = median_time(lambda: p.supervisor.getAllProcessInfo(), 10)
        res["get_state_s"] = median_time(lambda: p.supervisor.getState(), 200)
        res.update(memory_kib(proc.pid))
        # The 500,000-line log, once fully written.
        end = time.monotonic() + 120
        while p.supervisor.tailProcessStdoutLog("biglog", 0, 0)[1] < BIG_BYTES and time.monotonic() < end:
            time.sleep(0.1)
        tail = p.supervisor.readProcessStdoutLog("biglog", -1600, 0)
        assert tail.endswith("%d\n" % BIG_LINES), tail[-40:]
        res["tail_1600_s"] = median_time(lambda: p.supervisor.readProcessStdoutLog("biglog", -1600, 0), 20)
        res["tail_1mib_s"] = median_time(lambda: p.supervisor.readProcessStdoutLog("biglog", -(1 << 20), 0), 5)
        try:
            p.supervisor.shutdown()
        except (OSError, xmlrpc.client.Error):
            pass
        proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return res


def main():
    global N_PROGRAMS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scopevisord", default=os.environ.get("SCOPEVISORD", "build/daemon/scopevisord"))
    ap.add_argument("--supervisord", default="/usr/bin/supervisord")
    ap.add_argument("--programs", type=int, default=1000)
    args = ap.parse_args()
    N_PROGRAMS = args.programs

    base = tempfile.mkdtemp(prefix="scopevisor-xmlrpc-bench-")
    text = config(N_PROGRAMS)
    results = {}
    try:
        runs = [("scopevisord", [os.path.abspath(args.scopevisord), "-c", "CONF", "--backend", "direct"])]
        if os.path.exists(args.supervisord):
            runs.insert(0, ("supervisord", [args.supervisord, "-n", "-c", "CONF"]))
        else:
            print(f"{args.supervisord} not found: measuring scopevisord alone", file=sys.stderr)
        for name, argv in runs:
            d = os.path.join(base, name)
            os.makedirs(d)
            conf = os.path.join(d, "bench.conf")
            with open(conf, "w") as f:
                f.write(text)
            print(f"running {name} with {N_PROGRAMS} programs ...", file=sys.stderr, flush=True)
            results[name] = measure(name, [conf if a == "CONF" else a for a in argv], d)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    rows = [
        ("time until %d programs RUNNING" % N_PROGRAMS, "startup_s", "s"),
        ("getAllProcessInfo, server (raw HTTP)", "all_info_raw_s", "ms"),
        ("getAllProcessInfo, xmlrpc.client call", "all_info_client_s", "ms"),
        ("getState", "get_state_s", "ms"),
        ("daemon RSS (VmRSS)", "rss_kib", "MiB"),
        ("  of it anonymous (heap, stacks)", "anon_kib", "MiB"),
        ("  PSS (shared pages divided)", "pss_kib", "MiB"),
        ("tail of 500,000-line log (1600 B)", "tail_1600_s", "ms"),
        ("tail of 500,000-line log (1 MiB)", "tail_1mib_s", "ms"),
    ]
    sv, sc = results.get("supervisord"), results["scopevisord"]

    def fmt(v, unit):
        if unit == "ms":
            return "%.3f ms" % (v * 1000)
        if unit == "MiB":
            return "%.1f MiB" % (v / 1024)
        return "%.2f s" % v

    print("%-42s %14s %14s %10s" % ("", "supervisord", "scopevisord", "ratio"))
    for label, key, unit in rows:
        a = fmt(sv[key], unit) if sv else "-"
        b = fmt(sc[key], unit)
        if sv and sc[key]:
            # Times: how many times faster; memory: scopevisord's share.
            ratio = ("%.3f" % (sc[key] / sv[key])) if unit == "MiB" else ("%.1fx" % (sv[key] / sc[key]))
        else:
            ratio = "-"
        print("%-42s %14s %14s %10s" % (label, a, b, ratio))
    print("getAllProcessInfo reply: %d bytes (scopevisord)%s" % (
        sc["all_info_bytes"], ", %d bytes (supervisord)" % sv["all_info_bytes"] if sv else ""))
    print("ratio: supervisord time / scopevisord time; for memory scopevisord / supervisord")


if __name__ == "__main__":
    main()
