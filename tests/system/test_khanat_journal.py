# SPDX-License-Identifier: LGPL-2.1-or-later
"""The khanat adapter's LOG against the real systemd and journald in a
container: on the systemd backend, lines older than the program's log
buffer come from the journal, numbered as Khanat numbers them (one counter
over stdout and stderr from 1, docs/protocols/khanat.md §3.3), identical to what the
program printed and running on without a seam into the buffer's lines; and
after `systemctl restart scopevisord` the numbering goes on. The last test
shows a loss that is still open: lines the program wrote while no daemon
ran reach the new daemon's buffer with their numbers, but not always the
journal, so LOG from line 1 stops at that gap after the restart.

The client is client.py's own way (adapters/khanat/tests/khanat_client.py:
TLS 1.2, client certificate, JSON body on GET), run on the host inside the
container's network namespace."""

import json
import os
import sys
from pathlib import Path

import pytest

from container import netns_of, wait_for, with_config

HERE = os.path.dirname(os.path.abspath(__file__))
os.environ.setdefault("KHANAT_CERTS_SCRIPT", os.path.join(HERE, "..", "..", "contrib", "certs",
                                                          "make-khanat-certs.sh"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "adapters", "khanat", "tests"))
from khanat_client import Client, have, make_certs  # noqa: E402

if not have("openssl"):
    pytest.skip("openssl is missing (package openssl)", allow_module_level=True)

PORT = 8000  # inside the container's own network namespace
BUFFER = 50  # log_buffer_lines: most of what LOG is asked for is older

# "n i" on stdout, and after every tenth line "e k" on stderr, so the merged
# numbering (SCOPEVISOR_SEQ) differs from either stream's own.
CONFIG = r"""
[scopevisord]
backend = systemd
log_buffer_lines = %d

[program:counter]
command = /bin/sh -c 'i=0; while :; do i=$((i+1)); echo "n $i"; if [ $((i/10*10)) -eq $i ]; then echo "e $((i/10))" >&2; fi; sleep 0.01; done'
startsecs = 1

[adapter:khanat]
address = 127.0.0.1
port = %d
keyfile = /etc/scopevisor/ca/appli/private/serverkey.pem
certfile = /etc/scopevisor/ca/appli/certs/servercert.pem
ca_cert = /etc/scopevisor/ca/appli/certs/cachaincert.pem
default_role =

[access]
khanat:reader = log-reader
""" % (BUFFER, PORT)


def busctl(c, method, sig=None, *args):
    cmd = ["busctl", "--json=short", "call", "org.scopevisor1", "/org/scopevisor1", "org.scopevisor1.Manager",
           method] + ([sig] + [str(a) for a in args] if sig else [])
    return json.loads(c.run(cmd).stdout)["data"]


def journal_lines(c):
    """What the journal has of the counter: merged number -> text."""
    out = c.journal("SCOPEVISOR_PROGRAM=counter", "-o", "json", "--output-fields=MESSAGE,SCOPEVISOR_SEQ")
    es = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {int(e["SCOPEVISOR_SEQ"]): e["MESSAGE"] for e in es}


def buffer_start(c):
    """The oldest merged line number the daemon's buffer holds (D-Bus
    ReadLog with first 0 reads the buffer only)."""
    first, _last, lines = busctl(c, "ReadLog", "sstu", "counter", "all", 0, 100000)
    assert lines
    return first


class Khanat:
    def __init__(self, ct, ca):
        self.ct = ct
        self.client = Client(ca, "reader", PORT)

    def log(self, first_line):
        """LOG's reply as (first-line, last-line, {number: text})."""
        with netns_of(self.ct.leader):
            r = self.client.ok("GET", "LOG", {"name": "counter", "first-line": first_line})
        lines = {int(k): v for k, v in r.items() if k not in ("first-line", "last-line")}
        return r["first-line"], r["last-line"], lines

    def answers(self):
        try:
            return self.log(0)[1] > 0
        except OSError:  # not listening yet
            return False


def check_numbering(lines, first_line):
    """Numbered from first_line without a gap, and each stream's own lines
    are the program's, in the order it printed them. (Where one stderr line
    falls among the stdout lines is the order the daemon read two pipes in,
    not the program's; the journal comparison covers it.)"""
    numbers = sorted(lines)
    assert numbers == list(range(first_line, first_line + len(numbers))), "a gap in LOG's numbering"
    out = [int(lines[n].split()[1]) for n in numbers if lines[n].startswith("n ")]
    err = [int(lines[n].split()[1]) for n in numbers if lines[n].startswith("e ")]
    assert len(out) + len(err) == len(numbers), [lines[n] for n in numbers if lines[n][:2] not in ("n ", "e ")]
    assert out == list(range(out[0], out[0] + len(out))), "stdout lines lost, doubled or out of order"
    if err:
        assert err == list(range(err[0], err[0] + len(err))), "stderr lines lost, doubled or out of order"
    return out, err


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    c = with_config(tmp_path_factory, CONFIG)
    # The certificates beside the configuration, on /etc/scopevisor/ca.
    ca = make_certs(Path(c.config_dir), clients=["reader"])
    with c:
        c.start_daemon()
        c.khanat = Khanat(c, ca)
        assert wait_for(c.khanat.answers, 60), c.daemon_log()[-3000:]
        yield c


def test_old_lines_come_from_the_journal(ct):
    k = ct.khanat
    # Enough lines that line 1 left the buffer long ago.
    assert wait_for(lambda: k.log(0)[1] >= 8 * BUFFER, 60), ct.daemon_log()[-3000:]
    start = buffer_start(ct)
    assert start > 2 * BUFFER, "line 1 is still in the buffer; the test would not reach the journal"

    first, last, lines = k.log(1)
    assert first == 1
    assert max(lines) <= last
    # Through the buffer's first line and beyond: no seam between the two.
    assert min(lines) == 1 and max(lines) >= start
    out, err = check_numbering(lines, 1)
    assert out[0] == 1 and err[0] == 1
    # Identical to the journal, which recorded each line with its number.
    journal = journal_lines(ct)
    assert all(lines[n] == journal[n] for n in lines), \
        [(n, lines[n], journal.get(n)) for n in lines if lines[n] != journal.get(n)][:5]

    # A first-line inside the journal's part starts there.
    mid = start // 2
    first, _last, part = k.log(mid)
    assert first == mid and min(part) == mid
    assert all(part[n] == lines[n] for n in part if n in lines)


def test_numbering_goes_on_after_a_daemon_restart(ct):
    k = ct.khanat
    _first, before_last, before = k.log(1)
    pid_before = busctl(ct, "ListPrograms")[0]
    ct.run(["systemctl", "restart", "scopevisord.service"], timeout=120)
    assert wait_for(lambda: ct.run(["systemctl", "is-active", "scopevisord.service"], check=False)
                    .stdout.strip() == "active", 60)
    assert wait_for(k.answers, 60), ct.daemon_log()[-3000:]
    # The program itself was adopted, not restarted.
    assert [p[4] for p in busctl(ct, "ListPrograms")[0] if p[0] == "counter"] == \
        [p[4] for p in pid_before if p[0] == "counter"]
    assert wait_for(lambda: k.log(0)[1] >= before_last + 4 * BUFFER, 60), ct.daemon_log()[-3000:]
    start = buffer_start(ct)
    assert start > before_last, "the new lines did not push the old ones out of the buffer"

    # What was served before the restart is served again, with the same
    # numbers, from the journal now.
    first, _last, lines = k.log(1)
    assert first == 1
    check_numbering(lines, 1)
    assert all(lines[n] == before[n] for n in before)

    # The new daemon's lines go on from the old one's numbers: no number
    # used twice, each the journal's number of that very line.
    first, last, new = k.log(start)
    assert first == start and min(new) == start
    check_numbering(new, start)
    journal = journal_lines(ct)
    assert all(new[n] == journal[n] for n in new), \
        [(n, new[n], journal.get(n)) for n in new if new[n] != journal.get(n)][:5]

    # Following the output as client.py does: ask from last-line + 1.
    first, last2, follow = k.log(last + 1)
    if follow:
        assert first == last + 1 and min(follow) == last + 1
        check_numbering(follow, last + 1)
    else:
        assert first is None and last2 == last


def test_the_journal_has_every_line_across_the_restart(ct):
    """Last (after the restart): the journal, and so LOG from line 1, runs
    without a gap into the buffer."""
    journal = journal_lines(ct)
    assert sorted(journal) == list(range(1, max(journal) + 1)), \
        [n for n in range(1, max(journal) + 1) if n not in journal][:10]
    start = buffer_start(ct)
    first, last, lines = ct.khanat.log(1)
    assert first == 1 and max(lines) >= start
    check_numbering(lines, 1)
