# SPDX-License-Identifier: LGPL-2.1-or-later
"""A client that floods the stdin of a program that never reads it: the
daemon keeps at most stdin_buffer_max bytes pending per program (1 MiB by
default), refuses the rest with an error naming the program and the limit,
and its memory stays bounded."""

import time
import xmlrpc.client

import pytest

from hostile import Daemon, unix_rpc

PROGRAMS = """
[program:deaf]
command = /bin/sleep 1000
startsecs = 0

[program:small]
command = /bin/sleep 1000
startsecs = 0
stdin_buffer_max = 64KB

[program:reader]
command = /bin/cat
startsecs = 0
"""


@pytest.fixture
def daemon(tmp_path):
    sock = str(tmp_path / "rpc.sock")
    config = f"[unix_http_server]\nfile = {sock}\n\n{PROGRAMS}"

    def rpc():
        return unix_rpc(sock)

    def ready():
        try:
            return all(rpc().supervisor.getProcessInfo(n)["statename"] == "RUNNING" for n in ("deaf", "small", "reader"))
        except (OSError, xmlrpc.client.Error):
            return False

    d = Daemon(tmp_path, config, ready=ready)
    d.rpc = rpc
    yield d
    d.stop()


def flood(d, name, chunk, total):
    """Send `total` bytes in `chunk`-sized writes; the fault that stopped
    it and how much was accepted."""
    sent = 0
    while sent < total:
        try:
            d.rpc().supervisor.sendProcessStdin(name, "x" * chunk)
        except xmlrpc.client.Fault as f:
            return f, sent
        sent += chunk
    return None, sent


def test_stdin_of_a_program_that_does_not_read_is_bounded(daemon):
    fault, accepted = flood(daemon, "deaf", 256 * 1024, 96 * 1024 * 1024)
    assert fault is not None, f"{accepted} bytes were accepted for a program that never reads"
    assert "deaf" in fault.faultString and "stdin_buffer_max" in fault.faultString, fault.faultString
    # What the pipe holds plus the 1 MiB the daemon keeps, no more.
    assert accepted <= 3 * 1024 * 1024, accepted
    assert daemon.rpc().supervisor.getProcessInfo("deaf")["statename"] == "RUNNING"
    daemon.assert_bounded()


def test_the_limit_is_per_program(daemon):
    fault, accepted = flood(daemon, "small", 16 * 1024, 8 * 1024 * 1024)
    assert fault is not None and "65536 bytes" in fault.faultString, fault
    # Another program's stdin is untouched by the first one's backlog.
    assert daemon.rpc().supervisor.sendProcessStdin("reader", "still here\n") is True
    daemon.assert_bounded()


def test_a_program_that_reads_takes_more_than_the_limit(daemon):
    # The bound is on what is pending, not on what passes: cat reads what it
    # is fed, so 8 MiB go through a 1 MiB bound. A sender that meets the
    # bound waits for the program to catch up, as a client would.
    sent, chunk, deadline = 0, 256 * 1024, time.monotonic() + 60
    while sent < 8 * 1024 * 1024 and time.monotonic() < deadline:
        try:
            daemon.rpc().supervisor.sendProcessStdin("reader", "x" * chunk)
            sent += chunk
        except xmlrpc.client.Fault as f:
            assert "stdin_buffer_max" in f.faultString, f.faultString
            time.sleep(0.05)
    assert sent == 8 * 1024 * 1024
    daemon.assert_bounded()
