#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`check` with 1000 running programs: requests per second and p50/p99
latency, one TCP connection per request as the original's client makes
them, plain and signed (one payload signed by `openssl pkeyutl -sign` and
sent again: the replay guard is off by default), sequentially and from
several threads. Prints figures; asserts only that the replies are right.

    SCOPEVISORD=build/daemon/scopevisord /usr/bin/python3 adapters/supervisor-rs/bench/bench_srs.py [PROGRAMS] [REQUESTS]
"""

import pathlib
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))
from srs_client import BANNER, Daemon, free_port, make_key, send, signed, wait_for  # noqa: E402


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def run(port, payload, prefix, n, threads, label):
    lat = []
    lock = threading.Lock()

    def worker(count):
        mine = []
        for _ in range(count):
            t0 = time.perf_counter()
            r = send(port, payload)
            mine.append(time.perf_counter() - t0)
            assert r.startswith(prefix) and r.count("child name: ") == NPROG, r[:200]
        with lock:
            lat.extend(mine)

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(n // threads,)) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    print(f"check x{len(lat):4d}, {threads} thread(s), {label:7s} {len(lat) / wall:8.1f} req/s   "
          f"p50 {statistics.median(lat) * 1000:7.2f} ms   p99 {pct(lat, 99) * 1000:7.2f} ms", flush=True)


NPROG = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
NREQ = int(sys.argv[2]) if len(sys.argv) > 2 else 200

with tempfile.TemporaryDirectory() as d:
    tmp = pathlib.Path(d)
    kids = tmp / "kids"
    kids.mkdir()
    for i in range(NPROG):
        (kids / f"p{i:04d}.yml").write_text("command: sleep 3600\n")
    (tmp / "server.yml").write_text(f"loadpaths:\n  - {kids}\nmode: full\n")
    priv = make_key(tmp / "keys", "bench")
    for encrypt in (False, True):
        port = free_port()
        sub = tmp / ("signed" if encrypt else "plain")
        sub.mkdir()
        daemon = Daemon(sub, f"[adapter:supervisor-rs]\nlistener_addr = 127.0.0.1\nport = {port}\n"
                             f"server_yml = {tmp / 'server.yml'}\n" +
                        # One client sends the same command again and again:
                        # it gets the role, and the replay guard is off.
                        (f"encrypt = on\npub_keys_path = {tmp / 'keys' / 'pub'}\nreplay_window = 0\n"
                         "\n[access]\nsupervisor-rs:bench = log-reader\n" if encrypt else "default_role = log-reader\n"))
        payload = signed(priv, "bench", "check") if encrypt else b"check"
        prefix = (BANNER.decode() if encrypt else "") + "==Check Results Below==\n"
        try:
            daemon.ready(120)
            ok = wait_for(lambda: send(port, payload).count("child name: ") == NPROG, 300, 0.5)
            assert ok, "not every program started"
            if not encrypt:
                print(f"supervisor-rs adapter, {NPROG} running programs, `check` (reply "
                      f"{len(send(port, payload))} bytes), one connection per request")
            label = "signed" if encrypt else "plain"
            run(port, payload, prefix, max(NREQ // 2, 10), 1, label)
            run(port, payload, prefix, NREQ, 4, label)
        finally:
            daemon.stop()
