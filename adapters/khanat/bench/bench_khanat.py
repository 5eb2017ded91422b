#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""STATUSALL with 1000 running programs: requests per second and p50/p99
latency, through real TLS 1.2 client connections made as client.py makes
them (one connection per request), sequentially and from several threads.
Prints figures; asserts only that the replies are right.

    SCOPEVISORD=build/daemon/scopevisord /usr/bin/python3 adapters/khanat/bench/bench_khanat.py [PROGRAMS] [REQUESTS]
"""

import json
import pathlib
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))
from khanat_client import (Client, Daemon, HTTPSConnectionCertificate, free_port, make_certs,  # noqa: E402
                           wait_for)


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


class KeepAlive:
    """One TLS 1.2 connection for every request of a thread: the adapter's
    own cost, without a handshake per request."""

    def __init__(self, client):
        self.c = client
        self.local = threading.local()

    def ok(self, method, command):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = HTTPSConnectionCertificate(self.c.key, self.c.cert, self.c.ca_cert,
                                                                self.c.host, self.c.port)
        conn.request(method, "/" + command, b"{}", {"Content-type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        assert resp.status == 200
        if resp.getheader("Connection", "").lower() == "close" or resp.will_close:
            conn.close()
            self.local.conn = None
        return json.loads(data)


def run(client, n, threads, label):
    lat = []
    lock = threading.Lock()

    def worker(count):
        mine = []
        for _ in range(count):
            t0 = time.perf_counter()
            r = client.ok("GET", "STATUSALL")
            mine.append(time.perf_counter() - t0)
            assert len(r) == NPROG
        with lock:
            lat.extend(mine)

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(n // threads,)) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    print(f"STATUSALL x{len(lat):4d}, {threads} thread(s), {label:27s} {len(lat) / wall:8.1f} req/s   "
          f"p50 {statistics.median(lat) * 1000:7.2f} ms   p99 {pct(lat, 99) * 1000:7.2f} ms")


NPROG = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
NREQ = int(sys.argv[2]) if len(sys.argv) > 2 else 300

with tempfile.TemporaryDirectory() as d:
    tmp = pathlib.Path(d)
    ca = make_certs(tmp / "certs")
    port = free_port()
    appli = ca / "appli"
    progs = "".join(f"[p{i:04d}]\ncommand = /bin/sleep 3600\n" for i in range(NPROG))
    (tmp / "khaganat.cfg").write_text(
        f"[config]\nport = {port}\nkeyfile = {appli}/private/serverkey.pem\n"
        f"certfile = {appli}/certs/servercert.pem\nca_cert = {appli}/certs/cachaincert.pem\n" + progs)
    daemon = Daemon(tmp, f"[adapter:khanat]\nconfig = {tmp / 'khaganat.cfg'}\naddress = 127.0.0.1\n"
                         "launch_program = yes\n[access]\nkhanat:client = viewer\n")
    try:
        daemon.ready(60)
        client = Client(ca, "client", port)
        ok = wait_for(lambda: list(client.ok("GET", "STATUSALL").values()).count("started") == NPROG, 120, 0.5)
        assert ok, "not every program started"
        print(f"khanat adapter, {NPROG} running programs, TLS 1.2 with client certificate, "
              f""
              f"requests made as client.py makes them")
        run(client, max(NREQ // 3, 10), 1, "new connection per request")
        run(client, NREQ, 4, "new connection per request")
        keep = KeepAlive(client)
        run(keep, NREQ, 1, "keep-alive connection")
        run(keep, NREQ, 4, "keep-alive connection")
    finally:
        daemon.stop()
