# SPDX-License-Identifier: LGPL-2.1-or-later
"""The NATS side: losing and regaining the broker, a broker that is not up
yet, nkey authentication from a seed file, TLS with a root CA."""

import subprocess
import time

from nats_harness import Daemon, FakeNode, NatsClient, NatsServer, free_port, make_user_nkey, wait_for


# The fake central runs commands on ship1: that is an admin's right.
CENTRAL_ADMIN = "[access]\nsteward:central = admin\n"


def round_trip(port, **client_kw):
    c = NatsClient(port, "central", **client_kw)
    try:
        central = FakeNode(c, "central")
        central.listen("REQToFileAppend")
        ack = central.send("ship1", "REQCliCommand", Data=["echo", "up"], MethodTimeout=5)
        r = central.reply()
        return ack, r and r.message()["Data"]
    finally:
        c.close()


def test_broker_loss_and_return(tmp_path):
    srv = NatsServer(tmp_path)
    d = Daemon(tmp_path, srv.address, extra=CENTRAL_ADMIN)
    try:
        assert d.wait_log("connected to nats://")
        assert wait_for(lambda: round_trip(srv.port)[1] == ["up\n"], 10)
        srv.stop()
        assert d.wait_log("lost the connection to the NATS broker")
        srv.start()
        assert d.wait_log("reconnected to nats://", 15), d.output()
        ack, data = round_trip(srv.port)
        assert ack.startswith("confirmed") and data == ["up\n"]
        assert d.alive()
    finally:
        assert d.stop() == 0, d.output()
        srv.stop()


def test_broker_not_up_yet(tmp_path):
    port = free_port()
    d = Daemon(tmp_path, f"127.0.0.1:{port}", extra=CENTRAL_ADMIN)
    try:
        assert d.wait_log("not reachable yet")
        srv = NatsServer(tmp_path, port=port)
        try:
            assert d.wait_log(f"connected to nats://127.0.0.1:{port}", 15), d.output()
            assert wait_for(lambda: round_trip(port)[1] == ["up\n"], 10)
        finally:
            srv.stop()
    finally:
        assert d.stop() == 0, d.output()


def test_nkey_authentication(tmp_path):
    seed, pub, _signer = make_user_nkey(tmp_path)
    seedfile = tmp_path / "ship1.nk"
    seedfile.write_text(seed + "\n")
    seedfile.chmod(0o600)
    conf = ("authorization {\n  users = [\n"
            f"    {{ nkey: {pub} }}\n"
            "    { user: central, password: secret }\n  ]\n}\n")
    srv = NatsServer(tmp_path, extra_conf=conf)
    d = Daemon(tmp_path, srv.address, steward_extra=f"nkey_seed_file = {seedfile}", extra=CENTRAL_ADMIN)
    try:
        assert d.wait_log(f"nkey authentication as {pub}")
        ack, data = round_trip(srv.port, user="central", password="secret")
        assert ack == "confirmed from: ship1: 0" and data == ["up\n"], d.output()
    finally:
        assert d.stop() == 0, d.output()
        srv.stop()


def test_nkey_wrong_key_is_refused_by_the_broker(tmp_path):
    seed, _pub, _ = make_user_nkey(tmp_path)
    _seed2, other_pub, _ = make_user_nkey(tmp_path)
    seedfile = tmp_path / "ship1.nk"
    seedfile.write_text(seed)
    srv = NatsServer(tmp_path, extra_conf=f"authorization {{ users = [ {{ nkey: {other_pub} }} ] }}\n")
    d = Daemon(tmp_path, srv.address, steward_extra=f"nkey_seed_file = {seedfile}", extra=CENTRAL_ADMIN)
    try:
        # libnats closes a connection the broker refuses; the node starts over.
        assert d.wait_log("the NATS connection was closed", 10), d.output()
        assert "authentication error" in open(srv.log).read()
        time.sleep(2.5)
        assert open(srv.log).read().count("authentication error") >= 2
        assert d.alive()
    finally:
        d.stop()
        srv.stop()


def test_bad_seed_file_fails_the_start(tmp_path):
    seedfile = tmp_path / "bad.nk"
    seedfile.write_text("SUAAAAA\n")
    srv = NatsServer(tmp_path)
    d = Daemon(tmp_path, srv.address, steward_extra=f"nkey_seed_file = {seedfile}", extra=CENTRAL_ADMIN)
    try:
        assert d.wait_log("no user seed")
    finally:
        d.stop()
        srv.stop()


def make_tls(tmp_path, san):
    """A CA and a broker certificate it signed for `san` (e.g. "IP:127.0.0.1"),
    made with openssl; returns the nats-server tls block."""
    def ossl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp_path)

    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
         "-subj", "/CN=test CA", "-keyout", "ca.key", "-out", "ca.pem")
    ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=broker",
         "-keyout", "server.key", "-out", "server.csr")
    (tmp_path / "ext.cnf").write_text(f"subjectAltName = {san}\n")
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
         "-extfile", "ext.cnf", "-out", "server.pem")
    return f"tls {{\n  cert_file: {tmp_path / 'server.pem'}\n  key_file: {tmp_path / 'server.key'}\n}}\n"


def assert_tls_round_trip(tmp_path, san, host):
    """A broker with a certificate for `san`, reached as `host`: connected."""
    srv = NatsServer(tmp_path, extra_conf=make_tls(tmp_path, san))
    d = Daemon(tmp_path, f"{host}:{srv.port}", steward_extra=f"root_ca_path = {tmp_path / 'ca.pem'}",
               extra=CENTRAL_ADMIN)
    try:
        assert d.wait_log(f"connected to tls://{host}:{srv.port}", 10), d.output()
        ack, data = round_trip(srv.port, tls_ca=str(tmp_path / "ca.pem"))
        assert ack.startswith("confirmed") and data == ["up\n"]
    finally:
        assert d.stop() == 0, d.output()
        srv.stop()


def test_tls_with_root_ca(tmp_path):
    assert_tls_round_trip(tmp_path, "IP:127.0.0.1", "127.0.0.1")


def test_tls_checks_the_broker_name(tmp_path):
    # A certificate of the right CA for another name: refused, and the log
    # says why and which name was expected.
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    srv = NatsServer(wrong, extra_conf=make_tls(wrong, "DNS:wrong.example"))
    d = Daemon(wrong, f"localhost:{srv.port}", steward_extra=f"root_ca_path = {wrong / 'ca.pem'}")
    try:
        assert d.wait_log("its certificate must name localhost", 10), d.output()
        assert d.wait_log(f"TLS to localhost:{srv.port} refused: certificate verify failed: hostname mismatch "
                          "\\(the broker's certificate must be signed by root_ca_path and carry the name localhost",
                          15), d.output()
        time.sleep(1)
        assert "connected to tls://" not in d.output()
    finally:
        assert d.stop() == 0, d.output()
        srv.stop()
    # The same name in the certificate: connected.
    right = tmp_path / "right"
    right.mkdir()
    assert_tls_round_trip(right, "DNS:localhost", "localhost")


def test_plaintext_to_a_remote_broker_warns(tmp_path):
    # 192.0.2.1 (TEST-NET-1) is never reached; the warning comes at start.
    d = Daemon(tmp_path, "192.0.2.1:4222")
    try:
        assert d.wait_log("is not on this machine and the connection is not encrypted", 10), d.output()
    finally:
        assert d.stop() == 0, d.output()
