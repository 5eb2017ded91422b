# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hostile Steward peers against the real daemon and a real nats-server on
loopback: one test per attack. The fake Steward nodes and the gob payloads
come from the steward adapter's own test helpers (nats_harness.py,
steward_gob.py). Each test ends with the daemon alive and its peak RSS
within hostile.RSS_BUDGET_KIB of its idle RSS."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "adapters", "steward", "tests"))

import pytest  # noqa: E402

from hostile import Daemon  # noqa: E402
from nats_harness import FakeNode, NatsClient, NatsServer, subject, wait_for  # noqa: E402

SETPRIV = shutil.which("setpriv")

PROGRAMS = """
[program:sleeper]
command = sleep 1000
autostart = false
startsecs = 0
"""


@pytest.fixture(scope="module")
def nats(tmp_path_factory):
    # The broker lets big payloads through, so that the node's own limit is
    # what refuses them.
    srv = NatsServer(tmp_path_factory.mktemp("nats"), extra_conf="max_payload: 8MB")
    yield srv
    srv.stop()


class Node:
    """scopevisord as Steward node "ship1" and a NATS client that plays the
    other nodes: "central" (admin), "op" (operator), "viewer" (viewer) and
    "stranger" (not in [access])."""

    def __init__(self, tmp, nats, steward_extra=""):
        self.client = NatsClient(nats.port, "central")
        self.hello = self.client.sub("central.REQHello.EventNACK")
        self.data = tmp / "data"
        # steward.sock in a folder any user may reach (pytest's is 0700).
        self.sockdir = tempfile.mkdtemp(prefix="steward-sock-")
        os.chmod(self.sockdir, 0o755)
        self.sock = os.path.join(self.sockdir, "steward.sock")
        config = (
            f"[adapter:steward]\nnode_name = ship1\ncentral_node_name = central\n"
            f"broker_address = {nats.address}\ndata_folder = {self.data}\nsocket_folder = {self.sockdir}\n"
            f"socket_mode = 0666\nstart_pub_hello = 60\nnats_connect_retry_interval = 1\n{steward_extra}\n"
            "[access]\nsteward:central = admin\nsteward:op = operator\nsteward:viewer = viewer\n" + PROGRAMS
        )
        # Ready once the first hello came: the node's subscriptions exist then.
        try:
            self.daemon = Daemon(tmp, config, ready=lambda: self.client.next(self.hello, 0.2) is not None)
        except Exception:
            self.client.close()
            shutil.rmtree(self.sockdir, ignore_errors=True)
            raise

    def peer(self, name):
        return FakeNode(self.client, name)

    def logged(self, text, timeout=10):
        return wait_for(lambda: text in self.daemon.output(), timeout)

    def close(self):
        self.daemon.stop()
        self.client.close()
        shutil.rmtree(self.sockdir, ignore_errors=True)


@pytest.fixture
def node(tmp_path, nats):
    n = Node(tmp_path, nats)
    yield n
    n.close()


def bounded(node):
    node.daemon.assert_bounded()
    d = node.daemon
    print(f"idle RSS {d.idle_rss_kib} KiB, peak RSS {d.peak_kib()} KiB")


@pytest.mark.parametrize("size,limit", [(1_000_000, "over the limit of 65536 bytes"), (60_000, "deeper than 64")])
def test_deep_oparg_is_refused(node, size, limit):
    ack = node.peer("central").send("ship1", "REQOpCommand", Operation={"OpCmd": "startProc", "OpArg": b"[" * size},
                                    ReplyACKTimeout=5, ReplyRetries=1, Directory="op", FileName="op.log")
    assert ack is not None and ack.startswith("confirmed"), ack
    assert node.logged("error: startProc: opArg: JSON"), node.daemon.output()[-2000:]
    assert limit in node.daemon.output()
    bounded(node)


def test_oversize_payload_is_refused(node):
    ack = node.peer("central").send("ship1", "REQToFile", Data=["x" * (4 << 20)], Directory="big",
                                    FileName="big.bin")
    assert ack is not None and "max_message_bytes" in ack, ack
    assert node.logged("refused: over max_message_bytes (1048576 bytes)"), node.daemon.output()[-2000:]
    time.sleep(0.5)
    assert not (node.data / "big").exists()
    bounded(node)


def test_gob_value_flood_is_refused(node):
    # A million one-byte elements fit in one 1 MiB payload but would cost
    # ~170 MiB decoded: the decoder stops at its value budget.
    ack = node.peer("central").send("ship1", "REQToFile", Data=[""] * 1_000_000, Directory="flood", FileName="f")
    assert ack == "error from: ship1: malformed message", ack
    assert node.logged("gob decoding failed: more than 131072 values in one stream"), node.daemon.output()[-2000:]
    assert not (node.data / "flood").exists()
    bounded(node)


@pytest.mark.parametrize("method,data", [
    ("REQCliCommand", ["bash", "-c", "touch {marker}"]),
    ("REQTailFile", ["/etc/shadow"]),
    ("REQHttpGet", ["http://127.0.0.1:9/"]),
])
def test_operator_may_not_use_admin_methods(node, tmp_path, method, data):
    marker = tmp_path / "ran"
    data = [d.format(marker=marker) for d in data]
    ack = node.peer("op").send("ship1", method, Data=data, MethodTimeout=3, ReplyMethod="REQToFileAppend",
                               Directory="x", FileName="x.log")
    assert ack == "not allowed from op", ack
    assert node.logged(f"{method} not allowed from 'op' (role operator, needs manage; "
                       "set [access] steward:op = admin"), node.daemon.output()[-2000:]
    time.sleep(1)
    assert not marker.exists()
    assert not (node.data / "x").exists()
    bounded(node)


def test_viewer_may_not_write_files(node):
    for method in ("REQToFile", "REQToFileAppend"):
        ack = node.peer("viewer").send("ship1", method, Data=["owned\n"], Directory="w", FileName="f")
        assert ack == "not allowed from viewer", ack
        assert node.logged(f"{method} not allowed from 'viewer' (role viewer, needs control; "
                           "set [access] steward:viewer = operator"), node.daemon.output()[-2000:]
    assert not (node.data / "w").exists()
    bounded(node)


def test_operator_write_over_quota_is_refused(tmp_path, nats):
    n = Node(tmp_path, nats, steward_extra="data_folder_quota = 64K\ndata_file_max = 48K")
    try:
        op = n.peer("op")
        assert op.send("ship1", "REQToFile", Data=["a" * 1000], Directory="q", FileName="small").startswith(
            "confirmed")
        assert wait_for(lambda: (n.data / "q" / "ship1" / "small").exists(), 5)
        # One file over data_file_max, then files that together pass data_folder_quota.
        op.send("ship1", "REQToFile", Data=["b" * (50 << 10)], Directory="q", FileName="big")
        assert n.logged("over data_file_max (49152 bytes); nothing written"), n.daemon.output()[-2000:]
        assert not (n.data / "q" / "ship1" / "big").exists()
        for i in range(2):
            op.send("ship1", "REQToFile", Data=["c" * (40 << 10)], Directory="q", FileName=f"part{i}")
        assert n.logged("over data_folder_quota (65536 bytes"), n.daemon.output()[-2000:]
        assert (n.data / "q" / "ship1" / "part0").exists() and not (n.data / "q" / "ship1" / "part1").exists()
        used = sum(p.stat().st_size for p in n.data.rglob("*") if p.is_file())
        assert used <= 64 << 10
        bounded(n)
    finally:
        n.close()


def test_unlisted_node_without_default_role_is_refused(node):
    stranger = node.peer("stranger")
    assert stranger.send("ship1", "REQToFile", Data=["x\n"], Directory="s", FileName="f") == \
        "not allowed from stranger"
    assert stranger.send("ship1", "REQOpCommand", Operation={"OpCmd": "stopProc", "OpArg": b'{"group":"sleeper"}'},
                         Directory="s", FileName="f") == "not allowed from stranger"
    assert node.logged("REQToFile not allowed from 'stranger' (role none, needs control; "
                       "set [access] steward:stranger = operator"), node.daemon.output()[-2000:]
    assert node.logged("REQOpCommand not allowed from 'stranger' (role none"), node.daemon.output()[-2000:]
    assert not (node.data / "s").exists()
    bounded(node)


def send_json_as(sock, payload, as_nobody):
    code = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
            "s.sendall(sys.argv[2].encode()); s.close()")
    cmd = [sys.executable, "-c", code, sock, payload]
    if as_nobody:
        cmd = [SETPRIV, "--reuid", "65534", "--regid", "65534", "--clear-groups"] + cmd
    subprocess.run(cmd, check=True, timeout=20)


@pytest.mark.skipif(os.geteuid() != 0 or SETPRIV is None, reason="needs root and setpriv")
def test_local_socket_refuses_non_root(node):
    sid = node.client.sub(subject("central", "REQCliCommand"))
    msg = ('[{"toNode":"central","method":"REQCliCommand","data":["bash","-c","id"],'
           '"methodTimeout":5,"replyMethod":"REQToFileAppend"}]')
    send_json_as(node.sock, msg, as_nobody=True)
    assert node.logged("steward.sock: uid 65534"), node.daemon.output()[-2000:]
    assert "may not manage (REQCliCommand to central)" in node.daemon.output()
    assert node.client.next(sid, 2) is None
    # Root is allowed without polkit.
    send_json_as(node.sock, msg, as_nobody=False)
    m = node.client.next(sid, 10)
    assert m is not None, node.daemon.output()[-2000:]
    if m.reply:
        node.client.pub(m.reply, "confirmed from: central: test")
    assert m.message()["Data"] == ["bash", "-c", "id"]
    bounded(node)
