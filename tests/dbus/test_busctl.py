# SPDX-License-Identifier: LGPL-2.1-or-later
"""The D-Bus API as generic tools see it: busctl introspect/call/get-property
against a real scopevisord on a private session bus, and scopevisorctl
(exit statuses, --json). Also checks the shipped bus and polkit files."""

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from waiting import wait_for  # noqa: E402,F401

DAEMON = os.environ.get("SCOPEVISORD", "build/daemon/scopevisord")
CTL = os.environ.get("SCOPEVISORCTL", "build/dbus/ctl/scopevisorctl")
SRC = Path(os.environ.get("SCOPEVISOR_SOURCE_ROOT", Path(__file__).resolve().parents[2]))

CONFIG = """
[program:sleeper]
command = sleep 1000
startsecs = 0

[program:idle]
command = sleep 1000
startsecs = 0
autostart = false

[program:cat]
command = cat
startsecs = 0

[group:web]
programs = front
[program:front]
command = sleep 1000
startsecs = 0
"""

needs_bus = pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="dbus-daemon is not installed")


@pytest.fixture
def bus():
    p = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    address = p.stdout.readline().strip()
    yield address
    p.terminate()
    p.wait()


@pytest.fixture
def daemon(bus, tmp_path):
    conf = tmp_path / "test.conf"
    conf.write_text(f"[supervisord]\nchildlogdir = {tmp_path}\n" + CONFIG)
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=bus)
    env.pop("NOTIFY_SOCKET", None)
    log = open(tmp_path / "daemon.log", "w")
    p = subprocess.Popen([DAEMON, "--user", "-c", str(conf), "--backend", "direct"], env=env, stderr=log)

    def running():
        r = busctl(bus, "call", "org.scopevisor1", "/org/scopevisor1", "org.scopevisor1.Manager", "ListPrograms",
                   check=False)
        return r.returncode == 0 and r.stdout.count('"RUNNING"') >= 3

    assert wait_for(running), (tmp_path / "daemon.log").read_text()
    yield bus
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=30) == 0


def busctl(address, *args, check=True):
    return subprocess.run(["busctl", f"--address={address}", *args], capture_output=True, text=True, check=check)


def ctl(address, *args):
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address)
    return subprocess.run([CTL, "--user", *args], capture_output=True, text=True, env=env, timeout=60)


@needs_bus
def test_busctl_introspects_the_manager(daemon):
    out = busctl(daemon, "introspect", "org.scopevisor1", "/org/scopevisor1").stdout
    for member in [
        ".ListPrograms", ".GetProgram", ".StartProgram", ".StopProgram", ".RestartProgram", ".SignalProgram",
        ".StartGroup", ".StopGroup", ".StartAll", ".StopAll", ".SendInput", ".ReadLog", ".Reload", ".Shutdown",
        ".ProgramNew", ".ProgramRemoved", ".ProgramStateChanged", ".Version", ".Backend", ".State",
        ".ProgramCount",
    ]:
        assert member in out, member
    assert "org.freedesktop.DBus.ObjectManager" in out
    assert "a(ssssuo)" in out
    assert "sstu" in out and "ttas" in out


@needs_bus
def test_busctl_introspects_a_program(daemon):
    out = busctl(daemon, "introspect", "org.scopevisor1", "/org/scopevisor1/program/web_3afront").stdout
    for member in [".Start", ".Stop", ".Restart", ".Signal", ".SendInput", ".ReadLog", ".Name", ".Group",
                   ".State", ".StateCode", ".Description", ".PID", ".Unit", ".ExitStatus", ".StartedAt",
                   ".StoppedAt", ".SpawnError"]:
        assert member in out, member
    tree = busctl(daemon, "tree", "org.scopevisor1").stdout
    assert "/org/scopevisor1/program/sleeper" in tree


@needs_bus
def test_busctl_calls(daemon):
    r = busctl(daemon, "call", "org.scopevisor1", "/org/scopevisor1", "org.scopevisor1.Manager", "GetProgram", "s",
               "web:front")
    assert r.stdout.strip() == 'o "/org/scopevisor1/program/web_3afront"'
    busctl(daemon, "call", "org.scopevisor1", "/org/scopevisor1", "org.scopevisor1.Manager", "StopProgram", "s",
           "sleeper")
    r = busctl(daemon, "get-property", "org.scopevisor1", "/org/scopevisor1/program/sleeper",
               "org.scopevisor1.Program", "State", "StateCode", "PID")
    assert r.stdout.split("\n")[:3] == ['s "STOPPED"', "i 0", "u 0"]
    busctl(daemon, "call", "org.scopevisor1", "/org/scopevisor1/program/sleeper", "org.scopevisor1.Program", "Start")
    r = busctl(daemon, "get-property", "org.scopevisor1", "/org/scopevisor1/program/sleeper",
               "org.scopevisor1.Program", "State")
    assert r.stdout.strip() == 's "RUNNING"'
    r = busctl(daemon, "call", "org.scopevisor1", "/org/scopevisor1", "org.scopevisor1.Manager", "StartProgram", "s",
               "nope", check=False)
    assert r.returncode != 0
    r = busctl(daemon, "--verbose", "call", "org.scopevisor1", "/org/scopevisor1", "org.scopevisor1.Manager",
               "StartProgram", "s", "sleeper", check=False)
    assert r.returncode != 0 and "already started" in r.stderr
    r = busctl(daemon, "get-property", "org.scopevisor1", "/org/scopevisor1", "org.scopevisor1.Manager", "Backend",
               "ProgramCount")
    assert r.stdout.split("\n")[:2] == ['s "direct"', "u 4"]


@needs_bus
def test_busctl_send_input_and_read_log(daemon):
    busctl(daemon, "call", "org.scopevisor1", "/org/scopevisor1", "org.scopevisor1.Manager", "SendInput", "say", "cat",
           "3", "104", "105", "10")
    def read():
        return busctl(daemon, "call", "org.scopevisor1", "/org/scopevisor1", "org.scopevisor1.Manager", "ReadLog",
                      "sstu", "cat", "stdout", "0", "10").stdout.strip()
    assert wait_for(lambda: read() == 'ttas 1 1 1 "hi"'), read()


@needs_bus
def test_ctl_status_table_and_exit_codes(daemon):
    r = ctl(daemon, "status")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATE", "DESCRIPTION"]
    assert any(l.split()[:2] == ["idle", "STOPPED"] for l in lines)
    assert any(l.split()[:2] == ["web:front", "RUNNING"] for l in lines)
    assert "\x1b[" not in r.stdout  # no colours off a terminal
    assert ctl(daemon, "status", "sleeper").returncode == 0
    assert ctl(daemon, "status", "idle").returncode == 3
    assert ctl(daemon, "status", "web:*").returncode == 0
    assert ctl(daemon, "status", "nope").returncode == 4


@needs_bus
def test_ctl_json(daemon):
    rows = json.loads(ctl(daemon, "--json", "status").stdout)
    by = {r["name"]: r for r in rows}
    assert by["web:front"]["group"] == "web"
    assert by["web:front"]["path"] == "/org/scopevisor1/program/web_3afront"
    assert by["sleeper"]["state"] == "RUNNING" and by["sleeper"]["pid"] > 0
    props = json.loads(ctl(daemon, "show", "--json", "sleeper").stdout)
    assert props["State"] == "RUNNING" and props["StateCode"] == 20 and props["Name"] == "sleeper"


@needs_bus
def test_ctl_start_stop_restart_signal(daemon):
    assert ctl(daemon, "start", "idle").returncode == 0
    assert json.loads(ctl(daemon, "show", "--json", "idle").stdout)["State"] == "RUNNING"
    pid = json.loads(ctl(daemon, "show", "--json", "idle").stdout)["PID"]
    assert ctl(daemon, "restart", "idle").returncode == 0
    assert json.loads(ctl(daemon, "show", "--json", "idle").stdout)["PID"] != pid
    assert ctl(daemon, "stop", "web:*").returncode == 0
    assert json.loads(ctl(daemon, "show", "--json", "web:front").stdout)["State"] == "STOPPED"
    r = ctl(daemon, "stop", "nope")
    assert r.returncode == 4 and "nope" in r.stderr
    assert ctl(daemon, "signal", "HUP", "idle").returncode == 0
    assert ctl(daemon, "signal", "NOTASIGNAL", "idle").returncode == 2
    assert ctl(daemon, "stop", "all").returncode == 0
    assert all(r["state"] != "RUNNING" for r in json.loads(ctl(daemon, "--json", "status").stdout))
    assert ctl(daemon, "start", "all").returncode == 0
    assert all(r["state"] == "RUNNING" for r in json.loads(ctl(daemon, "--json", "status").stdout))


@needs_bus
def test_ctl_send_and_tail(daemon):
    assert ctl(daemon, "send", "cat", "one").returncode == 0
    assert ctl(daemon, "send", "cat", "two", "words").returncode == 0
    assert wait_for(lambda: ctl(daemon, "tail", "cat").stdout == "one\ntwo words\n")
    assert ctl(daemon, "tail", "-n", "1", "cat").stdout == "two words\n"
    assert ctl(daemon, "tail", "--stderr", "cat").stdout == ""
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=daemon)
    follow = subprocess.Popen([CTL, "--user", "tail", "-f", "-n", "0", "cat"], stdout=subprocess.PIPE, text=True,
                              env=env)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in follow.stdout], daemon=True).start()

    def next_line(timeout):
        try:
            return lines.get(timeout=timeout)
        except queue.Empty:
            return None

    try:
        # A line sent before tail -f follows is not shown (-n 0): send "ready"
        # until one comes out, then every later line must come out too.
        assert wait_for(lambda: ctl(daemon, "send", "cat", "ready").returncode == 0 and next_line(0.2) == "ready\n")
        assert ctl(daemon, "send", "cat", "three").returncode == 0
        got = next_line(10)
        while got == "ready\n":  # the sends that were already on their way
            got = next_line(10)
        assert got == "three\n"
    finally:
        follow.terminate()
        follow.wait(timeout=5)


@needs_bus
def test_ctl_without_daemon(bus):
    r = ctl(bus, "status")
    assert r.returncode == 1 and "not running" in r.stderr


@needs_bus
def test_ctl_no_ask_password_is_accepted_and_documented(daemon):
    assert ctl(daemon, "--no-ask-password", "restart", "sleeper").returncode == 0
    assert ctl(daemon, "status", "--no-ask-password", "sleeper").returncode == 0
    assert "--no-ask-password" in subprocess.run([CTL, "--help"], capture_output=True, text=True).stdout
    assert "no\\-ask\\-password" in (SRC / "man" / "scopevisorctl.1").read_text()
    assert "--no-ask-password" in (SRC / "contrib" / "completion" / "scopevisorctl.bash").read_text()


def test_ctl_usage():
    assert subprocess.run([CTL, "frobnicate"], capture_output=True).returncode == 2
    r = subprocess.run([CTL, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "status" in r.stdout


@pytest.mark.skipif(not Path("/usr/share/polkit-1/policyconfig-1.dtd").exists() or shutil.which("xmllint") is None,
                    reason="polkit's DTD or xmllint is missing")
def test_polkit_policy_is_valid():
    policy = SRC / "polkit" / "org.scopevisor1.policy"
    subprocess.run(["xmllint", "--noout", "--dtdvalid", "/usr/share/polkit-1/policyconfig-1.dtd", str(policy)],
                   check=True)
    text = policy.read_text()
    for verb in ["view", "read-log", "control", "send-input", "manage"]:
        assert f'<action id="org.scopevisor1.{verb}">' in text


@pytest.mark.skipif(shutil.which("xmllint") is None, reason="xmllint is missing")
def test_bus_policy_is_well_formed():
    subprocess.run(["xmllint", "--noout", str(SRC / "dbus" / "system.d" / "org.scopevisor1.conf")], check=True)
    for xml in ["org.scopevisor1.Manager.xml", "org.scopevisor1.Program.xml"]:
        subprocess.run(["xmllint", "--noout", str(SRC / "dbus" / xml)], check=True)
