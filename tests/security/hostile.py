# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared pieces of the hostile-client suite: a real scopevisord on the
direct backend, its memory (idle RSS and peak RSS from /proc), and clients
that misbehave: connections that stay idle, and connections that send one
byte a second. Every loop here is bounded in count and time and talks only
to loopback or to unix sockets."""

import os
import http.client
import resource
import socket
import subprocess
import sys
import threading
import time
import xmlrpc.client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from waiting import end_process, wait_for  # noqa: E402,F401

DAEMON = os.environ.get("SCOPEVISORD", "build/daemon/scopevisord")

# The ceiling the hardening holds the daemon to: its peak RSS under any
# attack stays within this much of its idle RSS.
RSS_BUDGET_KIB = 64 * 1024


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def raise_nofile(n=8192):
    """The test process itself opens thousands of sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(soft, n), hard)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def proc_status(pid, key):
    """A kB field of /proc/PID/status (VmRSS, VmHWM), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


class Daemon:
    """scopevisord -c <tmp>/scopevisor.conf --backend direct, with the
    config text given; stderr is kept in <tmp>/daemon.log."""

    def __init__(self, tmp_path, config, ready=None, timeout=20, env_extra=None):
        self.dir = tmp_path
        self.conf = tmp_path / "scopevisor.conf"
        self.log = tmp_path / "daemon.log"
        self.conf.write_text(
            f"[supervisord]\nchildlogdir = {tmp_path}\n\n[scopevisord]\nstate_dir = {tmp_path}/state\n\n" + config
        )
        env = dict(os.environ)
        for k in ("NOTIFY_SOCKET", "DBUS_SESSION_BUS_ADDRESS", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
            env.pop(k, None)
        env["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=/nonexistent"
        env.update(env_extra or {})
        self.proc = subprocess.Popen(
            [DAEMON, "-c", str(self.conf), "--backend", "direct"],
            stdout=subprocess.DEVNULL,
            stderr=open(self.log, "w"),
            env=env,
        )
        self.pid = self.proc.pid
        if ready is not None and not wait_for(lambda: self.proc.poll() is not None or ready(), timeout):
            self.stop()
            raise RuntimeError("daemon did not come up:\n" + self.output())
        if self.proc.poll() is not None:
            raise RuntimeError("daemon exited:\n" + self.output())
        self.idle_rss_kib = proc_status(self.pid, "VmRSS")

    def output(self):
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def rss_kib(self):
        return proc_status(self.pid, "VmRSS")

    def peak_kib(self):
        return proc_status(self.pid, "VmHWM")

    def assert_bounded(self):
        """Alive, and its peak RSS within RSS_BUDGET_KIB of its idle RSS."""
        assert self.alive(), "the daemon died:\n" + self.output()[-4000:]
        peak = self.peak_kib()
        print(f"daemon pid {self.pid}: idle RSS {self.idle_rss_kib} KiB, peak {peak} KiB", file=sys.stderr)
        assert peak - self.idle_rss_kib <= RSS_BUDGET_KIB, (
            f"peak RSS {peak} KiB is more than {RSS_BUDGET_KIB} KiB over the idle {self.idle_rss_kib} KiB"
        )

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def stop(self):
        end_process(self.proc)


def open_idle(connect, n):
    """n connections made by connect() that never send anything. Those the
    server refused or closed at once are counted, not raised."""
    socks, refused = [], 0
    for _ in range(n):
        try:
            socks.append(connect())
        except OSError:
            refused += 1
    return socks, refused


class SlowSenders:
    """n connections, each sending `payload` one byte a second (a slowloris),
    for at most `seconds`; stop() ends them all."""

    def __init__(self, connect, n, payload, seconds=60):
        self.socks, _ = open_idle(connect, n)
        self.payload = payload
        self.deadline = time.monotonic() + seconds
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        i = 0
        while not self.stopping.is_set() and time.monotonic() < self.deadline:
            b = self.payload[i % len(self.payload) : i % len(self.payload) + 1]
            for s in list(self.socks):
                try:
                    s.send(b)
                except OSError:
                    self.socks.remove(s)
            i += 1
            self.stopping.wait(1.0)

    def stop(self):
        self.stopping.set()
        self.thread.join()
        close_all(self.socks)


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def tcp_connector(port, host="127.0.0.1", timeout=5):
    def connect():
        s = socket.create_connection((host, port), timeout=timeout)
        return s

    return connect


def unix_connector(path, timeout=5):
    def connect():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(path)
        return s

    return connect


class UnixTransport(xmlrpc.client.Transport):
    """xmlrpc.client over a unix socket (the XML-RPC adapter's
    [unix_http_server]), as supervisorctl talks to it."""

    def __init__(self, path, timeout=30):
        super().__init__()
        self.path, self.timeout = path, timeout

    def make_connection(self, host):
        path, timeout = self.path, self.timeout

        class Conn(http.client.HTTPConnection):
            def connect(self):
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(timeout)
                self.sock.connect(path)

        return Conn("localhost", timeout=timeout)


def unix_rpc(path, timeout=30):
    return xmlrpc.client.ServerProxy("http://localhost", transport=UnixTransport(path, timeout))
