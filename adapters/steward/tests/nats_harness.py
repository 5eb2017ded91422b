# SPDX-License-Identifier: LGPL-2.1-or-later
"""Test harness: a real nats-server on a free loopback port, a minimal NATS
client speaking the text protocol (CONNECT, SUB, UNSUB, PUB, MSG, PING, PONG;
no Python NATS client exists in Debian), and scopevisord with the steward
adapter. Payloads are built and read with steward_gob.py."""

import base64
import json
import os
import queue
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time

import steward_gob as sg

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests", "support"))
from waiting import end_process, wait_for  # noqa: E402,F401

DAEMON = os.environ.get("SCOPEVISORD", "build/daemon/scopevisord")
NATS_SERVER = os.environ.get("NATS_SERVER") or shutil.which("nats-server") or "/usr/sbin/nats-server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


class NatsServer:
    def __init__(self, tmp, extra_conf="", port=None):
        self.dir = tmp
        self.port = port or free_port()
        self.conf = tmp / f"nats-{self.port}.conf"
        self.log = tmp / f"nats-{self.port}.log"
        self.conf.write_text(f"listen: 127.0.0.1:{self.port}\n{extra_conf}\n")
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen([NATS_SERVER, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "a"))
        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                return False
        assert wait_for(up, 10), read(self.log)

    def stop(self):
        if self.proc:
            end_process(self.proc, 10)

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"


class Msg:
    def __init__(self, subject, reply, data):
        self.subject, self.reply, self.data = subject, reply, data

    def message(self):
        vals, _ = sg.GobDecoder().decode(self.data)
        return vals[0]


class NatsClient:
    """Just enough of the NATS client protocol for a fake Steward node."""

    def __init__(self, port, name="fake", user=None, password=None, tls_ca=None, nkey_signer=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        info = json.loads(self._line().split(b" ", 1)[1])
        if info.get("tls_required"):
            ctx = ssl.create_default_context(cafile=tls_ca)
            ctx.check_hostname = False
            self.sock = ctx.wrap_socket(self.sock)
        opts = {"verbose": False, "pedantic": False, "name": name, "lang": "python", "version": "0",
                "protocol": 1, "headers": False, "no_responders": False}
        if user:
            opts.update(user=user, **{"pass": password})
        if nkey_signer:
            opts.update(nkey_signer(info["nonce"]))
        self._send(b"CONNECT " + json.dumps(opts).encode() + b"\r\nPING\r\n")
        line = self._line()
        assert line == b"PONG", line
        self.sock.settimeout(None)
        self.subs = {}
        self.next_sid = 1
        self.lock = threading.Lock()
        self.pongs = queue.Queue()
        self.closed = False
        self.reader = threading.Thread(target=self._read_loop, daemon=True)
        self.reader.start()

    def _send(self, data):
        self.sock.sendall(data)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _read_loop(self):
        try:
            while True:
                line = self._line()
                if line.startswith(b"MSG "):
                    parts = line.decode().split(" ")
                    if len(parts) == 5:
                        _, subj, sid, reply, n = parts
                    else:
                        _, subj, sid, n = parts
                        reply = None
                    data = self._exact(int(n))
                    q = self.subs.get(int(sid))
                    if q is not None:
                        q.put(Msg(subj, reply, data))
                elif line == b"PING":
                    with self.lock:
                        self._send(b"PONG\r\n")
                elif line == b"PONG":
                    self.pongs.put(True)
                elif line.startswith(b"-ERR"):
                    print("NATS error:", line)
        except (EOFError, OSError, ValueError):
            self.closed = True

    def sub(self, subject):
        with self.lock:
            sid = self.next_sid
            self.next_sid += 1
            self.subs[sid] = queue.Queue()
            self._send(f"SUB {subject} {sid}\r\n".encode())
        self.flush()
        return sid

    def unsub(self, sid):
        with self.lock:
            self._send(f"UNSUB {sid}\r\n".encode())
            self.subs.pop(sid, None)

    def pub(self, subject, data, reply=None):
        if isinstance(data, str):
            data = data.encode()
        head = f"PUB {subject} {reply + ' ' if reply else ''}{len(data)}\r\n".encode()
        with self.lock:
            self._send(head + data + b"\r\n")

    def flush(self, timeout=5):
        with self.lock:
            self._send(b"PING\r\n")
        self.pongs.get(timeout=timeout)

    def next(self, sid, timeout=10):
        try:
            return self.subs[sid].get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self, sid):
        out = []
        while True:
            try:
                out.append(self.subs[sid].get_nowait())
            except queue.Empty:
                return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def next_error_log(client, sid, pattern, timeout=10):
    """The next error log on subscription `sid` whose text contains
    `pattern`, decoded (each one seen is ACKed); None if none came."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = client.next(sid, max(0.1, end - time.monotonic()))
        if m is None:
            break
        if m.reply:
            client.pub(m.reply, "confirmed")
        if pattern in m.message()["Data"][0]:
            return m.message()
    return None


def kind(method):
    return {"REQHello": "EventNACK", "REQOpCommand": "CommandACK", "REQCliCommand": "CommandACK",
            "REQnCliCommand": "CommandACK", "REQnCliCommandCont": "CommandACK"}.get(method, "EventACK")


def subject(node, method):
    return f"{node}.{method}.{kind(method)}"


class FakeNode:
    """A Steward node played by the test, e.g. the central that commands the
    scopevisor node: sends messages with steward_gob, waits for ACKs, and
    receives (and ACKs) replies."""

    def __init__(self, client, name):
        self.c, self.name = client, name
        self.reply_sid = {}

    def listen(self, method, node=None):
        sid = self.c.sub(subject(node or self.name, method))
        self.reply_sid[method] = sid
        return sid

    def send(self, to, method, ack_timeout=5, **fields):
        """Publishes like a Steward publisher; returns the ACK text (or None)."""
        m = {"ToNode": to, "FromNode": self.name, "Method": method}
        m.update(fields)
        subj = subject(to, method)
        return self.send_raw(subj, sg.encode_message(m), ack_timeout)

    def send_raw(self, subj, payload, ack_timeout=5):
        rsid = self.c.sub(subj + ".reply")
        self.c.pub(subj, payload, reply=subj + ".reply")
        ack = self.c.next(rsid, ack_timeout)
        self.c.unsub(rsid)
        return ack.data.decode() if ack else None

    def reply(self, method="REQToFileAppend", timeout=10, ack=True):
        """The next reply the node sent us, decoded; ACKed unless told not to."""
        m = self.c.next(self.reply_sid[method], timeout)
        if m is None:
            return None
        if ack and m.reply:
            self.c.pub(m.reply, f"confirmed from: {self.name}: test")
        return m


class Daemon:
    def __init__(self, tmp, nats_addr, node="ship1", central="central", steward_extra="", extra="",
                 name=None):
        self.name = name or node
        self.dir = tmp / self.name
        self.dir.mkdir(exist_ok=True)
        self.data = self.dir / "data"
        self.conf = self.dir / "test.conf"
        self.log = self.dir / "daemon.log"
        self.sock = self.dir / "steward.sock"
        self.conf.write_text(
            f"[supervisord]\nchildlogdir = {self.dir}\n\n"
            f"[scopevisord]\nstate_dir = {self.dir / 'state'}\n\n"
            f"[adapter:steward]\nnode_name = {node}\ncentral_node_name = {central}\n"
            f"broker_address = {nats_addr}\ndata_folder = {self.data}\nsocket_folder = {self.dir}\n"
            f"nats_connect_retry_interval = 1\n{steward_extra}\n{extra}\n")
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env.pop("JOURNAL_STREAM", None)
        env["XDG_STATE_HOME"] = str(self.dir / "state")
        self.proc = subprocess.Popen([DAEMON, "-c", str(self.conf), "--backend", "direct"],
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "w"), env=env,
                                     cwd=str(self.dir))

    def output(self):
        return read(self.log)

    def wait_log(self, pattern, timeout=10.0):
        return wait_for(lambda: re.search(pattern, self.output()), timeout)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        return end_process(self.proc, 20)

    def send_json(self, messages):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(self.sock))
        s.sendall(json.dumps(messages).encode())
        s.close()


# ------------------------------------------------------------ nkeys, by openssl
def _crc16(d):
    c = 0
    for b in d:
        c ^= b << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) & 0xFFFF if c & 0x8000 else (c << 1) & 0xFFFF
    return c


def _b32(raw):
    return base64.b32encode(raw).decode().rstrip("=")


def make_user_nkey(tmp):
    """A fresh user nkey made with openssl (independently of the adapter's
    derivation): returns (seed, public key, signer for NatsClient)."""
    der = subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-outform", "DER"],
                         capture_output=True, check=True).stdout
    priv = der[-32:]
    pub = subprocess.run(["openssl", "pkey", "-inform", "DER", "-pubout", "-outform", "DER"], input=der,
                         capture_output=True, check=True).stdout[-32:]
    seed_raw = bytes([18 << 3 | (20 << 3) >> 5, ((20 << 3) & 31) << 3]) + priv
    seed_raw += _crc16(seed_raw).to_bytes(2, "little")
    pub_raw = bytes([20 << 3]) + pub
    pub_raw += _crc16(pub_raw).to_bytes(2, "little")
    keyfile = tmp / f"key-{_b32(pub_raw)[:8]}.der"
    keyfile.write_bytes(der)

    def signer(nonce):
        sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-rawin", "-inkey", str(keyfile), "-keyform", "DER"],
                             input=nonce.encode(), capture_output=True, check=True).stdout
        return {"nkey": _b32(pub_raw), "sig": base64.urlsafe_b64encode(sig).decode().rstrip("=")}

    return _b32(seed_raw), _b32(pub_raw), signer
