# SPDX-License-Identifier: LGPL-2.1-or-later
"""A scopevisord with the steward adapter as node "ship1", commanded by a fake
Steward central written with steward_gob.py, through a real nats-server."""

import http.server
import json
import os
import threading
import time
import urllib.request

import pytest

import steward_gob as sg
from nats_harness import Daemon, FakeNode, NatsClient, NatsServer, next_error_log, read, subject, wait_for

PROGRAMS = """
[program:sleeper]
command = sleep 1000
autostart = false
startsecs = 0

[program:talker]
command = bash -c 'i=0; while true; do i=$((i+1)); echo "talk $i"; sleep 0.2; done'
autostart = true
startsecs = 0
"""


@pytest.fixture(scope="module")
def nats(tmp_path_factory):
    srv = NatsServer(tmp_path_factory.mktemp("nats"))
    yield srv
    srv.stop()


# The fake central runs commands on ship1: that is an admin's right.
CENTRAL_ADMIN = "\n[access]\nsteward:central = admin\n"


class Setup:
    def __init__(self, tmp, nats, steward_extra="", extra=PROGRAMS + CENTRAL_ADMIN):
        self.client = NatsClient(nats.port, "central")
        self.central = FakeNode(self.client, "central")
        self.hello = self.client.sub("central.REQHello.EventNACK")
        self.central.listen("REQToFileAppend")
        self.errors = self.client.sub("errorCentral.REQErrorLog.EventACK")
        self.daemon = Daemon(tmp, nats.address, steward_extra="start_pub_hello = 60\n" + steward_extra, extra=extra)
        # The first hello comes once the node's subscriptions exist.
        assert self.client.next(self.hello, 10) is not None, self.daemon.output()

    def error_log(self, pattern, timeout=10):
        """The next error log whose text contains `pattern` (ACKed)."""
        return next_error_log(self.client, self.errors, pattern, timeout)

    def close(self):
        rc = self.daemon.stop()
        self.client.close()
        return rc


@pytest.fixture
def node(tmp_path, nats):
    s = Setup(tmp_path, nats)
    yield s
    assert s.close() == 0, s.daemon.output()


def cli(node, cmd, method="REQCliCommand", **kw):
    fields = dict(Data=["bash", "-c", cmd], ReplyMethod="REQToFileAppend", ACKTimeout=5, Retries=1,
                  ReplyACKTimeout=5, ReplyRetries=3, MethodTimeout=10, Directory="cli", FileName="out.log")
    fields.update(kw)
    return node.central.send("ship1", method, **fields)


def test_subscriptions_of_spec_2_3(tmp_path, nats, node):
    # nats-server's monitoring would need a port; ask the node itself with ps.
    ack = node.central.send("ship1", "REQOpCommand", Operation={"OpCmd": "ps"}, ReplyACKTimeout=5,
                            ReplyRetries=1, Directory="op", FileName="ps.log")
    assert ack == "confirmed from node: ship1: messageID: 0\n---\n"
    ps = node.central.reply().message()["Data"][0]
    for m in ["REQOpCommand", "REQCliCommand", "REQnCliCommand", "REQnCliCommandCont", "REQToConsole",
              "REQToFileAppend", "REQToFile", "REQHello", "REQPing", "REQPong", "REQHttpGet", "REQTailFile",
              "REQToSocket"]:
        assert f"proc: subscriber, id: " in ps and f"name: {subject('ship1', m)}, allowed from: map[]" in ps, m
    # Not the central: no errorCentral subscriber by default.
    assert "errorCentral" not in ps.split("proc: publisher")[0]
    assert "proc: program" in ps and "name: talker, state: RUNNING" in ps


def test_hello_is_the_real_nodes_message(node):
    h = node.client.next(node.hello, 1)  # none again within the 60 s period
    assert h is None


def test_cli_command_ack_and_reply(node):
    t0 = time.monotonic()
    assert cli(node, "echo apekatt", ID=7) == "confirmed from: ship1: 7"
    assert time.monotonic() - t0 < 1
    r = node.central.reply()
    assert r.subject == "central.REQToFileAppend.EventACK"
    assert r.reply == "central.REQToFileAppend.EventACK.reply"
    m = r.message()
    assert m["Data"] == ["apekatt\n"]
    assert m["Method"] == "REQToFileAppend" and m["ToNode"] == "central"
    assert m["ACKTimeout"] == 5 and m["Retries"] == 3
    prev = m["PreviousMessage"]
    assert prev["Data"] == ["bash", "-c", "echo apekatt"] and prev["ID"] == 7
    assert prev["ReplyMethod"] == "REQToFileAppend" and prev["FromNode"] == "central"
    assert prev["Directory"] == "cli" and prev["FileName"] == "out.log"


def test_ncli_command_is_the_same(node):
    assert cli(node, "echo n", method="REQnCliCommand") is not None
    assert node.central.reply().message()["Data"] == ["n\n"]


def test_failed_command_sends_error_log_and_stdout(node):
    cli(node, "echo partial; echo oops >&2; exit 4")
    assert node.central.reply().message()["Data"] == ["partial\n"]
    e = node.error_log("exit status 4")
    assert e and "error_output: oops" in e["Data"][0] and e["FromNode"] == "ship1"
    assert e["ACKTimeout"] == 60 and e["Retries"] == 10
    assert e["Directory"] == "errorLog" and e["FileName"] == "error.log"


def test_cont_one_reply_per_line(node):
    cli(node, "echo a; echo b; echo c", method="REQnCliCommandCont", MethodTimeout=5)
    lines = [node.central.reply().message()["Data"] for _ in range(3)]
    assert lines == [["a\n"], ["b\n"], ["c\n"]]


def test_timeout_kills_the_tree_and_logs(node, tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    t0 = time.monotonic()
    cli(node, f"sleep 60 & echo $! > {pidfile}; wait", MethodTimeout=1)
    e = node.error_log("method timed out")
    assert e, node.daemon.output()
    assert time.monotonic() - t0 < 5
    pid = int(pidfile.read_text())
    assert wait_for(lambda: not os.path.exists(f"/proc/{pid}") or
                    ") Z" in read(f"/proc/{pid}/stat"), 5)
    assert node.central.reply(timeout=1) is None  # no reply after a timeout


def test_reply_retry_until_acked(node):
    cli(node, "echo again", ReplyACKTimeout=1, ReplyRetries=3)
    first = node.central.reply(ack=False)
    t0 = time.monotonic()
    second = node.central.reply(ack=True)
    assert second is not None and 0.7 < time.monotonic() - t0 < 3
    assert first.data == second.data  # the same message is sent again
    assert node.central.reply(timeout=2) is None


def test_reply_gives_up_after_retries_and_says_so(node):
    cli(node, "echo lost", ReplyACKTimeout=1, ReplyRetries=2)
    assert node.central.reply(ack=False) is not None
    assert node.central.reply(ack=False) is not None
    e = node.error_log("max retries reached")
    assert e and "toNode: central, fromNode: ship1, method: REQToFileAppend" in e["Data"][0]


def test_no_responders_count_as_failed_attempts(node):
    # Nobody listens on central.REQToFile.EventACK: every attempt fails at once.
    t0 = time.monotonic()
    cli(node, "echo x", ReplyMethod="REQToFile", ReplyACKTimeout=20, ReplyRetries=3)
    e = node.error_log("method: REQToFile: max retries reached")
    assert e and time.monotonic() - t0 < 5
    assert "no responders" in node.daemon.output()


def test_malformed_gob_is_logged_acked_and_survived(node):
    for payload in [b"", b"garbage!", sg.encode_message({"ToNode": "ship1"})[:100],
                    bytes.fromhex("f87fffffffffffffff")]:
        ack = node.central.send_raw("ship1.REQCliCommand.CommandACK", payload)
        assert ack == "error from: ship1: malformed message"
        assert node.error_log("gob decoding failed")
    assert node.daemon.alive()
    cli(node, "echo still here")
    assert node.central.reply().message()["Data"] == ["still here\n"]


def test_unknown_method_empty_data_and_pong_without_previous(node):
    payload = sg.encode_message({"ToNode": "ship1", "FromNode": "central", "Method": "REQBogus"})
    assert node.central.send_raw("ship1.REQCliCommand.CommandACK", payload) == \
        "error from: ship1: method not available"
    assert node.error_log("method not available on ship1: 'REQBogus'")
    assert node.central.send("ship1", "REQCliCommand", MethodTimeout=5) == "confirmed from: ship1: 0"
    assert node.error_log("no command in Data")
    assert node.central.send("ship1", "REQPong") is not None
    assert node.error_log("REQPong without PreviousMessage")
    assert node.daemon.alive()


def test_write_methods_and_traversal(node):
    data = node.daemon.data
    node.central.send("ship1", "REQToFileAppend", Data=["one\n"], Directory="d", FileName="f.txt")
    node.central.send("ship1", "REQToFileAppend", Data=["two\n", "three\n"], Directory="d", FileName="f.txt")
    assert wait_for(lambda: read(data / "d/ship1/f.txt") == "one\ntwo\nthree\n", 5)
    node.central.send("ship1", "REQToFile", Data=["only\n"], Directory="d", FileName="f.txt")
    assert wait_for(lambda: read(data / "d/ship1/f.txt") == "only\n", 5)
    node.central.send("ship1", "REQToFile", Data=["x"], Directory="../../escape", FileName="f.txt")
    assert node.error_log("invalid directory")
    assert not (data.parent.parent / "escape").exists()
    node.central.send("ship1", "REQToConsole", Data=["to the console"])
    assert node.daemon.wait_log("methodCLICommandReply: \\[to the console\\]")


def test_hello_from_another_node_is_recorded(node):
    node.central.send("ship1", "REQHello", Data=["Hello from central\n"], Directory="hello-messages",
                      FileName="hello.log")
    assert wait_for(lambda: 'Received hello from "central"' in
                    read(node.daemon.data / "hello-messages/central/hello.log"), 5)


def test_ping_and_pong(node):
    node.central.listen("REQPong")
    node.central.send("ship1", "REQPing", ReplyMethod="REQPong", Directory="ping", FileName="ping.log")
    assert wait_for(lambda: "ping received from central" in read(node.daemon.data / "ping/ship1/ping.log"), 5)
    r = node.central.reply("REQPong").message()
    assert r["Data"] == [""] and r["PreviousMessage"]["Method"] == "REQPing"
    # And the other way: our pong to the node is written by it.
    node.central.send("ship1", "REQPong", Data=[""], PreviousMessage={
        "ToNode": "central", "Method": "REQPing", "Directory": "pong", "FileName": "pong.log"})
    assert wait_for(lambda: "pong received from central" in read(node.daemon.data / "pong/central/pong.log"), 5)


def test_tail_file(node, tmp_path):
    f = tmp_path / "tailed.log"
    f.write_text("old line\n")
    node.central.send("ship1", "REQTailFile", Data=[str(f)], MethodTimeout=3)
    time.sleep(0.5)
    with open(f, "a") as w:
        w.write("new 1\nnew 2\n")
    got = [node.central.reply().message()["Data"][0] for _ in range(2)]
    assert got == ["new 1\n", "new 2\n"]
    assert node.error_log("method timeout reached")


def test_tail_program_log(node):
    node.central.send("ship1", "REQTailFile", Data=["program:talker"], MethodTimeout=3)
    lines = [node.central.reply().message()["Data"][0] for _ in range(3)]
    nums = [int(l.split()[1]) for l in lines]
    assert all(l.startswith("talk ") and l.endswith("\n") for l in lines)
    assert nums == list(range(nums[0], nums[0] + 3))


def test_http_get(node):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"hello over http" if self.path == "/ok" else b"nope"
            self.send_response(200 if self.path == "/ok" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        port = srv.server_address[1]
        node.central.send("ship1", "REQHttpGet", Data=[f"http://127.0.0.1:{port}/ok"], MethodTimeout=5)
        assert node.central.reply().message()["Data"] == ["hello over http"]
        node.central.send("ship1", "REQHttpGet", Data=[f"http://127.0.0.1:{port}/missing"], MethodTimeout=5)
        assert node.error_log("status 404")
    finally:
        srv.shutdown()


def test_opcommand_start_stop_program(node):
    def op(cmd, arg):
        node.central.send("ship1", "REQOpCommand", Operation={"OpCmd": cmd, "OpArg": json.dumps(arg).encode()},
                          MethodTimeout=10)
        return node.central.reply().message()["Data"][0]

    assert op("startProc", {"program": "sleeper"}) == "started sleeper\n"
    assert op("startProc", {"program": "sleeper"}).startswith("error: startProc sleeper")
    node.central.send("ship1", "REQOpCommand", Operation={"OpCmd": "ps"})
    assert "name: sleeper, state: RUNNING" in node.central.reply().message()["Data"][0]
    assert op("stopProc", {"program": "sleeper"}) == "stopped sleeper\n"
    assert op("startProc", {"program": "nosuch"}).startswith("error:")
    # Steward's own meaning: stop and restart a subscriber.
    assert op("stopProc", {"receivingNode": "ship1", "method": "REQToConsole", "kind": "subscriber", "id": 5}) \
        == "stopped subscriber ship1.REQToConsole.EventACK\n"
    assert node.central.send("ship1", "REQToConsole", Data=["x"], ack_timeout=1) is None
    assert op("startProc", {"method": "REQToConsole", "allowedNodes": ["central"]}) == ""
    assert node.central.send("ship1", "REQToConsole", Data=["x"]) is not None


def test_roles_from_access(tmp_path, nats):
    s = Setup(tmp_path, nats, steward_extra="default_role = viewer",
              extra=PROGRAMS + "\n[access]\nsteward:central = operator\nsteward:watcher = log-reader\n")
    try:
        intruder = FakeNode(s.client, "intruder")
        marker = tmp_path / "ran"
        ack = intruder.send("ship1", "REQCliCommand", Data=["touch", str(marker)], MethodTimeout=5)
        assert ack == "not allowed from intruder"
        assert s.error_log("REQCliCommand not allowed from 'intruder' (role viewer, needs manage; "
                           "set [access] steward:intruder = admin to allow it)")
        assert intruder.send("ship1", "REQOpCommand", Operation={"OpCmd": "ps"}) == "not allowed from intruder"
        # Files in the data folder are an operator's: a viewer leaves none.
        assert intruder.send("ship1", "REQToFileAppend", Data=["r\n"], Directory="d", FileName="f") \
            == "not allowed from intruder"
        assert s.error_log("REQToFileAppend not allowed from 'intruder' (role viewer, needs control")
        assert not (s.daemon.data / "d").exists()
        # A log-reader may follow a program's log, not a file.
        watcher = FakeNode(s.client, "watcher")
        assert watcher.send("ship1", "REQTailFile", Data=["/etc/hostname"]) == "not allowed from watcher"
        assert watcher.send("ship1", "REQTailFile", Data=["program:talker"], MethodTimeout=1).startswith("confirmed")
        # The operator central may start programs, but commands are an admin's.
        assert s.central.send("ship1", "REQCliCommand", Data=["touch", str(marker)], MethodTimeout=5) \
            == "not allowed from central"
        s.central.send("ship1", "REQOpCommand", Operation={"OpCmd": "startProc", "OpArg": b'{"program":"sleeper"}'},
                       MethodTimeout=10)
        assert s.central.reply().message()["Data"] == ["started sleeper\n"]
        time.sleep(0.5)
        assert not marker.exists()
    finally:
        assert s.close() == 0


def test_default_role_empty_refuses_everyone_unlisted(tmp_path, nats):
    s = Setup(tmp_path, nats, steward_extra="default_role =", extra=PROGRAMS)
    try:
        assert cli(s, "true") == "not allowed from central"
        assert s.error_log("REQCliCommand not allowed from 'central' (role none, needs manage; "
                           "set [access] steward:central = admin to allow it)")
    finally:
        s.close()


def test_opcommand_program_names_are_canonical(node):
    # A program of its own group answers to "name" and "name:name"; replies
    # and logs use the engine's namespec, not the alias that was sent.
    node.central.send("ship1", "REQOpCommand",
                      Operation={"OpCmd": "startProc", "OpArg": b'{"program":"sleeper:sleeper"}'}, MethodTimeout=10)
    assert node.central.reply().message()["Data"] == ["started sleeper\n"]
    node.central.send("ship1", "REQOpCommand",
                      Operation={"OpCmd": "stopProc", "OpArg": b'{"program":"sleeper:sleeper"}'}, MethodTimeout=10)
    assert node.central.reply().message()["Data"] == ["stopped sleeper\n"]
