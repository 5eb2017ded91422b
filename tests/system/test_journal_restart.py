# SPDX-License-Identifier: LGPL-2.1-or-later
"""What survives the daemon, against the real systemd, journald and D-Bus in a
container: a `kill -9` of scopevisord while a program talks (same pid, line
numbers going on from the journal, none lost or doubled), reads older than
the log buffer answered from the journal, socket activation by an XML-RPC
client, and the desired state across daemon restarts and a fresh start."""

import json
import os
import re

import pytest

from container import wait_for, with_config


# A small buffer, so that most of what the tests read is older than it.
CONFIG = r"""
[scopevisord]
backend = systemd
log_buffer_lines = 100

[unix_http_server]
file = /run/scopevisor/supervisor.sock

[program:counter]
command = /bin/sh -c 'i=0; while :; do i=$((i+1)); echo "n $i"; if [ $((i/10*10)) -eq $i ]; then echo "e $((i/10))" >&2; fi; sleep 0.01; done'
startsecs = 1

[program:keepstopped]
command = /bin/sleep 600
startsecs = 0

[program:manual]
command = /bin/sleep 600
startsecs = 0
autostart = false
"""


def daemon_log(c):
    return c.daemon_log()


def busctl(c, method, sig=None, *args, timeout=60):
    cmd = ["busctl", "--json=short", "call", "org.scopevisor1", "/org/scopevisor1", "org.scopevisor1.Manager", method]
    if sig:
        cmd += [sig] + [str(a) for a in args]
    out = c.run(cmd, timeout=timeout).stdout
    return json.loads(out)["data"] if out.strip() else None


def programs(c):
    """namespec -> (state, pid)"""
    return {p[0]: (p[2], p[4]) for p in busctl(c, "ListPrograms")[0]}


def read_log(c, program, stream, first, max_lines):
    first_no, last_no, lines = busctl(c, "ReadLog", "sstu", program, stream, first, max_lines)
    return first_no, last_no, lines


def main_pid(c):
    return int(c.run(["systemctl", "show", "-p", "MainPID", "--value", "scopevisord.service"]).stdout.strip() or 0)


def service_active(c):
    return c.run(["systemctl", "is-active", "scopevisord.service"], check=False).stdout.strip() == "active"


def counter_entries(c, stream="stdout"):
    out = c.journal("SCOPEVISOR_PROGRAM=counter", "SCOPEVISOR_STREAM=" + stream, "-o", "json",
                    "--output-fields=MESSAGE,SCOPEVISOR_LINE,SCOPEVISOR_SEQ")
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def newest_line(c):
    es = counter_entries(c)
    return int(es[-1]["SCOPEVISOR_LINE"]) if es else 0


def in_order_up_to_adjacent_swaps(lines, expect):
    """lines is expect, except that a stderr line "e k" may come just before
    the stdout line "n 10k" that the program wrote first."""
    got = list(lines)
    for i in range(len(got) - 1):
        if got[i].startswith("e ") and got[i + 1] == "n %d" % (10 * int(got[i].split()[1])):
            got[i], got[i + 1] = got[i + 1], got[i]
    return got == expect


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    with with_config(tmp_path_factory, CONFIG) as c:
        c.start_daemon()
        assert wait_for(lambda: programs(c).get("counter", ("",))[0] == "RUNNING"), daemon_log(c)[-3000:]
        yield c


def test_journal_entries_carry_line_numbers(ct):
    assert wait_for(lambda: newest_line(ct) >= 20)
    es = counter_entries(ct)
    for e in es:
        n = int(e["MESSAGE"].split()[1])
        assert int(e["SCOPEVISOR_LINE"]) == n, e
    # The merged view's numbers: 10 stdout lines, then one stderr line. The
    # program writes "n 10k" just before "e k", but when both pipes are
    # ready in one turn of the loop either may be read first: stderr line k
    # is the (11k)-th line or the one before it.
    err = counter_entries(ct, "stderr")
    assert err, "no stderr lines"
    for e in err:
        k = int(e["MESSAGE"].split()[1])
        assert int(e["SCOPEVISOR_LINE"]) == k and int(e["SCOPEVISOR_SEQ"]) in (11 * k - 1, 11 * k), e


def test_kill_9_keeps_the_program_and_its_numbering(ct):
    state, pid = programs(ct)["counter"]
    assert state == "RUNNING" and pid > 0
    assert wait_for(lambda: newest_line(ct) >= 300), "the counter does not talk"
    old_daemon = main_pid(ct)
    ct.run(["kill", "-9", str(old_daemon)])
    # systemd restarts it (Restart=on-failure), and it adopts the program.
    assert wait_for(lambda: main_pid(ct) not in (0, old_daemon) and service_active(ct), 60), daemon_log(ct)[-3000:]
    assert wait_for(lambda: re.search(r"adopted: 'counter' with pid %d" % pid, daemon_log(ct))), \
        daemon_log(ct)[-3000:]
    assert wait_for(lambda: programs(ct)["counter"] == ("RUNNING", pid)), programs(ct)
    before = newest_line(ct)
    assert wait_for(lambda: newest_line(ct) >= before + 300, 60), "no lines after the restart"

    # The journal: every number once, in order, the program's own number
    # and the line view's the same.
    es = counter_entries(ct)
    own = [int(e["MESSAGE"].split()[1]) for e in es]
    numbers = [int(e["SCOPEVISOR_LINE"]) for e in es]
    assert own == list(range(1, len(own) + 1)), "a line lost or doubled in the journal across kill -9"
    assert numbers == own

    # D-Bus ReadLog from line 1: the buffer holds 100 lines, the rest comes
    # from the journal; numbered from 1 without a gap across the restart.
    first, last, lines = read_log(ct, "counter", "stdout", 1, len(own))
    assert first == 1 and last == len(own), (first, last)
    assert lines == ["n %d" % i for i in range(1, len(own) + 1)]
    # Newest lines (from the buffer) carry the numbers the journal has.
    first, last, lines = read_log(ct, "counter", "stdout", 0, 10)
    assert len(lines) == 10 and lines == ["n %d" % i for i in range(first, last + 1)]
    # The merged view too: stderr line k is the (11k)-th line, or the one
    # before it when both pipes were read in the same turn (see above).
    first, last, lines = read_log(ct, "counter", "all", 1, 220)
    assert first == 1 and len(lines) == 220
    expect = []
    for i in range(1, 201):
        expect.append("n %d" % i)
        if i % 10 == 0:
            expect.append("e %d" % (i // 10))
    assert in_order_up_to_adjacent_swaps(lines, expect)


def test_refill_after_a_clean_restart(ct):
    """The buffer of the new daemon starts with the lines the old one had."""
    assert wait_for(lambda: newest_line(ct) >= 50, 60), "the counter does not talk"
    ct.run(["systemctl", "restart", "scopevisord.service"], timeout=120)
    assert wait_for(lambda: service_active(ct))
    assert "log buffers refilled from the journal" in daemon_log(ct).split("started with pid")[-1]
    first, last, lines = read_log(ct, "counter", "stdout", 0, 50)
    assert len(lines) == 50 and lines == ["n %d" % i for i in range(first, last + 1)]


def test_socket_activation_starts_the_daemon(ct):
    state, pid = programs(ct)["counter"]
    ct.run(["systemctl", "stop", "scopevisord.service"], timeout=120)
    assert not service_active(ct)
    assert ct.run(["systemctl", "is-active", "scopevisord.socket"], check=False).stdout.strip() == "active", \
        ct.run(["systemctl", "status", "scopevisord.socket"], check=False).stdout + ct.journal("-u", "scopevisord.socket")
    mark = newest_line(ct)
    # supervisorctl, as users call it, on the socket that systemd holds.
    r = ct.run(["supervisorctl", "-s", "unix:///run/scopevisor/supervisor.sock", "status", "counter"],
               check=False, timeout=90)
    assert re.search(r"^counter\s+RUNNING\s+pid %d," % pid, r.stdout, re.M), (r.stdout, r.stderr,
                                                                               daemon_log(ct)[-3000:])
    assert service_active(ct)
    # Nothing lost: the lines written while no daemon ran come through in order.
    assert wait_for(lambda: newest_line(ct) >= mark + 200, 60)
    own = [int(e["MESSAGE"].split()[1]) for e in counter_entries(ct)]
    assert own == list(range(1, len(own) + 1))
    # Python's xmlrpc.client over the unix socket answers too.
    script = r"""
import http.client, socket, xmlrpc.client
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect("/run/scopevisor/supervisor.sock")
class T(xmlrpc.client.Transport):
    def make_connection(self, host): return C("localhost")
p = xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=T())
print(p.supervisor.getProcessInfo("counter")["pid"])
"""
    assert int(ct.run(["/usr/bin/python3", "-c", script]).stdout.strip()) == pid


def test_desired_state_survives_restarts_and_a_fresh_start(ct):
    busctl(ct, "StopProgram", "s", "keepstopped")
    busctl(ct, "StartProgram", "s", "manual")
    assert wait_for(lambda: programs(ct)["manual"][0] == "RUNNING")
    assert programs(ct)["keepstopped"][0] == "STOPPED"
    # A daemon restart: the programs are adopted, or stay stopped.
    ct.run(["systemctl", "restart", "scopevisord.service"], timeout=120)
    assert wait_for(lambda: service_active(ct))
    p = wait_for(lambda: (lambda x: x if x["counter"][0] == "RUNNING" else None)(programs(ct)))
    assert p["keepstopped"][0] == "STOPPED" and p["manual"][0] == "RUNNING", p
    # A fresh start, as after a reboot: every program stopped, every scope
    # gone, then the daemon starts again from its state file.
    busctl(ct, "Shutdown")
    assert wait_for(lambda: not service_active(ct), 120)
    assert wait_for(lambda: ct.run(["systemctl", "list-units", "--plain", "--no-legend", "scopevisor-*"])
                    .stdout.strip() == "", 60)
    ct.run(["systemctl", "start", "scopevisord.service"], timeout=120)
    assert wait_for(lambda: service_active(ct))
    p = wait_for(lambda: (lambda x: x if x["counter"][0] == "RUNNING" and x["manual"][0] == "RUNNING" else None)
                 (programs(ct)), 60)
    assert p, programs(ct)
    assert programs(ct)["keepstopped"][0] == "STOPPED"
    assert "spawned: 'keepstopped'" not in daemon_log(ct).split("started with pid")[-1]


def test_a_changed_program_continues_its_numbering_after_a_reload(ct):
    """Last: the counter starts again from 1, its line numbers do not."""
    before = wait_for(lambda: newest_line(ct))
    with open(os.path.join(ct.config_dir, "scopevisor.conf"), "w") as f:
        f.write(CONFIG.replace("startsecs = 1", "startsecs = 2"))
    added, changed, removed = busctl(ct, "Reload")
    assert changed == ["counter"], (added, changed, removed)
    assert wait_for(lambda: programs(ct)["counter"][0] == "RUNNING", 60)
    assert wait_for(lambda: newest_line(ct) >= before + 50, 60)
    es = counter_entries(ct)
    numbers = [int(e["SCOPEVISOR_LINE"]) for e in es]
    assert numbers == list(range(1, len(numbers) + 1)), "numbering restarted or skipped at the reload"
    # The new run's first line follows the old run's last in the line view.
    restart = max(i for i, e in enumerate(es) if e["MESSAGE"] == "n 1")
    at = numbers[restart]
    assert at > before
    first, last, lines = read_log(ct, "counter", "stdout", at - 3, 6)
    assert (first, last) == (at - 3, at + 2)
    assert lines == [e["MESSAGE"] for e in es[restart - 3:restart + 3]] and lines[3] == "n 1", lines
