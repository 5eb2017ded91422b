# SPDX-License-Identifier: LGPL-2.1-or-later
"""The scopevisord binary, driven from outside: command line, configuration
errors, readiness, signals (TERM, HUP, USR2) and log files, with real
programs on the direct backend."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from waiting import wait_for  # noqa: E402,F401

DAEMON = os.environ.get("SCOPEVISORD", "build/daemon/scopevisord")


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class Daemon:
    def __init__(self, tmp_path, body, extra_args=()):
        self.dir = tmp_path
        self.conf = tmp_path / "test.conf"
        self.log = tmp_path / f"daemon-{time.monotonic_ns()}.log"
        self.write(body)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify_path = str(tmp_path / f"notify-{time.monotonic_ns()}.sock")
        self.notify.bind(self.notify_path)
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        env.pop("JOURNAL_STREAM", None)
        self.proc = subprocess.Popen(
            [DAEMON, "-c", str(self.conf), "--backend", "direct", *extra_args],
            stdout=subprocess.DEVNULL,
            stderr=open(self.log, "w"),
            env=env,
        )

    def write(self, body):
        self.conf.write_text(
            f"[supervisord]\nchildlogdir = {self.dir}\n[scopevisord]\nstate_dir = {self.dir}/state\n" + body
        )

    def output(self):
        return read(self.log)

    def wait_log(self, pattern, timeout=10.0):
        return wait_for(lambda: re.search(pattern, self.output()), timeout)

    def ready(self, timeout=10.0):
        self.notify.settimeout(timeout)
        msgs = []
        while True:
            data = self.notify.recv(4096).decode()
            msgs.append(data)
            if "READY=1" in data:
                return msgs

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.notify.close()


@pytest.fixture
def daemon(tmp_path):
    started = []

    def start(body, *args):
        d = Daemon(tmp_path, body, args)
        started.append(d)
        return d

    yield start
    for d in started:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()


def test_help_and_version():
    out = subprocess.run([DAEMON, "--help"], capture_output=True, text=True, check=True).stdout
    assert "--config" in out and "--backend" in out and "SIGHUP" in out
    out = subprocess.run([DAEMON, "--version"], capture_output=True, text=True, check=True).stdout
    assert re.match(r"scopevisord \d+\.\d+", out)
    r = subprocess.run([DAEMON, "--bogus"], capture_output=True, text=True)
    assert r.returncode == 2


def test_config_error_names_file_line_and_key_and_refuses_to_start(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("[supervisord]\n\n[program:web]\ncommand = /bin/true\nautorestart = maybe\n")
    r = subprocess.run([DAEMON, "-c", str(conf)], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert f"{conf}:5" in r.stderr
    assert "autorestart" in r.stderr and "maybe" in r.stderr


def test_unknown_key_is_a_warning_with_file_and_line(tmp_path):
    conf = tmp_path / "warn.conf"
    conf.write_text("[supervisord]\n[program:x]\ncommand = /bin/true\nbogus_key = 1\n")
    r = subprocess.run([DAEMON, "-c", str(conf), "--check-config"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert f"{conf}:4" in r.stderr and "bogus_key" in r.stderr


def test_missing_config_file_is_an_error(tmp_path):
    r = subprocess.run([DAEMON, "-c", str(tmp_path / "nope.conf")], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert "nope.conf" in r.stderr


def test_ready_notification_and_sigterm_stops_in_reverse_priority(daemon, tmp_path):
    d = daemon(
        "[program:first]\ncommand = /bin/sleep 1000\npriority = 1\nstartsecs = 0\n"
        "[program:second]\ncommand = /bin/sleep 1000\npriority = 2\nstartsecs = 0\n"
        "[program:third]\ncommand = /bin/sleep 1000\npriority = 3\nstartsecs = 0\n"
    )
    msgs = d.ready()
    assert any("READY=1" in m for m in msgs)
    assert d.wait_log(r"spawned: 'third'")
    pids = [int(m) for m in re.findall(r"spawned: '\w+' with pid (\d+)", d.output())]
    assert len(pids) == 3
    assert d.stop() == 0
    out = d.output()
    order = re.findall(r"stopped: (\w+)", out)
    assert order == ["third", "second", "first"], out
    for pid in pids:
        assert not alive(pid)


def test_sighup_reload_touches_only_changed_programs(daemon, tmp_path):
    keep = f"[program:keep]\ncommand = /bin/sh -c 'echo $$ > {tmp_path}/keep.pid; exec sleep 1000'\nstartsecs = 0\n"
    change = "[program:change]\ncommand = /bin/sh -c 'echo $$ > {d}/change.pid; exec sleep {n}'\nstartsecs = 0\n"
    d = daemon(keep + change.format(d=tmp_path, n=1000))
    d.ready()
    keep_pid = wait_for(lambda: read(tmp_path / "keep.pid").strip())
    change_pid = wait_for(lambda: read(tmp_path / "change.pid").strip())
    assert keep_pid and change_pid
    os.unlink(tmp_path / "change.pid")
    d.write(keep + change.format(d=tmp_path, n=1001) + "[program:added]\ncommand = /bin/sleep 1000\nstartsecs = 0\n")
    d.proc.send_signal(signal.SIGHUP)
    assert d.wait_log(r"reloaded: 1 added, 1 changed, 0 removed"), d.output()
    new_change = wait_for(lambda: read(tmp_path / "change.pid").strip())
    assert new_change and new_change != change_pid
    assert alive(int(keep_pid))
    assert read(tmp_path / "keep.pid").strip() == keep_pid
    assert wait_for(lambda: not alive(int(change_pid)))
    assert d.wait_log(r"spawned: 'added'")
    # A broken file keeps the running configuration.
    d.write("[program:keep]\ncommand = /bin/true\nstartsecs = nope\n")
    d.proc.send_signal(signal.SIGHUP)
    assert d.wait_log(r"reload failed, keeping the running configuration: .*test.conf:\d+"), d.output()
    assert alive(int(keep_pid))
    assert d.stop() == 0


def test_program_output_goes_to_its_log_file_and_sigusr2_reopens(daemon, tmp_path):
    logfile = tmp_path / "talk.log"
    d = daemon(
        f"[program:talk]\ncommand = /bin/sh -c 'i=0; while :; do i=$((i+1)); echo line $i; sleep 0.05; done'\n"
        f"stdout_logfile = {logfile}\nstartsecs = 0\n"
    )
    d.ready()
    assert wait_for(lambda: "line 3\n" in read(logfile))
    os.rename(logfile, tmp_path / "talk.log.old")
    d.proc.send_signal(signal.SIGUSR2)
    assert wait_for(lambda: "line" in read(logfile)), "no new file after SIGUSR2"
    first_new = int(re.search(r"line (\d+)", read(logfile)).group(1))
    old = read(tmp_path / "talk.log.old")
    last_old = int(re.findall(r"line (\d+)", old)[-1])
    assert first_new == last_old + 1, "a line was lost or doubled across the reopen"
    assert d.stop() == 0


def test_auto_log_files_are_created_in_childlogdir(daemon, tmp_path):
    d = daemon("[program:auto]\ncommand = /bin/sh -c 'echo hello-auto; sleep 1000'\nstartsecs = 0\n")
    d.ready()

    def found():
        for name in os.listdir(tmp_path):
            if name.startswith("auto-stdout---supervisor-") and name.endswith(".log"):
                if "hello-auto" in read(tmp_path / name):
                    return name
        return None

    assert wait_for(found), os.listdir(tmp_path)
    assert d.stop() == 0


def test_numprocs_and_spawn_error_are_logged(daemon, tmp_path):
    d = daemon(
        "[program:w]\ncommand = /bin/sleep 1000\nnumprocs = 2\nprocess_name = %(program_name)s_%(process_num)02d\n"
        "startsecs = 0\n"
        "[program:broken]\ncommand = /bin/true\ndirectory = /nonexistent-dir\nstartretries = 0\n"
    )
    d.ready()
    assert d.wait_log(r"spawned: 'w:w_00'")
    assert d.wait_log(r"spawned: 'w:w_01'")
    assert d.wait_log(r"gave up: broken entered FATAL state"), d.output()
    assert re.search(r"broken.*nonexistent-dir", d.output())
    assert d.stop() == 0


def test_kill_9_then_a_new_daemon_adopts_the_programs(daemon, tmp_path):
    body = "[program:quiet]\ncommand = /bin/sleep 1000\nstartsecs = 0\n"
    d = daemon(body)
    d.ready()
    m = d.wait_log(r"spawned: 'quiet' with pid (\d+)")
    pid = int(m.group(1))
    # The state file is written just after the spawn (coalesced per loop pass).
    state = tmp_path / "state"
    assert wait_for(lambda: any(f"\t{pid}\t" in read(p) for p in state.glob("*.state")))
    d.proc.kill()  # SIGKILL: no chance to stop anything
    d.proc.wait()
    assert alive(pid)
    d2 = daemon(body)
    d2.ready()
    assert d2.wait_log(rf"adopted: 'quiet' with pid {pid}"), d2.output()
    assert "spawned: 'quiet'" not in d2.output()
    assert d2.stop() == 0
    assert wait_for(lambda: not alive(pid))
    # Not its child: the new daemon cannot know the exit status, and says so.
    assert "stopped: quiet (exit status unknown)" in d2.output()
