# SPDX-License-Identifier: LGPL-2.1-or-later
"""The khanat adapter in the real daemon, with real programs, driven by real
clients: client.py's way (Python ssl + http.client, TLS 1.2 only, client
certificate, JSON on GET) and curl with client certificates."""

import json
import os
import socket
import ssl
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from khanat_client import Client, Daemon, free_port, have, make_certs, wait_for  # noqa: E402

ROLES = {"admin": "admin", "viewer": "viewer", "logger": "log-reader", "operator": "operator"}


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    base = tmp_path_factory.mktemp("certs")
    ca = make_certs(base / "good", clients=["admin", "viewer", "logger", "operator", "stranger"])
    other = make_certs(base / "other")  # another CA, same layout
    return ca, other


ECHOER = """#!/bin/sh
# every stdin line once on stdout and once on stderr
while read -r line; do
    echo "out:$line"
    echo "err:$line" >&2
done
"""


def write_khanat(tmp_path, ca, port, extra=""):
    script = tmp_path / "echoer.sh"
    script.write_text(ECHOER)
    script.chmod(0o755)
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    appli = ca / "appli"
    cfg = tmp_path / "khaganat.cfg"
    cfg.write_text(f"""# a Khanat manager configuration, as it is
[config]
port = {port}
keyfile = {appli}/private/serverkey.pem
certfile = {appli}/certs/servercert.pem
ca_cert = {appli}/certs/cachaincert.pem
address =

[aes]
command = {script}
path = {workdir}
logsize = 5
bufsize = 100

[egs]
command = /bin/sleep   3600

[pwd]
command = /bin/pwd
path = {workdir}

[broken]
command = /nonexistent/program --flag
{extra}""")
    return cfg


@pytest.fixture
def khanat(tmp_path, certs):
    ca, _ = certs
    port = free_port()
    cfg = write_khanat(tmp_path, ca, port)
    access = "\n".join(f"khanat:{cn} = {role}" for cn, role in ROLES.items())
    d = Daemon(tmp_path, f"""
[program:native]
command = /bin/sleep 3600
autostart = false

[adapter:khanat]
config = {cfg}
address = 127.0.0.1

[access]
{access}
""")
    try:
        d.ready()
        d.port = port
        d.ca = ca
        d.client = lambda name="admin", **kw: Client(ca, name, port, **kw)
        yield d
    finally:
        d.stop()


def wait_log(c, name, text, first=0):
    return wait_for(lambda: text in c.ok("GET", "LOG", {"name": name, "first-line": first}).values(), 10)


# ---------------------------------------------------------------- commands --

def test_list_in_config_order_then_others(khanat):
    c = khanat.client()
    assert c.ok("GET", "LIST") == {"0": "aes", "1": "egs", "2": "pwd", "3": "broken", "4": "native"}


def test_start_status_stop(khanat):
    c = khanat.client()
    assert c.ok("GET", "STATUS", {"name": "egs"}) == {"state": "stopped"}
    assert c.ok("POST", "START", {"name": "egs"}) == {"state": "started"}
    assert c.ok("GET", "STATUS", {"name": "egs"}) == {"state": "started"}
    assert c.ok("POST", "START", {"name": "egs"}) == {"state": "already-started"}
    assert c.ok("POST", "STOP", {"name": "egs"}) == {"state": "stopped"}
    assert c.ok("GET", "STATUS", {"name": "egs"}) == {"state": "stopped"}
    # Stopping a stopped program answers "stopped" too.
    assert c.ok("POST", "STOP", {"name": "egs"}) == {"state": "stopped"}
    # A program that cannot be launched.
    assert c.ok("POST", "START", {"name": "broken"}) == {"state": "crashed"}


def test_all_commands(khanat):
    c = khanat.client()
    r = c.ok("POST", "STARTALL")
    assert list(r) == ["aes", "egs", "pwd", "broken", "native"]
    assert r["aes"] == r["egs"] == r["native"] == "started"
    assert r["broken"] == "crashed"
    assert r["pwd"] in ("started", "crashed")  # pwd exits at once
    r = c.ok("POST", "STARTALL")
    assert r["egs"] == "already-started"
    s = c.ok("GET", "STATUSALL")
    assert list(s) == ["aes", "egs", "pwd", "broken", "native"]
    assert s["egs"] == "started" and s["broken"] == "stopped"
    assert c.ok("POST", "STOPALL") == {n: "stopped" for n in ["aes", "egs", "pwd", "broken", "native"]}
    assert set(c.ok("GET", "STATUSALL").values()) == {"stopped"}


def test_methods_are_interchangeable(khanat):
    c = khanat.client()
    assert c.ok("POST", "LIST")["0"] == "aes"
    assert c.ok("GET", "START", {"name": "egs"}) == {"state": "started"}
    assert c.ok("POST", "STATUS", {"name": "egs"}) == {"state": "started"}


def test_action_and_log(khanat):
    c = khanat.client()
    assert c.ok("POST", "ACTION", {"name": "aes", "action": "early"}) == {"state": "ko"}
    assert c.ok("GET", "LOG", {"name": "aes", "first-line": 0}) == {"first-line": None, "last-line": 0}
    c.ok("POST", "START", {"name": "aes"})
    assert c.ok("POST", "ACTION", {"name": "aes", "action": "one"}) == {"state": "ok"}
    assert wait_log(c, "aes", "err:one")
    log = c.ok("GET", "LOG", {"name": "aes", "first-line": 0})
    # stdout and stderr in one numbering, as stderr=STDOUT gave.
    assert log == {"1": "out:one", "2": "err:one", "first-line": 1, "last-line": 2}
    for i in range(2, 6):
        c.ok("POST", "ACTION", {"name": "aes", "action": f"l{i}  "})
    assert wait_log(c, "aes", "err:l5")
    # logsize = 5: the five newest lines, stripped of surrounding blanks.
    log = c.ok("GET", "LOG", {"name": "aes", "first-line": 0})
    assert [k for k in log if k.isdigit()] == ["6", "7", "8", "9", "10"]
    assert log["first-line"] == 6 and log["last-line"] == 10
    assert log["10"] == "err:l5"
    # Following: last-line + 1 gives nothing new; a line in the middle gives the rest.
    assert c.ok("GET", "LOG", {"name": "aes", "first-line": 11}) == {"first-line": None, "last-line": 10}
    assert list(c.ok("GET", "LOG", {"name": "aes", "first-line": 9})) == ["9", "10", "first-line", "last-line"]
    # "firstline" (the CLI flag's spelling) is understood as well.
    assert c.ok("GET", "LOG", {"name": "aes", "firstline": 10})["first-line"] == 10
    # Non-ASCII text goes through (json.dumps escapes it).
    c.ok("POST", "ACTION", {"name": "aes", "action": "é"})
    assert wait_log(c, "aes", "err:é")
    # The counter is not reset by a restart.
    c.ok("POST", "STOP", {"name": "aes"})
    c.ok("POST", "START", {"name": "aes"})
    c.ok("POST", "ACTION", {"name": "aes", "action": "again"})
    assert wait_log(c, "aes", "err:again")
    assert c.ok("GET", "LOG", {"name": "aes", "first-line": 0})["last-line"] == 14


def test_program_runs_in_its_path(khanat):
    c = khanat.client()
    c.ok("POST", "START", {"name": "pwd"})
    assert wait_for(lambda: str(khanat.dir / "work") in
                    c.ok("GET", "LOG", {"name": "pwd", "first-line": 0}).values())


# ------------------------------------------------------------------ errors --

@pytest.mark.parametrize("method,command,body,ctype,status", [
    ("GET", "NOPE", {}, "application/json", 400),
    ("GET", "list", {}, "application/json", 400),
    ("GET", "STATUS", {"name": "ghost"}, "application/json", 400),
    ("POST", "START", {}, "application/json", 400),
    ("POST", "START", {"name": 5}, "application/json", 400),
    ("GET", "LOG", {"name": "aes"}, "application/json", 400),
    ("GET", "LOG", {"name": "aes", "first-line": "x"}, "application/json", 400),
    ("POST", "ACTION", {"name": "aes"}, "application/json", 400),
    ("POST", "ACTION", {"name": "ghost", "action": "x"}, "application/json", 400),
    ("GET", "LIST", {}, "text/plain", 400),
    ("GET", "LIST", {}, None, 400),
    ("GET", "LIST", b"{not json", "application/json", 400),
    ("GET", "LIST", b"[]", "application/json", 400),
    ("PUT", "LIST", {}, "application/json", 404),
    ("DELETE", "LIST", {}, "application/json", 404),
    ("PATCH", "LIST", {}, "application/json", 404),
])
def test_errors(khanat, method, command, body, ctype, status):
    c = khanat.client()
    got, data = c.raw(method, command, body, content_type=ctype)
    assert got == status, data
    assert b"Error code: %d" % status in data


def test_head_is_not_found(khanat):
    c = khanat.client()
    conn = __import__("khanat_client").HTTPSConnectionCertificate(c.key, c.cert, c.ca_cert, c.host, c.port)
    conn.request("HEAD", "/LIST")
    assert conn.getresponse().status == 404
    conn.close()


def test_errors_change_nothing_and_server_keeps_serving(khanat):
    c = khanat.client()
    for body in [b"\xff\xfe", b'{"name": "egs"', b"{}" * 1000]:
        c.raw("POST", "START", body)
    assert c.ok("GET", "STATUS", {"name": "egs"}) == {"state": "stopped"}


# ------------------------------------------------------------ HTTP framing --

def tls_socket(khanat, name="admin"):
    appli = khanat.ca / "appli"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(str(appli / "certs/cachaincert.pem"))
    ctx.load_cert_chain(str(appli / f"certs/{name}cert.pem"), str(appli / f"private/{name}key.pem"))
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", khanat.port), timeout=10))
    return s, s.makefile("rb")


def read_reply(f):
    """(status, headers, body) of one reply from a buffered reader."""
    status = int(f.readline().split()[1])
    headers = {}
    while (line := f.readline().strip()):
        k, _, v = line.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, f.read(int(headers.get("content-length", 0)))


def test_pipelined_chunked_and_continue(khanat):
    s, f = tls_socket(khanat)
    try:
        # Two requests in one write: two replies, in order, on one connection.
        s.sendall(b"POST /START HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
                  b'{"name": "egs"}'
                  b"GET /STATUS HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
                  b'{"name": "egs"}')
        assert read_reply(f)[2] == b'{"state":"started"}'
        assert read_reply(f)[2] == b'{"state":"started"}'
        # A chunked body.
        s.sendall(b"POST /STOP HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\n{\"nam\r\na\r\ne\": \"egs\"}\r\n0\r\n\r\n")
        assert read_reply(f)[2] == b'{"state":"stopped"}'
        # Expect: 100-continue is answered before the body is sent.
        s.sendall(b"GET /STATUS HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 15\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        assert read_reply(f)[0] == 100
        s.sendall(b'{"name": "egs"}')
        status, headers, body = read_reply(f)
        assert (status, body) == (200, b'{"state":"stopped"}')
        assert headers["connection"] == "keep-alive"
    finally:
        s.close()


@pytest.mark.parametrize("head,status", [
    (b"GET /LIST HTTP/1.1\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n", 431),
    (b"GET /LIST HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(65)) + b"\r\n", 431),
    (b"POST /START HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 65537\r\n\r\n", 413),
    (b"NOT HTTP AT ALL\r\n\r\n", 400),
])
def test_oversized_or_malformed_heads_are_refused(khanat, head, status):
    s, f = tls_socket(khanat)
    try:
        s.sendall(head)
        got, headers, body = read_reply(f)
        assert got == status
        assert b"Error code: %d" % status in body
        assert headers["connection"] == "close"
    finally:
        s.close()
    assert khanat.client().ok("GET", "STATUS", {"name": "egs"}) == {"state": "stopped"}


# --------------------------------------------------------------------- TLS --

def test_tls12_and_tls13(khanat):
    assert khanat.client().ok("GET", "LIST")["0"] == "aes"
    assert khanat.client(tls13=True).ok("GET", "LIST")["0"] == "aes"


def old_tls_context(maximum):
    """A client that really offers TLS 1.0 up to `maximum`: OpenSSL 3 refuses
    TLS 1.0 and 1.1 on its own side at its default security level, before a
    byte is sent, so the level is lowered to 0."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = maximum
    return ctx


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_tls_versions_below_12_refused(khanat, version):
    appli = khanat.ca / "appli"
    # The same client offering up to TLS 1.2 gets in: the refusal below is the
    # version's, not the lowered security level's or the certificate's.
    ctx = old_tls_context(ssl.TLSVersion.TLSv1_2)
    ctx.load_cert_chain(str(appli / "certs/admincert.pem"), str(appli / "private/adminkey.pem"))
    with socket.create_connection(("127.0.0.1", khanat.port)) as s:
        with ctx.wrap_socket(s) as t:
            assert t.version() == "TLSv1.2"

    ctx = old_tls_context(version)
    ctx.load_cert_chain(str(appli / "certs/admincert.pem"), str(appli / "private/adminkey.pem"))
    with socket.create_connection(("127.0.0.1", khanat.port)) as s:
        with pytest.raises(ssl.SSLError) as refused:
            ctx.wrap_socket(s).do_handshake()
    # The server's protocol_version alert, not a refusal on the client's side
    # (NO_PROTOCOLS_AVAILABLE, UNSUPPORTED_PROTOCOL).
    assert refused.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION", refused.value


def test_client_without_certificate_refused(khanat):
    c = khanat.client(name=None)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        c.call("GET", "LIST")


def test_client_of_another_ca_refused(khanat, certs):
    _, other = certs
    # Trusts the server, but its own certificate is from another CA.
    c = Client(other, "client", khanat.port, ca_cert=str(khanat.ca / "appli/certs/cachaincert.pem"))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        c.call("GET", "LIST")


# ------------------------------------------------------------------- roles --

def test_viewer(khanat):
    khanat.client().ok("POST", "START", {"name": "egs"})
    v = khanat.client("viewer")
    assert v.ok("GET", "STATUSALL")["egs"] == "started"
    assert v.ok("GET", "LIST")["0"] == "aes"
    for cmd, body in [("STOP", {"name": "egs"}), ("STOPALL", {}), ("START", {"name": "aes"}),
                      ("STARTALL", {}), ("ACTION", {"name": "egs", "action": "x"}),
                      ("LOG", {"name": "egs", "first-line": 0}), ("SHUTDOWN", {})]:
        status, data = v.call("POST", cmd, body)
        assert status == 403, (cmd, data)
    # Nothing changed: egs still runs, aes was not started.
    s = khanat.client().ok("GET", "STATUSALL")
    assert s["egs"] == "started" and s["aes"] == "stopped"
    assert khanat.proc.poll() is None


def test_log_reader_and_operator(khanat):
    lg = khanat.client("logger")
    assert lg.ok("GET", "LOG", {"name": "aes", "first-line": 0})["last-line"] == 0
    assert lg.call("POST", "START", {"name": "egs"})[0] == 403
    op = khanat.client("operator")
    assert op.ok("POST", "START", {"name": "egs"}) == {"state": "started"}
    assert op.ok("POST", "ACTION", {"name": "egs", "action": "x"}) == {"state": "ok"}
    assert op.call("POST", "SHUTDOWN")[0] == 403
    assert op.ok("GET", "STATUS", {"name": "egs"}) == {"state": "started"}
    assert khanat.proc.poll() is None
    # An identity not in [access] gets default_role, empty by default: refused,
    # with the keys that would let it in.
    status, page = khanat.client("stranger").call("POST", "STOP", {"name": "egs"})
    assert status == 403
    assert "[access] khanat:stranger = &lt;role&gt;, or [adapter:khanat] default_role" in page
    assert op.ok("GET", "STATUS", {"name": "egs"}) == {"state": "started"}


def test_default_role_gives_unlisted_identities_a_role(tmp_path, certs):
    ca, _ = certs
    port = free_port()
    cfg = write_khanat(tmp_path, ca, port)
    # Every interface (the client still comes over loopback): the daemon
    # warns that anyone with a certificate of ca_cert is an operator.
    d = Daemon(tmp_path, f"[adapter:khanat]\nconfig = {cfg}\naddress =\ndefault_role = operator\n")
    try:
        d.ready()
        c = Client(ca, "stranger", port)
        assert c.ok("POST", "START", {"name": "egs"}) == {"state": "started"}
        assert c.call("POST", "SHUTDOWN")[0] == 403
        assert d.proc.poll() is None
        assert "CRIT: the Khanat HTTPS listener" in d.output()
        assert "[adapter:khanat] default_role gives anonymous and unlisted clients the role operator" in d.output()
    finally:
        d.stop()


def test_default_role_empty_refuses_strangers(tmp_path, certs):
    ca, _ = certs
    port = free_port()
    cfg = write_khanat(tmp_path, ca, port)
    d = Daemon(tmp_path, f"[adapter:khanat]\nconfig = {cfg}\ndefault_role =\n[access]\nkhanat:viewer = viewer\n")
    try:
        d.ready()
        assert Client(ca, "stranger", port).call("GET", "LIST")[0] == 403
        assert Client(ca, "viewer", port).ok("GET", "LIST")["0"] == "aes"
    finally:
        d.stop()


def test_shutdown(khanat):
    c = khanat.client()
    c.ok("POST", "START", {"name": "egs"})
    pid = int(subprocess.run(["pgrep", "-f", "-P", str(khanat.proc.pid), "sleep"],
                             capture_output=True, text=True).stdout.split()[0])
    assert c.ok("POST", "SHUTDOWN") == {"shutdown": "ok"}
    assert khanat.proc.wait(30) == 0
    assert not os.path.exists(f"/proc/{pid}") or \
        open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] == "Z"


# -------------------------------------------------------------------- curl --

@pytest.mark.skipif(not have("curl"), reason="curl is not installed")
def test_curl(khanat):
    appli = khanat.ca / "appli"
    base = ["curl", "-sS", "--cacert", str(appli / "certs/cachaincert.pem"),
            "--cert", str(appli / "certs/admincert.pem"), "--key", str(appli / "private/adminkey.pem")]
    url = f"https://127.0.0.1:{khanat.port}"

    def curl(*args):
        out = subprocess.run(base + list(args), capture_output=True, text=True, check=True).stdout
        return json.loads(out)

    assert curl(url + "/LIST")["0"] == "aes"  # no body at all
    assert curl("-X", "POST", url + "/START", "-H", "Content-Type: application/json",
                "-d", '{"name": "egs"}') == {"state": "started"}
    assert curl("-X", "GET", url + "/STATUS", "-H", "Content-Type: application/json",
                "-d", '{"name": "egs"}') == {"state": "started"}
    assert curl("--tlsv1.2", "--tls-max", "1.2", url + "/STATUSALL")["egs"] == "started"
    assert curl("--tlsv1.3", url + "/STATUSALL")["egs"] == "started"
    assert curl("-X", "POST", url + "/STOPALL")["egs"] == "stopped"
    # Without a client certificate the handshake fails.
    r = subprocess.run(["curl", "-sS", "--cacert", str(appli / "certs/cachaincert.pem"), url + "/LIST"],
                       capture_output=True, text=True)
    assert r.returncode != 0


# ---------------------------------------------------- import and activation --

def test_launch_program_and_config_keys(tmp_path, certs):
    ca, _ = certs
    port = free_port()
    cfg = write_khanat(tmp_path, ca, 1)  # the adapter's own port wins over [config]
    d = Daemon(tmp_path, f"[adapter:khanat]\nconfig = {cfg}\nport = {port}\naddress = 127.0.0.1\n"
                         "launch_program = yes\n[access]\nkhanat:admin = admin\n")
    try:
        d.ready()
        c = Client(ca, "admin", port)
        assert wait_for(lambda: c.ok("GET", "STATUS", {"name": "egs"}) == {"state": "started"})
        assert c.ok("GET", "STATUS", {"name": "broken"}) == {"state": "stopped"}
    finally:
        d.stop()


def test_bad_khaganat_cfg_is_reported(tmp_path, certs):
    ca, _ = certs
    cfg = tmp_path / "khaganat.cfg"
    cfg.write_text("[config]\nport = 1\n[aes]\nlogsize = many\ncommand = /bin/true\n")
    d = Daemon(tmp_path, f"[adapter:khanat]\nconfig = {cfg}\n")
    try:
        assert d.proc.wait(20) != 0
        assert f"{cfg}:4" in d.output()
    finally:
        d.stop()


def test_socket_activation(tmp_path, certs):
    ca, _ = certs
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    port = lsock.getsockname()[1]
    cfg = write_khanat(tmp_path, ca, 1)
    d = Daemon(tmp_path, f"[adapter:khanat]\nconfig = {cfg}\n[access]\nkhanat:admin = admin\n",
               env_extra={"LISTEN_FDS": "1", "LISTEN_FDNAMES": "khanat"}, pass_fd=lsock.fileno())
    try:
        d.ready()
        assert Client(ca, "admin", port).ok("GET", "LIST")["0"] == "aes"
        assert "listening socket from systemd" in d.output()
    finally:
        d.stop()
        lsock.close()
