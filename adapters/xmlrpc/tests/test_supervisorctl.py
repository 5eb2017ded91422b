# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real supervisorctl (Debian's supervisor package) drives the daemon
through a scripted session: every command a user types, checked by its
output and exit status."""

import os
import re
import subprocess
import time

import pytest

from conftest import SUPERVISORCTL, wait_for

pytestmark = pytest.mark.skipif(not os.path.exists(SUPERVISORCTL), reason="supervisorctl is not installed")


def test_status(daemon):
    r = daemon.ctl("status")
    assert r.returncode == 3, r.stdout + r.stderr  # some programs are STOPPED
    lines = {l.split()[0]: l for l in r.stdout.splitlines()}
    assert re.match(r"sleeper\s+RUNNING\s+pid \d+, uptime 0:00:\d\d$", lines["sleeper"])
    assert re.match(r"manual\s+STOPPED\s+Not started$", lines["manual"])
    assert "grp:ga" in lines
    r = daemon.ctl("status", "sleeper")
    assert r.returncode == 0 and "RUNNING" in r.stdout
    r = daemon.ctl("status", "nosuch")
    assert r.returncode == 4 and "nosuch: ERROR (no such process)" in r.stdout


def test_start_stop_restart(daemon):
    r = daemon.ctl("start", "manual")
    assert r.returncode == 0 and r.stdout.strip() == "manual: started", r.stdout + r.stderr
    r = daemon.ctl("start", "manual")
    assert r.stdout.strip() == "manual: ERROR (already started)"
    r = daemon.ctl("stop", "manual")
    assert r.returncode == 0 and r.stdout.strip() == "manual: stopped"
    r = daemon.ctl("stop", "manual")
    assert r.stdout.strip() == "manual: ERROR (not running)"
    r = daemon.ctl("restart", "sleeper")
    assert r.stdout.splitlines() == ["sleeper: stopped", "sleeper: started"]
    r = daemon.ctl("start", "nosuch")
    assert "nosuch: ERROR (no such process)" in r.stdout
    r = daemon.ctl("start", "nofile")
    assert "nofile: ERROR (no such file)" in r.stdout
    r = daemon.ctl("start", "fails")
    assert "fails: ERROR (spawn error)" in r.stdout and r.returncode == 7


def test_groups_and_all(daemon):
    r = daemon.ctl("stop", "grp:*")
    assert sorted(r.stdout.splitlines()) == ["grp:ga: stopped", "grp:gb: stopped"]
    r = daemon.ctl("start", "grp:*")
    assert sorted(r.stdout.splitlines()) == ["grp:ga: started", "grp:gb: started"]
    r = daemon.ctl("stop", "all")
    assert "sleeper: stopped" in r.stdout and "grp:ga: stopped" in r.stdout
    r = daemon.ctl("start", "all")
    assert "sleeper: started" in r.stdout and "nofile: ERROR (no such file)" in r.stdout
    r = daemon.ctl("start", "nosuch:*")
    assert "nosuch: ERROR (no such group)" in r.stdout


def test_signal_and_pid(daemon):
    r = daemon.ctl("signal", "CONT", "sleeper")
    assert r.stdout.strip() == "sleeper: signalled"
    r = daemon.ctl("signal", "NOPE", "sleeper")
    assert r.stdout.strip() == "sleeper: ERROR (bad signal name)"
    r = daemon.ctl("signal", "HUP", "manual")
    assert r.stdout.strip() == "manual: ERROR (not running)"
    r = daemon.ctl("signal", "CONT", "grp:*")
    assert sorted(r.stdout.splitlines()) == ["grp:ga: signalled", "grp:gb: signalled"]
    r = daemon.ctl("pid")
    assert r.stdout.strip() == str(daemon.proc.pid)
    r = daemon.ctl("pid", "sleeper")
    assert r.stdout.strip() == str(daemon.rpc().supervisor.getProcessInfo("sleeper")["pid"])
    r = daemon.ctl("pid", "manual")
    assert r.stdout.strip() == "0" and r.returncode == 7
    r = daemon.ctl("pid", "all")
    assert len(r.stdout.split()) == len(daemon.rpc().supervisor.getAllProcessInfo())


def test_tail_and_clear(daemon):
    wait_for(lambda: daemon.rpc().supervisor.readProcessStdoutLog("echoer", 0, 0))
    r = daemon.ctl("tail", "echoer")
    assert r.stdout == "hello\n\n" or r.stdout == "hello\n"
    r = daemon.ctl("tail", "echoer", "stderr")
    assert "oops" in r.stdout
    r = daemon.ctl("tail", "-3", "echoer")
    assert r.stdout.startswith("lo\n")
    r = daemon.ctl("tail", "nosuch")
    assert "nosuch: ERROR (no such process name)" in r.stdout and r.returncode == 1
    r = daemon.ctl("clear", "echoer")
    assert r.stdout.strip() == "echoer: cleared"
    assert daemon.ctl("tail", "echoer").stdout.strip() == ""
    r = daemon.ctl("clear", "all")
    assert "sleeper: cleared" in r.stdout
    r = daemon.ctl("maintail")
    assert r.returncode == 0 and r.stdout.strip()
    r = daemon.ctl("maintail", "-100")
    assert 0 < len(r.stdout) <= 101


def follow(daemon, *args, until, timeout=10, feed=None):
    """Run a following supervisorctl command until `until` shows up."""
    p = subprocess.Popen([SUPERVISORCTL, "-c", str(daemon.conf), *args], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, stdin=subprocess.PIPE)
    os.set_blocking(p.stdout.fileno(), False)
    out = b""
    end = time.monotonic() + timeout
    fed = False
    while time.monotonic() < end and until not in out:
        chunk = p.stdout.read()
        if chunk:
            out += chunk
        if feed and not fed and b"==> Press Ctrl-C to exit <==" in out:
            time.sleep(0.3)
            feed()
            fed = True
        time.sleep(0.05)
    p.kill()
    p.wait()
    return out


def test_tail_f_and_fg_and_maintail_f(daemon):
    out = follow(daemon, "tail", "-f", "echoer", until=b"hello")
    assert b"==> Press Ctrl-C to exit <==" in out and b"hello" in out
    out = follow(daemon, "tail", "-f", "cat", until=b"live line",
                 feed=lambda: daemon.rpc().supervisor.sendProcessStdin("cat", "live line\n"))
    assert b"live line" in out
    out = follow(daemon, "tail", "-f", "echoer", "stderr", until=b"oops")
    assert b"oops" in out

    # fg: the program's output, and our input goes to its stdin.
    p = subprocess.Popen([SUPERVISORCTL, "-c", str(daemon.conf), "fg", "cat"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    os.set_blocking(p.stdout.fileno(), False)
    time.sleep(1)
    p.stdin.write(b"typed in fg\n")
    p.stdin.flush()
    out = b""
    end = time.monotonic() + 10
    while time.monotonic() < end and out.count(b"typed in fg") < 1:
        out += p.stdout.read() or b""
        time.sleep(0.05)
    p.kill()
    p.wait()
    assert b"typed in fg" in out
    assert wait_for(lambda: "typed in fg" in daemon.rpc().supervisor.readProcessStdoutLog("cat", 0, 0))

    out = follow(daemon, "maintail", "-f", until=b"quick",
                 feed=lambda: daemon.rpc().supervisor.startProcess("quick"))
    assert b"quick" in out


def test_avail_reread_update_add_remove(daemon):
    r = daemon.ctl("avail")
    assert re.search(r"^manual\s+in use\s+manual\s+999:999$", r.stdout, re.M), r.stdout
    assert re.search(r"^sleeper\s+in use\s+auto\s+999:999$", r.stdout, re.M)
    r = daemon.ctl("reread")
    assert r.stdout.strip() == "No config updates to processes"
    conf = daemon.conf.read_text()
    daemon.conf.write_text(conf.replace("[program:gb]", "[program:newprog]\ncommand = /bin/sleep 1000\n"
                                                         "startsecs = 0\n\n[program:gb]")
                           .replace("command = /bin/cat", "command = /bin/cat -u"))
    r = daemon.ctl("reread")
    assert r.stdout.splitlines() == ["cat: changed", "newprog: available"], r.stdout
    r = daemon.ctl("avail")
    assert re.search(r"^newprog\s+avail\s+auto", r.stdout, re.M)
    r = daemon.ctl("update")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "cat: stopped" in r.stdout and "cat: updated process group" in r.stdout
    assert "newprog: added process group" in r.stdout
    assert wait_for(lambda: daemon.state("newprog") == "RUNNING")
    r = daemon.ctl("remove", "newprog")
    assert r.stdout.strip() == "ERROR: process/group still running: newprog"
    daemon.ctl("stop", "newprog")
    r = daemon.ctl("remove", "newprog")
    assert r.stdout.strip() == "newprog: removed process group"
    r = daemon.ctl("remove", "newprog")
    assert r.stdout.strip() == "ERROR: no such process/group: newprog"
    r = daemon.ctl("add", "newprog")
    assert r.stdout.strip() == "newprog: added process group"
    r = daemon.ctl("add", "newprog")
    assert r.stdout.strip() == "ERROR: process group already active"
    r = daemon.ctl("add", "nosuch")
    assert r.stdout.strip() == "ERROR: no such process/group: nosuch"


def test_version_and_shutdown(daemon):
    r = daemon.ctl("version")
    assert r.returncode == 0 and r.stdout.strip() == daemon.rpc().supervisor.getSupervisorVersion()
    r = daemon.ctl("-s", f"http://127.0.0.1:{daemon.port}", "-u", "user", "-p", "123", "status", "sleeper")
    assert r.returncode == 0 and "RUNNING" in r.stdout
    r = daemon.ctl("-s", f"http://127.0.0.1:{daemon.port}", "-u", "user", "-p", "bad", "status")
    assert "Server requires authentication" in r.stdout
    r = daemon.ctl("shutdown")
    assert r.stdout.strip() == "Shut down", r.stdout + r.stderr
    assert daemon.proc.wait(30) == 0
    r = daemon.ctl("shutdown")
    assert "no such file (already shut down?)" in r.stdout
