# SPDX-License-Identifier: LGPL-2.1-or-later
"""Python's xmlrpc.client against the real daemon: every method of
supervisord's interface with good and bad arguments, the exact results and
fault codes and strings, HTTP behaviour, authentication and deferral."""

import os
import socket
import subprocess
import threading
import time
import xmlrpc.client

import pytest

from conftest import Daemon, wait_for

PROCESS_KEYS = {
    "name", "group", "start", "stop", "now", "state", "statename", "spawnerr", "exitstatus",
    "logfile", "stdout_logfile", "stderr_logfile", "pid", "description",
}


def fault(call, *args):
    with pytest.raises(xmlrpc.client.Fault) as e:
        call(*args)
    return e.value.faultCode, e.value.faultString


def test_status_and_identity(daemon):
    s = daemon.rpc().supervisor
    assert s.getAPIVersion() == "3.0"
    assert s.getVersion() == "3.0"
    assert isinstance(s.getSupervisorVersion(), str) and s.getSupervisorVersion()
    assert s.getIdentification() == "svtest"
    assert s.getState() == {"statecode": 1, "statename": "RUNNING"}
    assert s.getPID() == daemon.proc.pid
    assert fault(s.getState, 1) == (2, "INCORRECT_PARAMETERS")
    assert fault(s.getPID, "x") == (2, "INCORRECT_PARAMETERS")


def test_unknown_methods(daemon):
    p = daemon.rpc()
    assert fault(p.supervisor.nosuch) == (1, "UNKNOWN_METHOD")
    assert fault(p.nosuch.getState) == (1, "UNKNOWN_METHOD")
    assert fault(getattr(p, "supervisor.getState.x")) == (1, "UNKNOWN_METHOD")
    assert fault(p.supervisor._update) == (1, "UNKNOWN_METHOD")


def test_process_info(daemon):
    s = daemon.rpc().supervisor
    info = s.getProcessInfo("sleeper")
    assert set(info) == PROCESS_KEYS
    assert info["name"] == "sleeper" and info["group"] == "sleeper"
    assert info["statename"] == "RUNNING" and info["state"] == 20
    assert info["pid"] > 0 and info["description"].startswith(f"pid {info['pid']}, uptime 0:00:")
    assert info["exitstatus"] == 0 and info["spawnerr"] == ""
    assert abs(info["now"] - time.time()) < 5 and info["start"] <= info["now"]
    assert s.getProcessInfo("sleeper:sleeper")["pid"] == info["pid"]
    assert s.getProcessInfo("grp:ga")["group"] == "grp"
    manual = s.getProcessInfo("manual")
    assert manual["statename"] == "STOPPED" and manual["description"] == "Not started" and manual["pid"] == 0
    assert fault(s.getProcessInfo, "nosuch") == (10, "BAD_NAME: nosuch")
    assert fault(s.getProcessInfo, "ga") == (10, "BAD_NAME: ga")
    assert fault(s.getProcessInfo, "grp:*") == (10, "BAD_NAME: grp:*")
    assert fault(s.getProcessInfo) == (2, "INCORRECT_PARAMETERS")
    # supervisord answers an int name with HTTP 500 (an uncaught exception).
    with pytest.raises(xmlrpc.client.ProtocolError) as e:
        s.getProcessInfo(5)
    assert e.value.errcode == 500


def test_all_process_info_sorted_by_group_then_name(daemon):
    infos = daemon.rpc().supervisor.getAllProcessInfo()
    keys = [(i["group"], i["name"]) for i in infos]
    assert keys == sorted(keys)
    assert ("grp", "ga") in keys and ("sleeper", "sleeper") in keys
    assert all(set(i) == PROCESS_KEYS for i in infos)


def test_config_info(daemon):
    infos = daemon.rpc().supervisor.getAllConfigInfo()
    names = [i["name"] for i in infos]
    assert names == sorted(names)
    c = {i["name"]: i for i in infos}["manual"]
    assert c["autostart"] is False and c["inuse"] is True and c["group"] == "manual"
    assert c["command"] == "/bin/sleep 1000" and c["exitcodes"] == [0] and c["stopsignal"] == 15
    assert c["directory"] == "none" and c["uid"] == "none" and c["serverurl"] == "auto"
    assert len(c) == 29


def test_start_stop_with_wait(daemon):
    s = daemon.rpc().supervisor
    t = time.monotonic()
    assert s.startProcess("manual") is True  # deferred until RUNNING (startsecs=1)
    assert time.monotonic() - t >= 0.9
    assert daemon.state("manual") == "RUNNING"
    assert fault(s.startProcess, "manual") == (60, "ALREADY_STARTED: manual")
    assert s.stopProcess("manual") is True
    assert daemon.state("manual") == "STOPPED"
    assert fault(s.stopProcess, "manual") == (70, "NOT_RUNNING: manual")
    assert s.startProcess("quick", False) is True
    assert wait_for(lambda: daemon.state("quick") == "RUNNING")
    assert s.stopProcess("quick", False) is True
    assert wait_for(lambda: daemon.state("quick") == "STOPPED")
    assert fault(s.startProcess, "nosuch") == (10, "BAD_NAME: nosuch")
    assert fault(s.stopProcess, "nosuch") == (10, "BAD_NAME: nosuch")
    assert fault(s.startProcess) == (2, "INCORRECT_PARAMETERS")
    assert fault(s.startProcess, "a", True, 3) == (2, "INCORRECT_PARAMETERS")


def test_start_failures(daemon):
    s = daemon.rpc().supervisor
    code, text = fault(s.startProcess, "nofile")
    assert code == 20 and text == "NO_FILE: can't find command '/nonexistent/program'"
    assert fault(s.startProcess, "fails") == (50, "SPAWN_ERROR: fails")
    assert wait_for(lambda: daemon.state("fails") == "FATAL")


def test_deferred_reply_does_not_block_other_clients(daemon):
    s = daemon.rpc().supervisor
    s.startProcess("stubborn")
    # Stop only once the shell ignores SIGTERM (it says "ready" after the trap).
    assert wait_for(lambda: "ready" in s.readProcessStdoutLog("stubborn", 0, 0), 5)
    done = {}

    def stop():
        t = time.monotonic()
        done["r"] = daemon.rpc().supervisor.stopProcess("stubborn")
        done["t"] = time.monotonic() - t

    th = threading.Thread(target=stop)
    th.start()
    assert wait_for(lambda: daemon.state("stubborn") == "STOPPING", 5)
    t = time.monotonic()
    assert s.getState()["statename"] == "RUNNING"
    assert time.monotonic() - t < 0.5
    th.join(15)
    assert done["r"] is True and done["t"] >= 2.8  # SIGKILL after stopwaitsecs=3
    assert daemon.state("stubborn") == "STOPPED"


def test_group_operations(daemon):
    s = daemon.rpc().supervisor
    r = s.stopProcessGroup("grp")
    assert sorted((x["name"], x["status"], x["description"]) for x in r) == [("ga", 80, "OK"), ("gb", 80, "OK")]
    assert all(set(x) == {"name", "group", "status", "description"} for x in r)
    assert s.stopProcessGroup("grp") == []
    r = s.startProcess("grp:*")
    assert sorted(x["name"] for x in r) == ["ga", "gb"]
    r = s.stopProcess("grp:")
    assert sorted(x["name"] for x in r) == ["ga", "gb"]
    r = s.startProcessGroup("grp", False)
    assert [x["status"] for x in r] == [80, 80]
    assert fault(s.startProcessGroup, "nosuch") == (10, "BAD_NAME: nosuch")
    assert fault(s.stopProcessGroup, "nosuch") == (10, "BAD_NAME: nosuch")
    assert fault(s.startProcess, "nosuch:*") == (10, "BAD_NAME: nosuch:*")


def test_all_operations(daemon):
    s = daemon.rpc().supervisor
    r = s.stopAllProcesses()
    assert r and all(x["status"] == 80 for x in r)
    assert all(i["statename"] not in ("RUNNING", "STARTING") for i in s.getAllProcessInfo())
    r = s.startAllProcesses()
    by = {(x["group"], x["name"]): x for x in r}
    assert by[("nofile", "nofile")]["status"] == 20
    assert by[("fails", "fails")]["status"] == 50
    assert by[("fails", "fails")]["description"] == "SPAWN_ERROR: fails"
    assert by[("sleeper", "sleeper")]["status"] == 80


def test_signals(daemon):
    s = daemon.rpc().supervisor
    assert s.signalProcess("sleeper", "CONT") is True
    assert s.signalProcess("sleeper", "sigcont") is True
    assert s.signalProcess("sleeper", "18") is True
    assert s.signalProcess("sleeper", 18) is True
    assert fault(s.signalProcess, "sleeper", "NOPE") == (11, "BAD_SIGNAL: NOPE")
    assert fault(s.signalProcess, "nosuch", "NOPE") == (10, "BAD_NAME: nosuch")
    assert fault(s.signalProcess, "manual", "HUP") == (70, "NOT_RUNNING: manual")
    r = s.signalProcessGroup("grp", "CONT")
    assert sorted(x["status"] for x in r) == [80, 80]
    r = s.signalProcessGroup("grp", "NOPE")
    assert [x["description"] for x in r] == ["BAD_SIGNAL: NOPE"] * 2 and [x["status"] for x in r] == [11, 11]
    assert fault(s.signalProcessGroup, "nosuch", "HUP") == (10, "BAD_NAME: nosuch")
    r = s.signalAllProcesses("CONT")
    assert r and all(x["status"] == 80 for x in r)
    r = s.signalProcess("grp:*", "CONT")
    assert len(r) == 2


def test_logs(daemon):
    s = daemon.rpc().supervisor
    assert wait_for(lambda: s.readProcessStdoutLog("echoer", 0, 0) == "hello\n")
    assert s.readProcessStderrLog("echoer", 0, 0) == "oops\n"
    assert s.readProcessLog("echoer", -3, 0) == "lo\n"
    assert s.readProcessStdoutLog("echoer", 1, 3) == "ell"
    assert s.readProcessStdoutLog("echoer", 100, 10) == ""
    assert fault(s.readProcessStdoutLog, "echoer", -3, 2) == (3, "BAD_ARGUMENTS")
    assert fault(s.readProcessStdoutLog, "echoer", 0, -2) == (3, "BAD_ARGUMENTS")
    assert fault(s.readProcessStdoutLog, "nosuch", 0, 0) == (10, "BAD_NAME: nosuch")
    assert fault(s.readProcessStdoutLog, "echoer", 0) == (2, "INCORRECT_PARAMETERS")
    assert s.tailProcessStdoutLog("echoer", 0, 3) == ["lo\n", 6, True]
    assert s.tailProcessStdoutLog("echoer", 0, 100) == ["hello\n", 6, False]
    assert s.tailProcessLog("echoer", 6, 100) == ["", 6, False]
    assert s.tailProcessStderrLog("echoer", 0, 100) == ["oops\n", 5, False]
    assert fault(s.tailProcessStdoutLog, "nosuch", 0, 1) == (10, "BAD_NAME: nosuch")
    assert s.clearProcessLogs("echoer") is True
    assert s.readProcessStdoutLog("echoer", -100, 0) == ""
    assert s.clearProcessLog("echoer") is True
    assert fault(s.clearProcessLogs, "nosuch") == (10, "BAD_NAME: nosuch")
    r = s.clearAllProcessLogs()
    assert r and all(x["status"] == 80 and x["description"] == "OK" for x in r)
    # The daemon's own log.
    assert "xmlrpc" in s.readLog(0, 0)
    assert s.readMainLog(-10, 0) != ""
    assert fault(s.readLog, -1, 1) == (3, "BAD_ARGUMENTS")
    assert s.clearLog() is True


def test_send_stdin(daemon):
    s = daemon.rpc().supervisor
    assert s.sendProcessStdin("cat", "The Øresund bridge ends in Malmö\n") is True
    assert wait_for(lambda: "Malmö" in s.readProcessStdoutLog("cat", 0, 0))
    assert fault(s.sendProcessStdin, "cat", 5) == (2, "INCORRECT_PARAMETERS: 5")
    assert fault(s.sendProcessStdin, "nosuch", "x") == (10, "BAD_NAME: nosuch")
    assert fault(s.sendProcessStdin, "manual", "x") == (70, "NOT_RUNNING: manual")
    assert s.sendRemoteCommEvent("type", "data") is True


def test_config_reload_add_remove(daemon):
    s = daemon.rpc().supervisor
    assert s.reloadConfig() == [[[], [], []]]
    conf = daemon.conf.read_text()
    daemon.conf.write_text(conf + "\n[program:added]\ncommand = /bin/sleep 1000\nstartsecs = 0\n")
    assert s.reloadConfig() == [[["added"], [], []]]
    assert {i["name"]: i for i in s.getAllConfigInfo()}["added"]["inuse"] is False
    assert s.addProcessGroup("added") is True
    assert fault(s.addProcessGroup, "added") == (90, "ALREADY_ADDED: added")
    assert fault(s.addProcessGroup, "nosuch") == (10, "BAD_NAME: nosuch")
    assert wait_for(lambda: daemon.state("added") == "RUNNING")
    assert fault(s.removeProcessGroup, "added") == (91, "STILL_RUNNING: added")
    s.stopProcess("added")
    assert s.removeProcessGroup("added") is True
    assert fault(s.removeProcessGroup, "added") == (10, "BAD_NAME: added")
    daemon.conf.write_text(conf + "\n[program:broken]\ncommand = /bin/true\nautorestart = maybe\n")
    code, text = fault(s.reloadConfig)
    assert code == 92 and text.startswith("CANT_REREAD: ") and "maybe" in text
    daemon.conf.write_text(conf)


def test_system_namespace(daemon):
    p = daemon.rpc()
    names = p.system.listMethods()
    assert len(names) == 41 and names == sorted(names)
    assert "supervisor.getVersion" in names and "system.multicall" in names
    assert p.system.methodHelp("supervisor.getPID") == " Return the PID of supervisord\n\n        @return int PID\n        "
    assert p.system.methodSignature("supervisor.startProcess") == ["boolean", "string", "boolean"]
    assert p.system.methodSignature("system.multicall") == ["array", "array"]
    assert fault(p.system.methodHelp, "nosuch") == (4, "SIGNATURE_UNSUPPORTED")
    assert fault(p.system.methodSignature, "nosuch") == (4, "SIGNATURE_UNSUPPORTED")
    r = p.system.multicall([
        {"methodName": "supervisor.getVersion", "params": []},
        {"methodName": "supervisor.getProcessInfo", "params": ["nosuch"]},
        {"methodName": "supervisor.startProcess", "params": ["quick"]},
        {"params": []},
        {"methodName": "system.multicall", "params": [[]]},
        {"methodName": "supervisor.nosuch"},
    ])
    assert r == [
        "3.0",
        {"faultCode": 10, "faultString": "BAD_NAME: nosuch"},
        True,
        {"faultCode": 2, "faultString": "INCORRECT_PARAMETERS: No methodName"},
        {"faultCode": 2, "faultString": "INCORRECT_PARAMETERS: Recursive system.multicall forbidden"},
        {"faultCode": 1, "faultString": "UNKNOWN_METHOD"},
    ]
    assert p.system.multicall([]) == []


def test_methods_help_matches_supervisor_docstrings(daemon):
    sup = pytest.importorskip("supervisor.xmlrpc")
    from supervisor.rpcinterface import SupervisorNamespaceRPCInterface
    ref = sup.SystemNamespaceRPCInterface([("supervisor", SupervisorNamespaceRPCInterface(None))])
    p = daemon.rpc()
    for name in p.system.listMethods():
        assert p.system.methodHelp(name) == ref.methodHelp(name)
        assert p.system.methodSignature(name) == ref.methodSignature(name)


def test_http_behaviour(daemon):
    ok = (b"POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n")
    body = b"<?xml version='1.0'?><methodCall><methodName>supervisor.getAPIVersion</methodName></methodCall>"
    # Two pipelined requests on one connection: two answers, in order.
    out = daemon.raw(ok % len(body) + body + ok % len(body) + body, timeout=2)
    assert out.count(b"HTTP/1.1 200 OK") == 2 and out.count(b"<string>3.0</string>") == 2
    # Leading blank lines before a request are skipped.
    out = daemon.raw(b"\r\n\r\n" + ok % len(body) + body + b"", timeout=2)
    assert out.startswith(b"HTTP/1.1 200 OK")
    assert daemon.raw(b"GET /RPC2 HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert daemon.raw(b"POST /RPC2 HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 411")
    bad = b"<methodCall><methodName>x</methodName>"
    assert daemon.raw(ok % len(bad) + bad).startswith(b"HTTP/1.1 400")
    noname = b"<methodCall><params/></methodCall>"
    assert daemon.raw(ok % len(noname) + noname).startswith(b"HTTP/1.1 400")
    evil = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
            b"<methodCall><methodName>supervisor.shutdown</methodName></methodCall>")
    assert daemon.raw(ok % len(evil) + evil).startswith(b"HTTP/1.1 400")
    assert daemon.rpc().supervisor.getState()["statename"] == "RUNNING"  # nothing happened
    huge = b"POST /RPC2 HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n"
    assert daemon.raw(huge).startswith(b"HTTP/1.1 413")
    assert daemon.raw(b"GET / HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 404")
    assert daemon.raw(b"PUT / HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert daemon.raw(b"GET /ok.html HTTP/1.0\r\n\r\n").endswith(b"OK")
    assert daemon.raw(b"garbage\r\n\r\n").startswith(b"HTTP/1.1 400")
    # Untyped values are strings, <i8> arrives as its text.
    untyped = (b"<methodCall><methodName>supervisor.getProcessInfo</methodName>"
               b"<params><param><value>sleeper</value></param></params></methodCall>")
    assert b"<name>pid</name>" in daemon.raw(ok % len(untyped) + untyped, timeout=2)


def test_basic_auth_on_tcp(daemon):
    assert daemon.tcp().supervisor.getState()["statename"] == "RUNNING"
    with pytest.raises(xmlrpc.client.ProtocolError) as e:
        daemon.tcp(password="wrong").supervisor.getState()
    assert e.value.errcode == 401
    assert e.value.headers.get("WWW-Authenticate") == 'Basic realm="default"'
    with pytest.raises(xmlrpc.client.ProtocolError) as e:
        daemon.tcp(user=None).supervisor.getState()
    assert e.value.errcode == 401
    for cookie, status in ((b"YQ", b"400"), (b"dXNlcg==", b"500"), (b"dXNlcjoxMjM=", b"200")):
        # Bad padding: 400; "user" without ':' is supervisord's 500 quirk.
        s = socket.create_connection(("127.0.0.1", daemon.port))
        s.sendall(b"GET /ok.html HTTP/1.0\r\nAuthorization: Basic " + cookie + b"\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 " + status)
        s.close()


def test_logtail_stream(daemon):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(daemon.sock)
    s.sendall(b"GET /logtail/echoer/stdout HTTP/1.1\r\nHost: \r\nAccept-Encoding: chunked\r\n"
              b"Accept: */*\r\nUser-agent: Supervisor HTTP Client\r\n\r\n\r\n")
    data = b""
    while b"hello" not in data:
        data += s.recv(4096)
    assert data.startswith(b"HTTP/1.1 200 OK")
    assert b"Transfer-Encoding: chunked" in data
    # New output arrives on the open stream.
    daemon.rpc().supervisor.sendProcessStdin("cat", "streamed line\n")
    s.close()
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(daemon.sock)
    s.sendall(b"GET /logtail/cat HTTP/1.1\r\nHost: \r\n\r\n")
    data = b""
    while b"streamed line" not in data:
        data += s.recv(4096)
    daemon.rpc().supervisor.sendProcessStdin("cat", "second line\n")
    while b"second line" not in data:
        data += s.recv(4096)
    s.close()
    assert daemon.raw(b"GET /logtail/nosuch HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 404")
    assert daemon.raw(b"GET /logtail/cat/bogus HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 404")
    assert daemon.raw(b"POST /logtail/cat HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 400")


def test_mainlogtail_stream(daemon):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(daemon.sock)
    s.sendall(b"GET /mainlogtail HTTP/1.1\r\nHost: \r\n\r\n")
    data = s.recv(4096)
    assert data.startswith(b"HTTP/1.1 200 OK")
    daemon.rpc().supervisor.startProcess("quick")
    while b"quick" not in data:
        data += s.recv(4096)
    s.close()


def test_shutdown_gate(daemon):
    s = daemon.rpc().supervisor
    s.startProcess("stubborn")
    # It must ignore SIGTERM for the shutdown to take stopwaitsecs.
    assert wait_for(lambda: "ready" in s.readProcessStdoutLog("stubborn", 0, 0), 5)
    assert s.shutdown() is True
    # While programs stop, supervisor.* refuses, system.* still answers.
    assert fault(s.getState) == (6, "SHUTDOWN_STATE")
    assert fault(s.shutdown) == (6, "SHUTDOWN_STATE")
    assert daemon.rpc().system.listMethods()
    assert daemon.proc.wait(30) == 0
    assert not os.path.exists(daemon.sock)


def test_default_role_viewer_refuses_control(tmp_path):
    d = Daemon(tmp_path, extra="[adapter:xmlrpc]\ndefault_role = viewer\n[access]\nxmlrpc:admin = admin\n")
    try:
        # Running first, so that "still running" below means "not stopped".
        assert wait_for(lambda: d.state("sleeper") == "RUNNING", 10)
        t = d.tcp()  # "user" is not listed: viewer (default_role)
        assert t.supervisor.getState()["statename"] == "RUNNING"
        code, text = fault(t.supervisor.stopProcess, "sleeper")
        assert code == 30 and text.startswith("FAILED: access denied: the 'control' right is required")
        assert d.state("sleeper") == "RUNNING"
        r = t.system.multicall([{"methodName": "supervisor.readLog", "params": [0, 0]}])
        assert r[0]["faultCode"] == 30
    finally:
        d.stop()


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/setpriv"), reason="needs root and setpriv")
def test_unix_peer_without_polkit_is_refused(tmp_path):
    # A peer that is neither root nor the daemon's user needs polkit; with no
    # polkit reachable here every call is refused, and nothing changes.
    # The socket where uid 65534 can reach it (pytest's directories are 0700).
    d = Daemon(tmp_path, chmod="0777", sock=f"/tmp/scopevisor-xmlrpc-test-{os.getpid()}.sock")
    try:
        script = (
            "import socket,sys\n"
            "s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
            "b=b\"<methodCall><methodName>supervisor.stopProcess</methodName><params><param><value>sleeper</value>"
            "</param></params></methodCall>\"\n"
            "s.sendall(b\"POST /RPC2 HTTP/1.0\\r\\nContent-Length: %d\\r\\n\\r\\n\" % len(b) + b)\n"
            "out=b''\n"
            "while True:\n"
            "    c=s.recv(65536)\n"
            "    if not c: break\n"
            "    out+=c\n"
            "sys.stdout.write(out.decode())\n"
        )
        r = subprocess.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            "/usr/bin/python3", "-c", script, d.sock], capture_output=True, text=True, timeout=30)
        assert "<int>30</int>" in r.stdout, r.stdout + r.stderr
        assert "FAILED: access denied: the 'control' right is required (uid 65534" in r.stdout
        assert d.state("sleeper") == "RUNNING"
    finally:
        d.stop()
