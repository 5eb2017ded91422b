# SPDX-License-Identifier: LGPL-2.1-or-later
"""polkit for local clients of the adapters, and per-program rules that no
spelling of a name and no group or all operation gets around, with a real
polkitd in a container (container.py).

supervisorctl talks XML-RPC on the unix socket of scopevisord.socket, which
is open to every local user: each request is authorized by polkit as a
unix-process subject from the caller's SO_PEERCRED credentials, under the
same rules as the D-Bus API (the scopevisor-* groups). A local rule that
forbids one program to one user must hold whether the program is named
`db` or `db:db`, and whether the command names it or its group or all."""

import os

import pytest

from container import Container, wait_for

BUILD_DIR = os.environ.get("SCOPEVISOR_BUILD_DIR", "build")
SOCKET = "/run/scopevisor/supervisor.sock"

CONFIG = f"""
[unix_http_server]
file = {SOCKET}
chmod = 0666

[supervisorctl]
serverurl = unix://{SOCKET}

[program:web]
command = /bin/sleep 600
startsecs = 0

[program:db]
command = /bin/sleep 600
startsecs = 0

[group:store]
programs = cache,index

[program:cache]
command = /bin/sleep 600
startsecs = 0

[program:index]
command = /bin/sleep 600
startsecs = 0
"""

# op is an operator, but may not control db nor store:cache.
DENY_RULE = """
polkit.addRule(function(action, subject) {
    if (action.id == "org.scopevisor1.control" && subject.user == "op" &&
        (action.lookup("program") == "db" || action.lookup("program") == "store:cache"))
        return polkit.Result.NO;
});
"""

USERS = {"op": ["scopevisor-operator"], "nobodyx": []}


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    conf = tmp_path_factory.mktemp("conf")
    (conf / "scopevisor.conf").write_text(CONFIG)
    c = Container(config_dir=str(conf), build_dir=BUILD_DIR, mask=["supervisor.service", "nats-server.service"])
    c.start()
    try:
        c.add_users(USERS)
        c.add_polkit_rule("10-deny-op.rules", DENY_RULE)
        # The first connection to the socket starts the daemon.
        assert wait_for(lambda: "RUNNING" in sctl(c, "status", "web").stdout, 60), \
            c.journal("-u", "scopevisord.service")
        assert wait_for(lambda: all(state(c, n) == "RUNNING" for n in ("web", "db", "store:cache", "store:index")))
        yield c
    finally:
        c.stop()


def sctl(c, *args, user=None):
    return c.run(["supervisorctl", "-s", "unix://" + SOCKET] + list(args), user=user, check=False, timeout=60)


def busctl(c, method, sig=None, *args, user=None):
    cmd = ["busctl", "--allow-interactive-authorization=no", "call", "org.scopevisor1", "/org/scopevisor1",
           "org.scopevisor1.Manager", method]
    if sig:
        cmd += [sig] + list(args)
    return c.run(cmd, user=user, check=False, timeout=60)


def state(c, name):
    out = sctl(c, "status", name).stdout.split()
    return out[1] if len(out) > 1 else None


def test_operator_controls_over_the_xmlrpc_socket(ct):
    r = sctl(ct, "stop", "web", user="op")
    assert "stopped" in r.stdout, r.stdout + r.stderr
    assert state(ct, "web") == "STOPPED"
    r = sctl(ct, "start", "web", user="op")
    assert "started" in r.stdout, r.stdout + r.stderr
    assert state(ct, "web") == "RUNNING"


def test_user_in_no_group_is_refused_on_the_xmlrpc_socket(ct):
    r = sctl(ct, "stop", "web", user="nobodyx")
    assert "stopped" not in r.stdout
    assert "denied" in (r.stdout + r.stderr).lower(), r.stdout + r.stderr
    assert state(ct, "web") == "RUNNING"


@pytest.mark.parametrize("spelling", ["db", "db:db"])
def test_per_program_deny_holds_for_every_spelling_over_xmlrpc(ct, spelling):
    r = sctl(ct, "stop", spelling, user="op")
    assert "stopped" not in r.stdout, r.stdout
    assert state(ct, "db") == "RUNNING"


@pytest.mark.parametrize("target", ["store:*", "all"])
def test_per_program_deny_holds_for_group_and_all_over_xmlrpc(ct, target):
    sctl(ct, "stop", target, user="op")
    assert state(ct, "store:cache") == "RUNNING"
    assert state(ct, "db") == "RUNNING"
    # Refused as a whole: nothing the rule allows was stopped either.
    assert state(ct, "store:index") == "RUNNING"
    assert state(ct, "web") == "RUNNING"


@pytest.mark.parametrize("spelling", ["db", "db:db"])
def test_per_program_deny_holds_for_every_spelling_over_dbus(ct, spelling):
    r = busctl(ct, "StopProgram", "s", spelling, user="op")
    assert r.returncode != 0, r.stdout
    assert state(ct, "db") == "RUNNING"


def test_per_program_deny_holds_for_stop_group_over_dbus(ct):
    r = busctl(ct, "StopGroup", "s", "store", user="op")
    assert r.returncode != 0 and "Access denied" in r.stderr, r.stderr
    assert state(ct, "store:cache") == "RUNNING"
    assert state(ct, "store:index") == "RUNNING"


def test_per_program_deny_holds_for_stop_all_over_dbus(ct):
    r = busctl(ct, "StopAll", user="op")
    assert r.returncode != 0 and "Access denied" in r.stderr, r.stderr
    for name in ("web", "db", "store:cache", "store:index"):
        assert state(ct, name) == "RUNNING"


def test_operator_may_still_stop_a_program_the_rule_leaves_alone(ct):
    r = busctl(ct, "StopProgram", "s", "web", user="op")
    assert r.returncode == 0, r.stderr
    assert state(ct, "web") == "STOPPED"
    assert sctl(ct, "start", "web").returncode == 0  # root, always allowed
    assert state(ct, "web") == "RUNNING"
