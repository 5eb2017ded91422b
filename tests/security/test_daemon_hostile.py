# SPDX-License-Identifier: LGPL-2.1-or-later
"""The daemon core against a hostile host: files planted where the daemon
(root) writes its programs' logs and its state, the systemd variables of its
own unit, and settings that once were ignored. Each test runs the real
scopevisord on the direct backend (hostile.py) and ends with
assert_bounded(): the daemon is alive and its memory stayed bounded."""

import glob
import os
import pwd
import stat
import subprocess
import tempfile
import uuid

import pytest

from hostile import DAEMON, Daemon, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the daemon must run as root to switch users")

# A program that runs a while, so its state is saved and kept.
SLEEPER = "[program:sleeper]\ncommand = /bin/sleep 60\nstartsecs = 0\n"


def program(name, command, **keys):
    keys.setdefault("startsecs", "0")
    keys.setdefault("autorestart", "false")
    lines = [f"[program:{name}]", f"command = {command}"] + [f"{k} = {v}" for k, v in keys.items()]
    return "\n".join(lines) + "\n\n"


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def start_victim_and_witness(tmp_path, planted):
    """A daemon whose program 'victim' logs to the planted path and whose
    later program 'witness' logs "alive" to a file of its own: once that is
    written, the daemon got past the victim's log file."""
    alive = tmp_path / "alive.log"
    config = program("victim", "/bin/echo overwritten", stdout_logfile=planted, priority=1) + program(
        "witness", "/bin/echo alive", stdout_logfile=alive, priority=2
    )
    daemon = Daemon(tmp_path, config)
    if not wait_for(lambda: "alive" in read(alive), 15):
        daemon.stop()
        pytest.fail("the daemon did not get past the planted log file:\n" + daemon.output())
    return daemon


def test_a_symlink_at_a_log_path_is_not_followed(tmp_path):
    target = tmp_path / "precious"
    target.write_text("keep me\n")
    link = tmp_path / "planted.log"
    link.symlink_to(target)
    daemon = start_victim_and_witness(tmp_path, link)
    try:
        assert wait_for(lambda: "cannot open log file for victim" in daemon.output(), 5), daemon.output()
        out = daemon.output()
        assert str(link) in out and "symbolic link" in out, out
        assert target.read_text() == "keep me\n"
        assert link.is_symlink()
        daemon.assert_bounded()
    finally:
        daemon.stop()


def test_a_fifo_at_a_log_path_does_not_hang_the_daemon(tmp_path):
    fifo = tmp_path / "planted.log"
    os.mkfifo(fifo)
    # The old daemon waited in open() for a reader that never came.
    daemon = start_victim_and_witness(tmp_path, fifo)
    try:
        out = daemon.output()
        assert f"cannot open log file for victim: {fifo}: is a FIFO" in out, out
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
        daemon.assert_bounded()
    finally:
        daemon.stop()


def test_the_daemons_systemd_variables_do_not_reach_a_program(tmp_path):
    env_log = tmp_path / "env.log"
    planted = {
        "NOTIFY_SOCKET": str(tmp_path / "no-notify-socket"),
        "WATCHDOG_USEC": "30000000",
        "LISTEN_FDS": "2",
        "LISTEN_PID": "1",
        "LISTEN_FDNAMES": "a:b",
        "INVOCATION_ID": uuid.uuid4().hex,
        "KEPT_VARIABLE": "kept",
    }
    daemon = Daemon(tmp_path, program("printenv", "/usr/bin/env", stdout_logfile=env_log), env_extra=planted)
    try:
        assert wait_for(lambda: "SUPERVISOR_ENABLED=1" in read(env_log), 15), daemon.output()
        names = {line.split("=", 1)[0] for line in read(env_log).splitlines()}
        assert "KEPT_VARIABLE" in names
        leaked = names & {k for k in planted if k != "KEPT_VARIABLE"}
        assert not leaked, f"leaked to the program: {sorted(leaked)}"
        daemon.assert_bounded()
    finally:
        daemon.stop()


def test_supervisord_user_runs_programs_as_that_user(tmp_path):
    nobody = pwd.getpwnam("nobody")
    out = tmp_path / "who.log"
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    # A directory= that does not exist stops the daemon with its name.
    missing = tmp_path / "no-such-directory"
    bad = tmp_path / "bad.conf"
    bad.write_text(f"[supervisord]\ndirectory = {missing}\n[scopevisord]\nstate_dir = {tmp_path}/state\n")
    r = subprocess.run([DAEMON, "-c", str(bad), "--backend", "direct"], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and str(missing) in r.stderr, r.stderr

    command = "/bin/sh -c 'id -u; id -g; echo \"$HOME|$USER|$LOGNAME|$SHELL\"; pwd'"
    config = (
        f"[supervisord]\nuser = nobody\ndirectory = {workdir}\n\n"
        + program("who", command, stdout_logfile=out)
        + program("root", "/usr/bin/id -u", user="root", stdout_logfile=tmp_path / "root.log")
    )
    daemon = Daemon(tmp_path, config)
    try:
        assert wait_for(lambda: len(read(out).splitlines()) >= 4, 15), daemon.output()
        uid, gid, variables, cwd = read(out).splitlines()[:4]
        assert (int(uid), int(gid)) == (nobody.pw_uid, nobody.pw_gid)
        assert variables == f"{nobody.pw_dir}|nobody|nobody|{nobody.pw_shell or '/bin/sh'}"
        assert cwd == str(workdir)
        # A program's own user= still wins.
        assert wait_for(lambda: read(tmp_path / "root.log").strip() == "0", 15), daemon.output()
        daemon.assert_bounded()
    finally:
        daemon.stop()


def test_auto_log_files_are_not_in_tmp(tmp_path):
    name = "autolog" + uuid.uuid4().hex[:8]
    # The harness sets childlogdir; an empty value asks for the default.
    config = "[scopevisord]\nchildlogdir =\n\n" + program(name, f"/bin/echo {name}-output")
    tmpdir = os.environ.get("TMPDIR") or tempfile.gettempdir()
    daemon = Daemon(tmp_path, config)
    try:
        logs = tmp_path / "state" / "logs"
        pattern = str(logs / f"{name}-stdout---*.log")
        assert wait_for(lambda: any(f"{name}-output" in read(p) for p in glob.glob(pattern)), 15), (
            daemon.output() + "\n" + "\n".join(glob.glob(f"{tmpdir}/{name}-*") + glob.glob(f"/tmp/{name}-*"))
        )
        assert not glob.glob(f"/tmp/{name}-*") and not glob.glob(f"{tmpdir}/{name}-*")
        assert stat.S_IMODE(os.stat(logs).st_mode) & 0o027 == 0
        for p in glob.glob(pattern):
            assert stat.S_IMODE(os.lstat(p).st_mode) & 0o137 == 0, oct(os.lstat(p).st_mode)
        daemon.assert_bounded()
    finally:
        daemon.stop()


def state_file_name(state_dir, config):
    """daemon/state_file.cpp stateFilePath(): the absolute path, '/' as '-',
    other bytes but [A-Za-z0-9_.] as \\xNN."""
    path = os.path.normpath(os.path.abspath(config))
    name = ""
    for i, c in enumerate(path):
        if c == "/":
            name += "" if i == 0 else "-"
        elif c.isascii() and (c.isalnum() or c in "_."):
            name += c
        else:
            name += "".join(f"\\x{b:02x}" for b in c.encode())
    return os.path.join(state_dir, name + ".state")


def test_the_state_file_is_written_atomically(tmp_path):
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    state = state_file_name(str(state_dir), str(tmp_path / "scopevisor.conf"))
    # The old fixed temporary name, planted as a link to a file of value.
    target = tmp_path / "precious"
    target.write_text("keep me\n")
    os.symlink(target, state + ".tmp")
    daemon = Daemon(tmp_path, SLEEPER)
    try:
        assert wait_for(lambda: "sleeper\tdefault\t" in read(state) and not os.path.islink(state), 15), (
            daemon.output() + "\n" + str(os.listdir(state_dir))
        )
        assert target.read_text() == "keep me\n"
        assert stat.S_IMODE(os.stat(state).st_mode) == 0o600
        leftovers = [f for f in os.listdir(state_dir) if f.startswith(os.path.basename(state) + ".")]
        assert leftovers == [os.path.basename(state) + ".tmp"], leftovers  # only the planted link
        daemon.assert_bounded()
    finally:
        daemon.stop()
    # The last save, at exit, leaves no temporary file either.
    assert sorted(os.listdir(state_dir)) == sorted([os.path.basename(state), os.path.basename(state) + ".tmp"])
    assert target.read_text() == "keep me\n"
