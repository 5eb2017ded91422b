# SPDX-License-Identifier: LGPL-2.1-or-later
"""Central mode and the operator socket: a scopevisor central collecting
hellos, error logs and replies, commanding a fake node and two scopevisor
nodes on one nats-server, and scopevisor nodes commanding each other."""

import json
import socket
import time

import pytest

from nats_harness import Daemon, FakeNode, NatsClient, NatsServer, read, wait_for


@pytest.fixture
def nats(tmp_path):
    srv = NatsServer(tmp_path)
    yield srv
    srv.stop()


def test_central_collects_and_its_socket_commands_a_node(tmp_path, nats):
    c = NatsClient(nats.port, "ship9")
    ship9 = FakeNode(c, "ship9")
    inbox = ship9.listen("REQCliCommand")
    # Error logs and replies are written into the data folder: an operator's
    # right, the central's own error log included. Hellos need a viewer.
    central = Daemon(tmp_path, nats.address, node="central", central="central",
                     steward_extra="start_pub_hello = 1",
                     extra="[access]\nsteward:central = operator\nsteward:ship9 = operator\n")
    try:
        data = central.data
        # The central's own hello reaches itself.
        assert wait_for(lambda: 'Received hello from "central"' in
                        read(data / "hello-messages/central/hello.log"), 10), central.output()
        # errorCentral is served on the central only.
        assert ship9.send("errorCentral", "REQErrorLog", Data=["Mon Jan  2 15:04:05 2006, error: boom\n"],
                          Directory="errorLog", FileName="error.log") is not None
        assert wait_for(lambda: "error: boom" in read(data / "errorLog/errorCentral/error.log"), 5)
        # A hello from the fake node.
        ship9.send("central", "REQHello", Data=["Hello from ship9\n"], Directory="hello-messages",
                   FileName="hello.log")
        assert wait_for(lambda: 'Received hello from "ship9"' in read(data / "hello-messages/ship9/hello.log"), 5)

        # The operator socket: a JSON array, sent on to ship9 with FromNode = central.
        central.send_json([{"toNode": "ship9", "method": "REQCliCommand", "data": ["bash", "-c", "echo hi"],
                            "replyMethod": "REQToFileAppend", "methodTimeout": 5, "FromNode": "forged",
                            "directory": "cli", "fileName": "hi.result", "id": 99}])
        m = c.next(inbox, 10)
        assert m is not None, central.output()
        c.pub(m.reply, "confirmed from: ship9: 0")
        got = m.message()
        assert got["FromNode"] == "central" and "ID" not in got  # the publisher's counter, from 0
        assert got["ACKTimeout"] == 10 and got["Retries"] == 1  # defaulted
        assert got["Data"] == ["bash", "-c", "echo hi"]
        # The fake node replies; the central writes it under its data folder.
        ship9.send("central", "REQToFileAppend", Data=["hi\n"], PreviousMessage=got)
        assert wait_for(lambda: read(data / "cli/ship9/hi.result") == "hi\n", 5)

        # toNodes expands; a message without a target or with an unknown method is dropped.
        central.send_json([{"toNodes": ["ship9", "ship9"], "method": "REQCliCommand", "data": ["true"],
                            "methodTimeout": 5}, {"method": "REQCliCommand", "data": ["x"]},
                           {"toNode": "ship9", "method": "REQNope"}])
        for _ in range(2):
            m = c.next(inbox, 10)
            assert m is not None
            c.pub(m.reply, "ok")
        assert wait_for(lambda: "neither toNode nor toNodes" in read(data / "errorLog/errorCentral/error.log"), 5)
        assert wait_for(lambda: "unknown method 'REQNope'" in read(data / "errorLog/errorCentral/error.log"), 5)
        # Malformed JSON and a single object (not an array) go to the error log.
        central.send_json({"toNode": "ship9"})
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(central.sock))
        s.sendall(b"[{oops")
        s.close()
        assert wait_for(lambda: read(data / "errorLog/errorCentral/error.log").count("malformed json") >= 2, 5)
        assert central.alive()
    finally:
        assert central.stop() == 0, central.output()
        c.close()


def test_two_nodes_and_a_central_command_each_other(tmp_path, nats):
    # The central runs commands on both nodes (admin), ship1 on ship2 (admin);
    # replies and error logs need an operator where they are written.
    central = Daemon(tmp_path, nats.address, node="central", central="central", steward_extra="start_pub_hello = 1",
                     extra="[access]\nsteward:central = operator\nsteward:ship1 = operator\n"
                           "steward:ship2 = operator\n")
    ship1 = Daemon(tmp_path, nats.address, node="ship1", central="central", steward_extra="start_pub_hello = 1",
                   extra="[program:web]\ncommand = sleep 1000\nautostart = false\nstartsecs = 0\n"
                         "[access]\nsteward:central = admin\nsteward:ship2 = operator\n")
    ship2 = Daemon(tmp_path, nats.address, node="ship2", central="central", steward_extra="start_pub_hello = 1",
                   extra="[access]\nsteward:central = admin\nsteward:ship1 = admin\n")
    try:
        cd = central.data
        for n in ("ship1", "ship2"):
            assert wait_for(lambda: f'hello from "{n}"' in read(cd / f"hello-messages/{n}/hello.log"), 10), \
                central.output()
        # The central runs a command on both nodes; the results land in its data folder.
        central.send_json([{"toNodes": ["ship1", "ship2"], "method": "REQCliCommand",
                            "data": ["bash", "-c", "echo from $0 on duty"], "methodTimeout": 5,
                            "replyMethod": "REQToFileAppend", "directory": "cli", "fileName": "duty.result"}])
        for n in ("ship1", "ship2"):
            assert wait_for(lambda: read(cd / f"cli/{n}/duty.result") == "from bash on duty\n", 10), \
                central.output() + read(ship1.log)
        # Operation: start a program on ship1 from the central.
        central.send_json([{"toNode": "ship1", "method": "REQOpCommand",
                            "operation": {"opCmd": "startProc", "opArg": {"program": "web"}},
                            "methodTimeout": 10, "directory": "op", "fileName": "start.result"}])
        assert wait_for(lambda: read(cd / "op/ship1/start.result") == "started web\n", 10)
        # ship1 commands ship2 through its own socket; the result is ship1's.
        ship1.send_json([{"toNode": "ship2", "method": "REQnCliCommandCont",
                          "data": ["bash", "-c", "echo one; echo two"], "methodTimeout": 3,
                          "directory": "peer", "fileName": "cont.result"}])
        assert wait_for(lambda: read(ship1.data / "peer/ship2/cont.result") == "one\ntwo\n", 10)
        # An error on ship2 reaches the central's error log.
        central.send_json([{"toNode": "ship2", "method": "REQCliCommand", "data": ["bash", "-c", "exit 9"],
                            "methodTimeout": 5, "directory": "cli", "fileName": "fail.result"}])
        assert wait_for(lambda: "exit status 9" in read(cd / "errorLog/errorCentral/error.log"), 10)
    finally:
        for d in (ship1, ship2, central):
            assert d.stop() == 0, d.output()
