# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hostile clients of the xmlrpc adapter (supervisord's XML-RPC), one test
per attack, each against the real daemon: anonymous TCP calls, oversized
multicalls, idle and slow connections by the thousand, a client that never
reads its reply, a local peer that is not root. Every test ends with the
daemon's peak RSS checked against its idle RSS."""

import base64
import http.client
import os
import socket
import subprocess
import sys
import time
import xmlrpc.client

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile  # noqa: E402
from hostile import wait_for  # noqa: E402

# A program whose stdout log holds 2 MB once it is running.
BIGLOG_BYTES = 2_000_000
PROGRAMS = f"""
[program:sleeper]
command = /bin/sleep 1000
startsecs = 0

[program:quick]
command = /bin/sleep 1000
autostart = false
startsecs = 0

[program:biglog]
command = /bin/sh -c 'head -c {BIGLOG_BYTES} /dev/zero | tr "\\000" a; exec /bin/sleep 1000'
startsecs = 0
"""


class Setup:
    """A daemon with the unix socket (reachable by every user, so that a
    non-root peer can try) and a TCP port, with Basic auth unless
    `username` is None; [access] names the user admin (as it would be
    without the line: it is the server's own username)."""

    def __init__(self, tmp_path, username="user", extra="[access]\nxmlrpc:user = admin\n"):
        self.port = hostile.free_port()
        # pytest's directories are 0700: the socket lives in /tmp.
        self.sock = f"/tmp/scopevisor-xmlrpc-hostile-{os.getpid()}.sock"
        auth = f"username = {username}\npassword = 123\n" if username else ""
        self.daemon = hostile.Daemon(
            tmp_path,
            f"[unix_http_server]\nfile = {self.sock}\nchmod = 0777\n\n"
            f"[inet_http_server]\nport = 127.0.0.1:{self.port}\n{auth}\n{extra}\n{PROGRAMS}",
            ready=self._answers,
        )
        wait_for(lambda: self.state("sleeper") == "RUNNING", 10)

    def _answers(self):
        try:
            return self.rpc().supervisor.getAPIVersion() == "3.0"
        except (OSError, xmlrpc.client.Error):
            return False

    def rpc(self, timeout=30):
        return xmlrpc.client.ServerProxy("http://localhost", transport=hostile.UnixTransport(self.sock, timeout))

    def tcp(self):
        return xmlrpc.client.ServerProxy(f"http://user:123@127.0.0.1:{self.port}/RPC2")

    def state(self, name):
        return self.rpc().supervisor.getProcessInfo(name)["statename"]

    def stop(self):
        self.daemon.stop()
        try:
            os.unlink(self.sock)
        except FileNotFoundError:
            pass


@pytest.fixture
def setup(tmp_path):
    s = Setup(tmp_path)
    yield s
    s.stop()


def post(body, auth=None):
    head = "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n"
    if auth:
        head += "Authorization: Basic " + base64.b64encode(auth.encode()).decode() + "\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def call_body(method, *params):
    return xmlrpc.client.dumps(params, method).encode()


def exchange(connect, data, timeout=10):
    s = connect()
    s.settimeout(timeout)
    s.sendall(data)
    out = b""
    try:
        while b"\r\n\r\n" not in out or len(out) < out.index(b"\r\n\r\n") + 4 + content_length(out):
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    return out


def log_end(setup, name):
    return setup.rpc().supervisor.tailProcessStdoutLog(name, 0, 10)[1]


def content_length(reply):
    for line in reply.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def test_anonymous_tcp_call_is_refused(tmp_path):
    # A TCP server with no username, no default_role: an anonymous
    # stopProcess gets 401 naming what to set, and nothing changes.
    s = Setup(tmp_path, username=None)
    try:
        d = s.daemon
        reply = exchange(hostile.tcp_connector(s.port), post(call_body("supervisor.stopProcess", "sleeper")))
        print(reply.decode(errors="replace"), file=sys.stderr)
        assert reply.startswith(b"HTTP/1.1 401"), reply
        assert b"default_role in [adapter:xmlrpc]" in reply and b"username/password in [inet_http_server]" in reply
        assert s.state("sleeper") == "RUNNING"
        d.assert_bounded()
    finally:
        s.stop()


def test_default_role_admin_restores_anonymous_access_with_a_warning(tmp_path):
    # The one line that brings the old behaviour back, and the warning it
    # earns on a port that is not loopback.
    port = hostile.free_port()
    d = hostile.Daemon(
        tmp_path,
        f"[inet_http_server]\nport = 0.0.0.0:{port}\n\n[adapter:xmlrpc]\ndefault_role = admin\n{PROGRAMS}",
        ready=lambda: "listening on" in (tmp_path / "daemon.log").read_text(),
    )
    try:
        assert xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2").supervisor.getState()["statecode"] == 1
        assert f"CRIT: 0.0.0.0:{port} is not a loopback address and [adapter:xmlrpc] default_role" in d.output()
        d.assert_bounded()
    finally:
        d.stop()


def test_multicall_of_10000_calls_is_refused_whole(setup):
    d = setup.daemon
    calls = [{"methodName": "supervisor.stopProcess", "params": ["sleeper"]}] * 10_000
    with pytest.raises(xmlrpc.client.Fault) as f:
        setup.tcp().system.multicall(calls)
    print(f.value.faultString, file=sys.stderr)
    assert f.value.faultCode == 2 and "at most 256 calls" in f.value.faultString
    assert setup.state("sleeper") == "RUNNING"
    d.assert_bounded()


def test_multicall_with_a_huge_reply_is_cut(setup):
    # 256 reads of a 2 MB log would make a 512 MB reply: a fault once the
    # text passes 16 MiB, and the daemon's memory stays bounded.
    d = setup.daemon
    wait_for(lambda: log_end(setup, "biglog") >= BIGLOG_BYTES, 20)
    calls = [{"methodName": "supervisor.readProcessStdoutLog", "params": ["biglog", 0, BIGLOG_BYTES]}] * 256
    with pytest.raises(xmlrpc.client.Fault) as f:
        setup.tcp().system.multicall(calls)
    print(f.value.faultString, file=sys.stderr)
    assert f.value.faultCode == 30 and "16 MiB" in f.value.faultString
    d.assert_bounded()


def test_idle_and_slow_connections_starve_nobody(setup):
    d = setup.daemon
    # The daemon as most systems start it: a soft limit of 1024 open files.
    subprocess.run(["prlimit", f"--pid={d.pid}", "--nofile=1024:1024"], check=True)
    hostile.raise_nofile()
    connect = hostile.tcp_connector(setup.port)
    idle, refused = hostile.open_idle(connect, 1000)
    slow = hostile.SlowSenders(connect, 50, b"POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 200\r\n\r\n")
    try:
        time.sleep(3)  # the slow ones have sent a few bytes each
        t0 = time.monotonic()
        assert setup.tcp().supervisor.getState()["statename"] == "RUNNING"
        elapsed = time.monotonic() - t0
        print(f"1000 idle ({refused} refused) + 50 slow: authenticated getState in {elapsed:.3f} s; "
              f"daemon fds {d.fd_count()}", file=sys.stderr)
        assert elapsed < 1.0
        assert setup.tcp().supervisor.startProcess("quick") is True
        assert setup.state("quick") == "RUNNING"
        assert d.fd_count() < 1024
    finally:
        slow.stop()
        hostile.close_all(idle)
    d.assert_bounded()


def test_a_client_that_never_reads_frees_its_worker(setup):
    d = setup.daemon
    wait_for(lambda: log_end(setup, "biglog") >= BIGLOG_BYTES, 20)
    base = d.fd_count()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", setup.port))
    # 12 MB of log: more than the kernel's socket buffers take (4 MiB at most).
    reads = [{"methodName": "supervisor.readProcessStdoutLog", "params": ["biglog", 0, BIGLOG_BYTES]}] * 6
    s.sendall(post(call_body("system.multicall", reads), auth="user:123"))
    try:
        assert wait_for(lambda: d.fd_count() > base, 5)
        t0 = time.monotonic()
        # The reply does not fit in the socket buffers; the daemon gives up
        # on the connection once the client took nothing for 10 s.
        freed = wait_for(lambda: d.fd_count() <= base, 25)
        print(f"never-reading client dropped after {time.monotonic() - t0:.1f} s", file=sys.stderr)
        assert freed and time.monotonic() - t0 < 20
    finally:
        s.close()
    assert setup.tcp().supervisor.getState()["statename"] == "RUNNING"
    d.assert_bounded()


def fault_as_nobody(call):
    """The fault string call() gets when made by uid/gid 65534 in a forked
    child ("" when it succeeds)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody, call, report, exit
        os.close(r)
        text = ""
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            call()
        except xmlrpc.client.Fault as f:
            text = f.faultString
        except BaseException as e:  # noqa: B036 (anything, reported to the parent)
            text = f"unexpected {e!r}"
        os.write(w, text.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        text = f.read().decode()
    os.waitpid(pid, 0)
    return text


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_unix_peer_that_is_not_root_is_refused(setup):
    # Without polkit only root and the daemon's user may act on the socket;
    # a group or "all" call is refused whole.
    d = setup.daemon
    for call in (lambda: setup.rpc().supervisor.stopProcessGroup("sleeper"),
                 lambda: setup.rpc().supervisor.stopAllProcesses()):
        text = fault_as_nobody(call)
        print(text, file=sys.stderr)
        assert text.startswith("FAILED: access denied: the 'control' right is required (uid 65534"), text
    assert setup.state("sleeper") == "RUNNING"
    d.assert_bounded()
