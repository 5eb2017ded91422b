# SPDX-License-Identifier: LGPL-2.1-or-later
"""A Khanat client as Khanat's client.py builds it: http.client with a
hand-made TLS connection (TLS 1.2 only, client certificate, no SNI, no
hostname check) and every request with a JSON body, GET included; plus the
daemon and certificate helpers the tests and the benchmark share."""

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests", "support"))
from waiting import end_process, wait_for  # noqa: E402,F401

DAEMON = os.environ.get("SCOPEVISORD", "build/daemon/scopevisord")
CERTS_SCRIPT = os.environ.get("KHANAT_CERTS_SCRIPT", "contrib/certs/make-khanat-certs.sh")


def make_certs(directory, clients=()):
    args = ["sh", CERTS_SCRIPT, "-d", str(directory), "--bits", "2048"]
    for c in clients:
        args += ["--client", c]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return directory / "ca"


class HTTPSConnectionCertificate(http.client.HTTPConnection):
    """client.py's connection class: connect() wraps the socket itself."""

    def __init__(self, key_file, cert_file, ca_cert, host="127.0.0.1", port=8000, timeout=30,
                 tls13=False):
        super().__init__(host, port, timeout)
        self.key_file, self.cert_file, self.ca_cert, self.tls13 = key_file, cert_file, ca_cert, tls13

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            if self.tls13:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.minimum_version = ssl.TLSVersion.TLSv1_3
                ctx.check_hostname = False
                ctx.load_verify_locations(self.ca_cert)
                if self.cert_file:
                    ctx.load_cert_chain(self.cert_file, self.key_file)
                self.sock = ctx.wrap_socket(sock)
            elif hasattr(ssl, "wrap_socket"):  # Python <= 3.11: exactly client.py's call
                self.sock = ssl.wrap_socket(sock, self.key_file, self.cert_file, ca_certs=self.ca_cert,
                                            cert_reqs=ssl.CERT_REQUIRED, ssl_version=ssl.PROTOCOL_TLSv1_2)
            else:  # the same settings on Python >= 3.12
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLSv1_2)
                ctx.verify_mode = ssl.CERT_REQUIRED
                ctx.load_verify_locations(self.ca_cert)
                if self.cert_file:
                    ctx.load_cert_chain(self.cert_file, self.key_file)
                self.sock = ctx.wrap_socket(sock)


class Client:
    def __init__(self, ca, name, port, host="127.0.0.1", tls13=False, ca_cert=None):
        appli = ca / "appli"
        self.key = str(appli / "private" / f"{name}key.pem") if name else None
        self.cert = str(appli / "certs" / f"{name}cert.pem") if name else None
        self.ca_cert = ca_cert or str(appli / "certs" / "cachaincert.pem")
        self.host, self.port, self.tls13 = host, port, tls13

    def raw(self, method, command, body, content_type="application/json", path=None):
        """(status, bytes) of one request, built as client.py does."""
        conn = HTTPSConnectionCertificate(self.key, self.cert, self.ca_cert, self.host, self.port,
                                          tls13=self.tls13)
        try:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if isinstance(data, str):
                data = data.encode("utf-8")
            conn.putrequest(method, path or "/" + command)
            if content_type is not None:
                conn.putheader("Content-type", content_type)
            conn.putheader("Content-length", len(data))
            conn.endheaders()
            conn.send(data)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def call(self, method, command, body=None):
        status, data = self.raw(method, command, {} if body is None else body)
        return status, (json.loads(data) if status == 200 else data.decode("utf-8", "replace"))

    def ok(self, method, command, body=None):
        status, data = self.call(method, command, body)
        assert status == 200, (command, status, data)
        return data


class Daemon:
    """scopevisord on the direct backend, ready once it sent READY=1."""

    def __init__(self, tmp_path, conf_body, env_extra=None, pass_fd=None):
        self.dir = tmp_path
        self.conf = tmp_path / "main.conf"
        self.conf.write_text(f"[supervisord]\nchildlogdir = {tmp_path}\n" + conf_body)
        self.log = tmp_path / "daemon.log"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify_path = str(tmp_path / "notify.sock")
        self.notify.bind(self.notify_path)
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        env.pop("JOURNAL_STREAM", None)
        env.update(env_extra or {})
        args = [DAEMON, "-c", str(self.conf), "--backend", "direct"]
        preexec = None
        if pass_fd is not None:
            # Socket activation by hand: the fd as 3, LISTEN_PID = the daemon's pid.
            def preexec():
                os.dup2(pass_fd, 3)
                os.set_inheritable(3, True)
            args = ["sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh"] + args
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(self.log, "w"), env=env,
                                     preexec_fn=preexec, pass_fds=(() if pass_fd is None else (pass_fd, 3)))

    def ready(self, timeout=20.0):
        self.notify.settimeout(timeout)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                data = self.notify.recv(4096).decode()
            except socket.timeout:
                break
            if "READY=1" in data:
                return True
        raise AssertionError("daemon not ready:\n" + self.output())

    def output(self):
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self):
        end_process(self.proc)
        self.notify.close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def have(tool):
    return shutil.which(tool) is not None
