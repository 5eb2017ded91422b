# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hostile clients of the supervisor-rs adapter (one command per TCP
connection, plain or RSA-signed), against a real scopevisord on the direct
backend. One test per attack; each ends with the daemon alive and its peak
RSS within budget (hostile.Daemon.assert_bounded), and prints idle and peak
RSS. Signatures are made with `openssl pkeyutl -sign`, as the adapter's own
tests make them."""

import os
import resource
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "adapters", "supervisor-rs", "tests"))
from hostile import DAEMON, Daemon, SlowSenders, close_all, free_port, open_idle, raise_nofile, tcp_connector, wait_for  # noqa: E402
from srs_client import BANNER, make_key, send, signed  # noqa: E402

# No exec: the shell keeps its arguments in its command line, which
# running() looks for.
HOLD = "#!/bin/sh\nsleep 300\n"


def write_tree(tmp_path, children, mode="quiet", startup=()):
    """A server.yml whose loadpath holds `children` ({file name: yml text})
    and hold.sh, a program that ignores its arguments."""
    kids = tmp_path / "kids"
    kids.mkdir(exist_ok=True)
    hold = kids / "hold.sh"
    hold.write_text(HOLD)
    hold.chmod(0o755)
    for name, text in children.items():
        (kids / name).write_text(text)
    server = tmp_path / "server.yml"
    lines = "".join(f"  - {s}\n" for s in startup)
    server.write_text(f"loadpaths:\n  - {kids}\nmode: {mode}\n" + (f"startup:\n{lines}" if startup else ""))
    return server


def srs_daemon(tmp_path, section="", access="", children=None, mode="quiet", startup=()):
    server = write_tree(tmp_path, children or {"sleeper.yml": "command: ./hold.sh sleeper\n"}, mode, startup)
    port = free_port()

    def ready():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    d = Daemon(tmp_path, f"[adapter:supervisor-rs]\nlistener_addr = 127.0.0.1\nport = {port}\n"
                         f"server_yml = {server}\n{section}\n[access]\n{access}\n", ready=ready)
    d.port = port
    return d


def children_of(pid):
    """The command lines of the direct children of `pid`."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    out.append(f.read().replace(b"\0", b" ").decode(errors="replace"))
        except (OSError, IndexError, ValueError):
            pass
    return out


def running(d, name):
    """Whether hold.sh `name` runs (a fresh child shows it once exec'd:
    wait_for it after a start)."""
    return any(f"hold.sh {name}" in c for c in children_of(d.pid))


# ------------------------------------------------------------------ rights --

def test_plain_mode_refuses_anonymous_clients_by_default(tmp_path):
    d = srs_daemon(tmp_path)
    try:
        for cmd in ("start sleeper", "kill", "check", "stop all"):
            r = send(d.port, cmd)
            assert r.startswith("Refused: ") and "\n" not in r, r
            assert "default_role" in r and "encrypt = on" in r, r
        time.sleep(0.5)
        assert not running(d, "sleeper")  # the program was not touched
        assert d.alive()  # the kill was refused too
        assert "every command is refused" in d.output()
        d.assert_bounded()
    finally:
        d.stop()


def test_check_needs_log_reader(tmp_path):
    # check shows command lines, which may hold secrets.
    d = srs_daemon(tmp_path, section="default_role = viewer\n", mode="half", startup=["secret"],
                   children={"secret.yml": "command: ./hold.sh secret --password=hunter2\n"})
    try:
        assert wait_for(lambda: "[secret ]" in send(d.port, "info"))  # info is for viewers
        for cmd in ("check", "check secret", "check all"):
            r = send(d.port, cmd)
            assert r == "Permission denied: anonymous has the role viewer, check needs log-reader", r
            assert "hunter2" not in r
        d.assert_bounded()
    finally:
        d.stop()


# ------------------------------------------------------------------- input --

def test_oversize_message_is_refused_and_changes_nothing(tmp_path):
    d = srs_daemon(tmp_path, section="default_role = admin\n")
    try:
        assert send(d.port, "start sleeper") == "start sleeper success"
        assert wait_for(lambda: running(d, "sleeper"))
        # The old server read the first 4196 bytes and stripped the NULs:
        # this was "stop sleeper".
        r = send(d.port, b"stop sleeper" + b"\0" * 20000)
        assert r == "Refused: the message is longer than 4196 bytes", r
        assert running(d, "sleeper")
        assert "child name: sleeper\n" in send(d.port, "check sleeper")
        d.assert_bounded()
    finally:
        d.stop()


# ------------------------------------------------------------ slow clients --

def test_idle_and_slowloris_connections_do_not_starve_a_new_client(tmp_path):
    raise_nofile(8192)
    d = srs_daemon(tmp_path, section="default_role = admin\n")
    # As under a daemon whose soft limit of open files is 1024.
    resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (1024, 1024))
    connect = tcp_connector(d.port)
    idle, slow = [], None
    try:
        idle, refused = open_idle(connect, 1000)
        slow = SlowSenders(connect, 50, b"check sleeper", seconds=30)
        time.sleep(1.0)
        t0 = time.monotonic()
        r = send(d.port, "check", timeout=5)
        took = time.monotonic() - t0
        print(f"1000 idle ({refused} refused) + 50 slow: check answered in {took * 1000:.1f} ms", file=sys.stderr)
        assert r == "==Check Results Below==\n"
        assert took < 1.0
        t0 = time.monotonic()
        assert send(d.port, "start sleeper", timeout=5) == "start sleeper success"
        print(f"start answered in {(time.monotonic() - t0) * 1000:.1f} ms", file=sys.stderr)
        assert wait_for(lambda: running(d, "sleeper"))
        assert d.fd_count() < 1024
        d.assert_bounded()
    finally:
        if slow:
            slow.stop()
        close_all(idle)
        d.stop()


def test_clients_that_never_read_a_big_reply_do_not_wedge_the_adapter(tmp_path):
    # Four children of 1 MB command lines make a `check` reply of 4 MB,
    # more than the kernel buffers of a client that never reads.
    arg = "x" * 100000
    big = {f"big{i}.yml": f"command: ./hold.sh big{i} " + " ".join([arg] * 10) + "\n" for i in range(4)}
    big["sleeper.yml"] = "command: ./hold.sh sleeper\n"
    d = srs_daemon(tmp_path, section="default_role = admin\n", mode="half", startup=[f"big{i}" for i in range(4)],
                   children=big)
    stuck = []
    try:
        assert wait_for(lambda: all(running(d, f"big{i}") for i in range(4)), 30)
        for _ in range(8):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", d.port))
            s.sendall(b"check")
            stuck.append(s)
        time.sleep(2.0)  # every check has been answered, and is stuck in its write
        t0 = time.monotonic()
        r = send(d.port, "help x", timeout=5)
        took = time.monotonic() - t0
        print(f"8 clients not reading a 4 MB reply: help answered in {took * 1000:.1f} ms", file=sys.stderr)
        assert r.endswith("] not support")
        assert send(d.port, "start sleeper", timeout=5) == "start sleeper success"
        d.assert_bounded()
    finally:
        close_all(stuck)
        d.stop()


# ------------------------------------------------------------ signed mode --

def test_nul_appended_replay_of_a_signed_command_is_refused(tmp_path):
    # No replay_window: the default guards encrypted mode. The captured
    # command is a stop: a captured kill takes the same path, but its
    # first copy would end the daemon under test.
    keys = tmp_path / "keys"
    priv = make_key(keys, "alice")
    d = srs_daemon(tmp_path, section=f"encrypt = on\npub_keys_path = {keys / 'pub'}\n",
                   access="supervisor-rs:alice = admin\n")
    b = BANNER.decode()
    try:
        assert send(d.port, signed(priv, "alice", "start sleeper")) == b + "start sleeper success"
        stop = signed(priv, "alice", "stop sleeper")
        assert send(d.port, stop) == b + "stop sleeper success"
        assert wait_for(lambda: not running(d, "sleeper"))
        assert send(d.port, signed(priv, "alice", "trystart sleeper")).startswith(b + "Start sleeper success")
        assert wait_for(lambda: running(d, "sleeper"))
        for replay in (stop + b"\0", stop + b"\0" * 7, stop):
            r = send(d.port, replay)
            assert r.startswith(b + "Replayed command refused"), r
        assert running(d, "sleeper")
        assert "refused a replayed command signed as 'alice'" in d.output()
        d.assert_bounded()
    finally:
        d.stop()


# --------------------------------------------------------------- import --

@pytest.mark.parametrize("bad", ["bad:name.yml", "tab\tname.yml", "new\nline.yml", "esc\x1bname.yml"])
def test_bad_imported_child_name_is_an_import_error(tmp_path, bad):
    server = write_tree(tmp_path, {"good.yml": "command: ./hold.sh good\n", bad: "command: ./hold.sh bad\n"},
                        mode="full")
    conf = tmp_path / "scopevisor.conf"
    conf.write_text(f"[supervisord]\nchildlogdir = {tmp_path}\n\n[scopevisord]\nstate_dir = {tmp_path}/state\n\n"
                    f"[adapter:supervisor-rs]\nlistener_addr = 127.0.0.1\nport = {free_port()}\n"
                    f"server_yml = {server}\ndefault_role = admin\n")
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID")}
    env["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=/nonexistent"
    proc = subprocess.Popen([DAEMON, "-c", str(conf), "--backend", "direct"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail("the daemon started with a bad imported name:\n" + err.decode(errors="replace")[-2000:])
    err = err.decode(errors="replace")
    # The daemon refuses to start: nothing was imported, nothing started.
    assert proc.returncode != 0
    assert "invalid child name" in err and str(tmp_path / "kids") in err, err
    assert "good" not in "".join(c for c in children_of(proc.pid))
