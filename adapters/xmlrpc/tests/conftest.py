# SPDX-License-Identifier: LGPL-2.1-or-later
"""A real scopevisord with the xmlrpc adapter on a unix socket and on TCP
(with Basic auth), real programs on the direct backend, and clients that
talk to it the way supervisorctl does."""

import http.client
import os
import socket
import subprocess
import sys
import xmlrpc.client

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests", "support"))
from waiting import end_process, wait_for  # noqa: E402,F401

DAEMON = os.environ.get("SCOPEVISORD", "build/daemon/scopevisord")
SUPERVISORCTL = os.environ.get("SUPERVISORCTL", "/usr/bin/supervisorctl")

PROGRAMS = """
[program:sleeper]
command = /bin/sleep 1000
startsecs = 0

[program:cat]
command = /bin/cat
startsecs = 0

[program:echoer]
command = /bin/sh -c 'echo hello; echo oops >&2; exec /bin/sleep 1000'
startsecs = 0

[program:manual]
command = /bin/sleep 1000
autostart = false
startsecs = 1

[program:quick]
command = /bin/sleep 1000
autostart = false
startsecs = 0

[program:fails]
command = /bin/sh -c 'exit 3'
autostart = false
startsecs = 1
startretries = 0

[program:nofile]
command = /nonexistent/program
autostart = false

[program:stubborn]
command = /bin/sh -c 'trap "" TERM; echo ready; while :; do sleep 0.1; done'
autostart = false
startsecs = 0
stopwaitsecs = 3

[group:grp]
programs = ga,gb

[program:ga]
command = /bin/sleep 1000
startsecs = 0

[program:gb]
command = /bin/sleep 1000
startsecs = 0
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path):
        super().__init__()
        self.path = path

    def make_connection(self, host):
        return UnixHTTPConnection(self.path)


class Daemon:
    def __init__(self, tmp_path, programs=PROGRAMS, extra="", chmod="0700", sock=None):
        self.dir = tmp_path
        self.sock = sock or str(tmp_path / "supervisor.sock")
        self.port = free_port()
        self.conf = tmp_path / "supervisord.conf"
        self.log = tmp_path / "daemon.log"
        self.conf.write_text(
            f"""[supervisord]
childlogdir = {tmp_path}
identifier = svtest

[scopevisord]
state_dir = {tmp_path}/state

[unix_http_server]
file = {self.sock}
chmod = {chmod}

[inet_http_server]
port = 127.0.0.1:{self.port}
username = user
password = 123

[supervisorctl]
serverurl = unix://{self.sock}

{extra}
{programs}
"""
        )
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        self.proc = subprocess.Popen(
            [DAEMON, "-c", str(self.conf), "--backend", "direct"],
            stdout=subprocess.DEVNULL,
            stderr=open(self.log, "w"),
            env=env,
        )
        try:
            up = wait_for(lambda: self._answers(), 20)
        except RuntimeError:
            up = False
        if not up:
            self.stop()
            raise RuntimeError("daemon did not come up:\n" + self.output())

    def _answers(self):
        if self.proc.poll() is not None:
            raise RuntimeError("daemon exited:\n" + self.output())
        try:
            return self.rpc().supervisor.getAPIVersion() == "3.0"
        except (OSError, xmlrpc.client.Error):
            return False

    def output(self):
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def rpc(self):
        return xmlrpc.client.ServerProxy("http://localhost", transport=UnixTransport(self.sock))

    def tcp(self, user="user", password="123"):
        auth = f"{user}:{password}@" if user is not None else ""
        return xmlrpc.client.ServerProxy(f"http://{auth}127.0.0.1:{self.port}/RPC2")

    def raw(self, data, timeout=10):
        """Send raw bytes to the unix socket, return everything answered."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(self.sock)
        s.sendall(data)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
        s.close()
        return out

    def ctl(self, *args, timeout=60, input=None):
        return subprocess.run(
            [SUPERVISORCTL, "-c", str(self.conf), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
        )

    def state(self, name):
        return self.rpc().supervisor.getProcessInfo(name)["statename"]

    def stop(self):
        end_process(self.proc)


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path)
    wait_for(lambda: d.state("sleeper") == "RUNNING" and d.state("cat") == "RUNNING", 10)
    yield d
    d.stop()
