# SPDX-License-Identifier: LGPL-2.1-or-later
"""The desired state across a real reboot (supervisord issue #877): the
container's systemd reboots (systemd-nspawn ends with 133 and the container
boots again, as a machine would), keeping only what a machine keeps here,
/var/lib/scopevisor. A program the user stopped stays stopped, one the user
started runs although it is not autostarted, the others start as usual."""

import glob
import os

from container import wait_for, with_config
from test_journal_restart import busctl, programs

CONFIG = r"""
[scopevisord]
backend = systemd

[program:plain]
command = /bin/sleep 600
startsecs = 0

[program:keepstopped]
command = /bin/sleep 600
startsecs = 0

[program:manual]
command = /bin/sleep 600
startsecs = 0
autostart = false
"""


def saved(state_dir):
    """namespec -> desired state, from the state file(s) on the host side."""
    out = {}
    for path in glob.glob(os.path.join(state_dir, "*")):
        if not os.path.isfile(path):  # the daemon keeps other things there too
            continue
        with open(path) as f:
            for line in f:
                fields = line.rstrip("\n").split("\t")
                if len(fields) > 2:
                    out[fields[0]] = fields[1]
    return out


def states(c):
    return {name: s for name, (s, _pid) in programs(c).items()}


def test_desired_state_survives_a_reboot(tmp_path_factory):
    state_dir = str(tmp_path_factory.mktemp("state"))
    os.chmod(state_dir, 0o755)
    c = with_config(tmp_path_factory, CONFIG)
    c.binds.append((state_dir, "/var/lib/scopevisor"))
    with c:
        c.start_daemon()
        assert wait_for(lambda: states(c) == {"plain": "RUNNING", "keepstopped": "RUNNING", "manual": "STOPPED"},
                        60), states(c)
        busctl(c, "StopProgram", "s", "keepstopped")
        busctl(c, "StartProgram", "s", "manual")
        assert wait_for(lambda: states(c) == {"plain": "RUNNING", "keepstopped": "STOPPED", "manual": "RUNNING"},
                        60), states(c)
        # On disk (the file is written within 100 ms of a change).
        assert wait_for(lambda: saved(state_dir).get("keepstopped") == "stopped"
                        and saved(state_dir).get("manual") == "started"), saved(state_dir)
        c.run(["touch", "/run/before-the-reboot"])  # /run is a new tmpfs at each boot

        c.reboot()

        assert c.run(["test", "-e", "/run/before-the-reboot"], check=False).returncode == 1
        c.start_daemon()  # the presets enabled it; this waits until it is up
        assert wait_for(lambda: states(c) == {"plain": "RUNNING", "keepstopped": "STOPPED", "manual": "RUNNING"},
                        60), states(c)
        log = c.daemon_log()
        assert "spawned: 'keepstopped'" not in log, log[-3000:]
        assert "spawned: 'manual'" in log and "spawned: 'plain'" in log
        assert "adopted:" not in log  # the old processes died with the old boot
