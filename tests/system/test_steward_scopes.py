# SPDX-License-Identifier: LGPL-2.1-or-later
"""Steward commands in scopes of their own, against a real systemd, a real
nats-server and a fake Steward central (adapters/steward/tests): on the
systemd backend every REQCliCommand, REQnCliCommand and REQnCliCommandCont
runs in a transient scope of its own under scopevisor.slice, and a command
that outlives its MethodTimeout is killed with everything it forked, even a
process that left its process group. The direct backend's process groups
are covered by adapters/steward/tests."""

import os
import re
import sys

import pytest

from container import Container, netns_of

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "adapters", "steward", "tests"))
from nats_harness import FakeNode, NatsClient, next_error_log, wait_for  # noqa: E402

BUILD_DIR = os.environ.get("SCOPEVISOR_BUILD_DIR", "build")
NATS_SERVER = "/usr/sbin/nats-server"  # the host's /usr is the container's
if not os.path.exists(NATS_SERVER):
    pytest.skip("nats-server is missing (package nats-server)", allow_module_level=True)
NATS_PORT = 4222  # inside the container's own network namespace

CONFIG = f"""
[scopevisord]
backend = systemd

[adapter:steward]
node_name = ship1
central_node_name = central
broker_address = 127.0.0.1:{NATS_PORT}
nats_connect_retry_interval = 1
start_pub_hello = 2

[access]
steward:central = admin
"""

class Central:
    """The fake central inside the container's network."""

    def __init__(self, leader):
        with netns_of(leader):
            self.client = NatsClient(NATS_PORT, "central")
        self.node = FakeNode(self.client, "central")
        self.hello = self.client.sub("central.REQHello.EventNACK")
        self.node.listen("REQToFileAppend")
        self.errors = self.client.sub("errorCentral.REQErrorLog.EventACK")

    def cli(self, cmd, method="REQCliCommand", timeout=10, **kw):
        fields = dict(Data=["bash", "-c", cmd], ReplyMethod="REQToFileAppend", ACKTimeout=5, Retries=1,
                      ReplyACKTimeout=5, ReplyRetries=3, MethodTimeout=timeout, Directory="cli",
                      FileName="out.log")
        fields.update(kw)
        return self.node.send("ship1", method, **fields)

    def replies(self, n, timeout=30):
        out = []
        for _ in range(n):
            r = self.node.reply(timeout=timeout)
            assert r is not None, "no reply (%d of %d)" % (len(out), n)
            out.append(r.message()["Data"][0])
        return out

    def error_log(self, pattern, timeout=30):
        return next_error_log(self.client, self.errors, pattern, timeout)


def scope_gone(c, scope):
    """Whether systemd forgot `scope` (within a generous time)."""
    return wait_for(lambda: c.run(["systemctl", "show", scope, "-p", "LoadState", "--value"])
                    .stdout.strip() == "not-found", 30)


def daemon_log(c):
    return c.journal("-u", "scopevisord.service", "-o", "cat")


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    conf = tmp_path_factory.mktemp("conf")
    (conf / "scopevisor.conf").write_text(CONFIG)
    os.chmod(conf, 0o755)
    c = Container(config_dir=str(conf), build_dir=BUILD_DIR,
                  mask=["supervisor.service", "nats-server.service", "scopevisord.socket"])
    with c:
        c.run(["systemd-run", "--unit=test-nats", "--quiet", NATS_SERVER, "-a", "127.0.0.1", "-p",
               str(NATS_PORT)])
        c.run(["systemctl", "start", "scopevisord.service"], timeout=60)
        yield c


@pytest.fixture(scope="module")
def central(ct):
    def connect():
        try:
            return Central(ct.leader)
        except OSError:
            return None
    cen = wait_for(connect, 30)
    assert cen, "nats-server did not come up: " + ct.journal("-u", "test-nats.service", "-o", "cat")
    # A hello means the node is connected and subscribed.
    assert cen.client.next(cen.hello, 30) is not None, daemon_log(ct)[-3000:]
    yield cen
    cen.client.close()


SCOPE_RE = re.compile(r"/scopevisor\.slice/(scopevisor-steward-\d+-\d+\.scope)$", re.M)


def test_each_command_runs_in_a_scope_of_its_own(ct, central):
    assert central.cli("cat /proc/self/cgroup") is not None
    assert central.cli("cat /proc/self/cgroup", method="REQnCliCommand") is not None
    scopes = []
    for out in central.replies(2):
        m = SCOPE_RE.search(out)
        assert m, "not in a steward scope under scopevisor.slice: " + out
        scopes.append(m.group(1))
    assert scopes[0] != scopes[1]


def test_continuous_command_runs_in_a_scope(ct, central):
    # One reply per line: just the line with a scope path (every hierarchy
    # has one on a hybrid host).
    central.cli("grep -m1 scopevisor.slice /proc/self/cgroup || echo none", method="REQnCliCommandCont")
    (line,) = central.replies(1)
    assert SCOPE_RE.search(line.rstrip("\n")), line


def test_timeout_kills_the_whole_tree_and_the_scope(ct, central):
    pidfile = "/run/steward-bg.pid"
    ct.run(["rm", "-f", pidfile])
    # setsid: the background sleep leaves the command's process group, so only
    # the scope can still find it.
    central.cli("setsid sleep 600 >/dev/null 2>&1 < /dev/null & echo $! > %s; sleep 600" % pidfile, timeout=3)
    pid = wait_for(lambda: ct.run(["cat", pidfile], check=False).stdout.strip(), 30)
    assert pid, daemon_log(ct)[-3000:]
    cg = ct.run(["cat", "/proc/%s/cgroup" % pid], check=False).stdout
    m = SCOPE_RE.search(cg)
    assert m, "the background process is not in a steward scope: " + cg
    scope = m.group(1)
    assert ct.run(["systemctl", "is-active", scope], check=False).stdout.strip() == "active"

    assert central.error_log("method timed out"), daemon_log(ct)[-3000:]
    assert wait_for(lambda: ct.run(["kill", "-0", pid], check=False).returncode != 0, 30), \
        "the background sleep survived the timeout"
    # The scope is gone, not just emptied.
    assert scope_gone(ct, scope), ct.run(["systemctl", "status", scope], check=False).stdout
    assert not ct.run(["pgrep", "-f", "sleep 600"], check=False).stdout.strip()


def test_a_finished_command_leaves_no_scope(ct, central):
    central.cli("cat /proc/self/cgroup")
    (out,) = central.replies(1)
    scope = SCOPE_RE.search(out).group(1)
    assert scope_gone(ct, scope)
