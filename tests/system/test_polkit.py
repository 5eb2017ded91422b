# SPDX-License-Identifier: LGPL-2.1-or-later
"""Authorization of the D-Bus API by a real polkitd, in a container
(container.py): scopevisord.service owns org.scopevisor1 on the system bus,
unprivileged users call it with scopevisorctl and busctl, and the shipped
rules (roles of the scopevisor-* groups), a per-program rule and the
absence of polkitd decide."""

import os

import pytest

from container import Container, wait_for

BUILD_DIR = os.environ.get("SCOPEVISOR_BUILD_DIR", "build")

CONFIG = r"""
[program:web]
command = /bin/sleep 600
startsecs = 0

[program:db]
command = /bin/sleep 600
startsecs = 0

[program:chatter]
command = /bin/sh -c 'echo hello; exec sleep 600'
startsecs = 0
"""

USERS = {
    "nobodyx": [],
    "op": ["scopevisor-operator"],
    "viewer": ["scopevisor-viewer"],
    "logger": ["scopevisor-log"],
    "boss": ["scopevisor-admin"],
    "alice": [],
}

# Lets alice control web, and nothing else (scopevisorctl(1)).
ALICE_RULE = """
polkit.addRule(function(action, subject) {
    if (action.id == "org.scopevisor1.control" && action.lookup("program") == "web" &&
        subject.user == "alice")
        return polkit.Result.YES;
});
"""


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    conf = tmp_path_factory.mktemp("conf")
    (conf / "scopevisor.conf").write_text(CONFIG)
    c = Container(config_dir=str(conf), build_dir=BUILD_DIR, mask=["supervisor.service", "nats-server.service"])
    c.start()
    try:
        # The role groups come from the project's sysusers.d file.
        c.run(["systemd-sysusers"])
        for user, groups in USERS.items():
            args = ["useradd", "-M", "-s", "/bin/sh"]
            if groups:
                args += ["-G", ",".join(groups)]
            c.run(args + [user])
        c.run(["systemctl", "start", "scopevisord.service"], timeout=60)
        assert wait_for(lambda: ctl(c, "status").returncode == 0), c.journal("-u", "scopevisord.service")
        yield c
    finally:
        c.stop()


def ctl(c, *args, user=None):
    return c.run(["scopevisorctl", "--no-color"] + list(args), user=user, check=False, timeout=60)


def state(c, name):
    r = ctl(c, "show", name)
    for line in r.stdout.splitlines():
        if line.startswith("State="):
            return line[len("State="):]
    return None


def refused(r):
    return r.returncode != 0 and ("InteractiveAuthorizationRequired" in r.stderr or "not authorized" in r.stderr
                                  or "authentication is required" in r.stderr or "AccessDenied" in r.stderr)


def test_policy_lists_every_action(ct):
    for verb in ["view", "read-log", "control", "send-input", "manage"]:
        r = ct.run(["pkaction", "--verbose", "--action-id", "org.scopevisor1." + verb])
        assert "org.scopevisor1." + verb in r.stdout
    out = ct.run(["pkaction", "--verbose", "--action-id", "org.scopevisor1.manage"]).stdout
    assert "org.scopevisor1.control" in out  # implied
    view = ct.run(["pkaction", "--verbose", "--action-id", "org.scopevisor1.view"]).stdout
    assert "implicit any:      yes" in view


def test_role_groups_exist(ct):
    for g in ["scopevisor-admin", "scopevisor-operator", "scopevisor-log", "scopevisor-viewer"]:
        ct.run(["getent", "group", g])


def test_user_in_no_group_may_look_but_not_stop(ct):
    assert ctl(ct, "status", user="nobodyx").returncode == 0
    r = ctl(ct, "stop", "web", user="nobodyx")
    assert refused(r), r.stderr
    assert state(ct, "web") == "RUNNING"
    # The same with busctl, without interactive authorization.
    r = ct.run(["busctl", "--allow-interactive-authorization=no", "call", "org.scopevisor1", "/org/scopevisor1",
                "org.scopevisor1.Manager", "StopProgram", "s", "web"], user="nobodyx", check=False)
    assert r.returncode != 0 and "authentication is required" in r.stderr, r.stderr
    assert state(ct, "web") == "RUNNING"
    r = ctl(ct, "shutdown", user="nobodyx")
    assert refused(r)
    assert ct.run(["systemctl", "is-active", "scopevisord.service"]).stdout.strip() == "active"


def test_operator_may_stop_and_start(ct):
    r = ctl(ct, "stop", "web", user="op")
    assert r.returncode == 0, r.stderr
    assert state(ct, "web") == "STOPPED"
    r = ctl(ct, "start", "web", user="op")
    assert r.returncode == 0, r.stderr
    assert state(ct, "web") == "RUNNING"
    assert ctl(ct, "tail", "chatter", user="op").stdout == "hello\n"
    assert refused(ctl(ct, "reload", user="op"))


def test_viewer_may_list_but_not_read_logs(ct):
    r = ctl(ct, "status", user="viewer")
    assert r.returncode == 0 and "web" in r.stdout
    assert refused(ctl(ct, "tail", "chatter", user="viewer"))
    assert refused(ctl(ct, "stop", "web", user="viewer"))
    assert ctl(ct, "tail", "chatter", user="logger").stdout == "hello\n"
    assert refused(ctl(ct, "stop", "web", user="logger"))


def test_admin_may_manage(ct):
    r = ctl(ct, "reload", user="boss")
    assert r.returncode == 0, r.stderr


def test_per_program_rule(ct):
    ct.run(["mkdir", "-p", "/etc/polkit-1/rules.d"])
    ct.run(["sh", "-c", "cat > /etc/polkit-1/rules.d/10-alice.rules"], input=ALICE_RULE)
    ct.run(["chown", "-R", "polkitd:root", "/etc/polkit-1/rules.d"], check=False)
    ct.run(["systemctl", "restart", "polkit.service"])
    assert wait_for(lambda: ctl(ct, "status", user="alice").returncode == 0)
    r = ctl(ct, "restart", "web", user="alice")
    assert r.returncode == 0, r.stderr
    assert state(ct, "web") == "RUNNING"
    assert refused(ctl(ct, "stop", "db", user="alice"))
    assert state(ct, "db") == "RUNNING"
    assert refused(ctl(ct, "stop", "all", user="alice"))


def test_root_needs_no_polkit_and_others_are_refused_without_it(ct):
    ct.run(["systemctl", "mask", "--runtime", "--now", "polkit.service"])
    try:
        r = ctl(ct, "stop", "web", user="op")
        assert r.returncode != 0 and "polkit" in r.stderr, r.stderr
        assert state(ct, "web") == "RUNNING"
        assert ctl(ct, "stop", "web").returncode == 0
        assert ctl(ct, "start", "web").returncode == 0
    finally:
        ct.run(["systemctl", "unmask", "--runtime", "polkit.service"])
        ct.run(["systemctl", "start", "polkit.service"])
