# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hostile clients against the Khanat adapter: the real daemon over real TLS
with real certificates (contrib/certs/make-khanat-certs.sh into tmp_path).
One test per attack; each ends with the daemon alive and its peak RSS
within hostile.RSS_BUDGET_KIB of its idle RSS."""

import json
import os
import resource
import socket
import ssl
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
os.environ.setdefault("KHANAT_CERTS_SCRIPT", os.path.join(ROOT, "contrib", "certs", "make-khanat-certs.sh"))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "adapters", "khanat", "tests"))
from hostile import Daemon, SlowSenders, close_all, free_port, open_idle, raise_nofile, tcp_connector  # noqa: E402
from khanat_client import Client, make_certs  # noqa: E402

# A program that fills its log buffer (about 1 MiB of lines), so that LOG
# answers a reply far bigger than the socket buffers.
CHATTY = "/bin/sh -c 'i=0; while [ $i -lt 12000 ]; do echo \"line $i " + "x" * 90 + "\"; i=$((i+1)); done; exec sleep 3600'"


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"), clients=["admin", "stranger"])


def start_daemon(tmp_path, ca, extra_adapter="", access="khanat:admin = admin\n"):
    port = free_port()
    appli = ca / "appli"
    d = Daemon(tmp_path, f"""
[program:egs]
command = /bin/sleep 3600
autostart = false

[program:chatty]
command = {CHATTY}
autostart = true
startsecs = 0

[adapter:khanat]
address = 127.0.0.1
port = {port}
keyfile = {appli}/private/serverkey.pem
certfile = {appli}/certs/servercert.pem
ca_cert = {appli}/certs/cachaincert.pem
{extra_adapter}
[access]
{access}""", ready=lambda: can_connect(port))
    d.port = port
    d.client = lambda name="admin": Client(ca, name, port)
    return d


def can_connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def tls_context(ca, name="admin"):
    appli = ca / "appli"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(str(appli / "certs" / "cachaincert.pem"))
    ctx.load_cert_chain(str(appli / "certs" / f"{name}cert.pem"), str(appli / "private" / f"{name}key.pem"))
    return ctx


def raw_request(method, path, body=b"", content_type="application/json"):
    head = f"{method} {path} HTTP/1.1\r\nHost: khanat\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    head += f"Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def read_reply(s, limit=1 << 20):
    """(status, body bytes) of one reply read from an open socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the reply's head: %r" % data[:200])
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(body) < min(length, limit):
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, body


def wait_log_size(d, name, size, seconds=20):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        status, data = d.client().raw("GET", "LOG", {"name": name, "first-line": 0})
        if status == 200 and len(data) >= size:
            return len(data)
        time.sleep(0.2)
    raise AssertionError(f"the LOG reply of {name} never reached {size} bytes")


def test_deep_json_is_a_clean_error(tmp_path, ca):
    d = start_daemon(tmp_path, ca)
    try:
        c = d.client()
        # A million '[': refused by its size before any parsing.
        status, data = c.raw("POST", "LIST", b"[" * 1_000_000)
        assert status in (400, 413), data[:300]
        # Under the size limit but 65000 levels deep: refused by its depth.
        status, data = c.raw("POST", "LIST", b"[" * 65_000)
        assert status == 400
        assert b"deeper than 64" in data, data[:500]
        status, data = c.raw("POST", "START", b'{"name": "egs", "x": ' + b"{\"a\":" * 1000 + b"1" + b"}" * 1001)
        assert status == 400 and b"deeper than 64" in data
        assert c.ok("GET", "STATUS", {"name": "egs"}) == {"state": "stopped"}
        d.assert_bounded()
    finally:
        d.stop()


def test_oversize_body_is_413_and_changes_nothing(tmp_path, ca):
    d = start_daemon(tmp_path, ca)
    try:
        c = d.client()
        body = json.dumps({"name": "egs", "pad": "x" * (10 << 20)}).encode()
        status, data = c.raw("POST", "START", body)
        assert status == 413, data[:300]
        assert b"413" in data and b"65536" in data
        assert c.ok("GET", "STATUS", {"name": "egs"}) == {"state": "stopped"}
        # Just over the default 64 KiB limit is refused too; just under it is served.
        status, _ = c.raw("POST", "START", json.dumps({"name": "egs", "pad": "x" * 65536}).encode())
        assert status == 413
        assert c.ok("POST", "START", {"name": "egs", "pad": "x" * 60000}) == {"state": "started"}
        d.assert_bounded()
    finally:
        d.stop()


def test_unlisted_cn_is_refused_naming_the_key(tmp_path, ca):
    d = start_daemon(tmp_path, ca)
    try:
        status, data = d.client("stranger").call("GET", "LIST")
        assert status == 403
        assert "[access] khanat:stranger" in data and "default_role" in data, data
        assert "khanat:stranger" in d.output()
        assert d.client().ok("GET", "LIST")  # the listed CN is still served
        d.assert_bounded()
    finally:
        d.stop()


def test_idle_and_slow_connections_do_not_starve_a_client(tmp_path, ca):
    raise_nofile(8192)
    d = start_daemon(tmp_path, ca)
    # The daemon as it may run elsewhere: 1024 files at most.
    resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (1024, 1024))
    ctx = tls_context(ca)

    def tls_connect():
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        return ctx.wrap_socket(s)

    slow_tls = slow_tcp = None
    idle = []
    try:
        # 25 that finish the handshake and then send a request a byte a
        # second, 25 that send a ClientHello's worth of junk a byte a second,
        # and 1000 that connect and never send anything.
        slow_tls = SlowSenders(tls_connect, 25, raw_request("POST", "/LIST", b"{}"), seconds=60)
        slow_tcp = SlowSenders(tcp_connector(d.port), 25, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" * 40,
                               seconds=60)
        idle, refused = open_idle(tcp_connector(d.port), 1000)
        time.sleep(1.0)
        t0 = time.monotonic()
        listed = d.client().ok("GET", "LIST")
        took = time.monotonic() - t0
        print(f"LIST on a new connection under {len(idle)} idle + 50 slow: {took * 1000:.0f} ms "
              f"(daemon fds {d.fd_count()})", file=sys.stderr)
        assert "egs" in listed.values()
        assert took < 1.0
        t0 = time.monotonic()
        assert d.client().ok("POST", "START", {"name": "egs"}) == {"state": "started"}
        print(f"START under attack: {(time.monotonic() - t0) * 1000:.0f} ms", file=sys.stderr)
        assert d.client().ok("GET", "STATUS", {"name": "egs"}) == {"state": "started"}
        assert d.fd_count() < 1024
        assert "closed to make room (max_connections)" in d.output()
        d.assert_bounded()
    finally:
        for s in (slow_tls, slow_tcp):
            if s:
                s.stop()
        close_all(idle)
        d.stop()


def test_client_that_does_not_read_is_dropped(tmp_path, ca):
    d = start_daemon(tmp_path, ca, extra_adapter="write_timeout = 5\n")
    ctx = tls_context(ca)
    socks = []
    try:
        size = wait_log_size(d, "chatty", 900_000)
        print(f"LOG reply of chatty: {size} bytes", file=sys.stderr)
        request = raw_request("POST", "/LOG", json.dumps({"name": "chatty", "first-line": 0}).encode())
        # One never reads; one reads 8 KiB a second, which keeps every single
        # write making progress: only an overall deadline drops it. (What the
        # client's kernel and TLS layer already hold is still read after the
        # server's reset, a few seconds' worth.)
        for _ in range(2):
            raw = socket.socket()
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            raw.settimeout(5)
            raw.connect(("127.0.0.1", d.port))
            s = ctx.wrap_socket(raw)
            s.sendall(request)
            socks.append(s)
        never, trickle = socks
        t0 = time.monotonic()
        dropped = None
        while time.monotonic() - t0 < 30:
            try:
                data = trickle.recv(8192)
            except (ssl.SSLError, OSError):
                data = b""
            if not data:
                dropped = time.monotonic() - t0
                break
            time.sleep(1.0)
        print(f"slow reader dropped after {dropped} s", file=sys.stderr)
        assert dropped is not None and dropped < 15
        # The one that never read has been dropped as well: what it can
        # still read is what was in flight, then the end.
        never.settimeout(5)
        got = 0
        end = time.monotonic() + 20
        while time.monotonic() < end:
            try:
                chunk = never.recv(65536)
            except (ssl.SSLError, OSError):
                break
            if not chunk:
                break
            got += len(chunk)
        assert got < size, f"the whole reply came through ({got} bytes)"
        assert d.client().ok("GET", "STATUS", {"name": "chatty"}) == {"state": "started"}
        d.assert_bounded()
    finally:
        close_all(socks)
        d.stop()
