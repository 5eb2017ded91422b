# SPDX-License-Identifier: LGPL-2.1-or-later
"""Authorization of the D-Bus API by a real polkitd, in a container
(container.py): scopevisord.service owns org.scopevisor1 on the system bus,
unprivileged users call it with scopevisorctl and busctl, and the shipped
rules (roles of the scopevisor-* groups), a per-program rule and the
absence of polkitd decide."""

import os
import pty
import re
import select
import termios
import time

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


# An administrator with a known password: polkit's admin identities are the
# members of group sudo (the shipped 50-default.rules).
ADMIN = "keeper"
ADMIN_PASSWORD = "correct horse battery staple"
# The container's /etc starts empty; polkit-agent-helper-1 authenticates
# with the PAM service polkit-1, whose Debian file includes common-* files
# that are not there.
PAM_POLKIT = "auth required pam_unix.so\naccount required pam_unix.so\n"


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    conf = tmp_path_factory.mktemp("conf")
    (conf / "scopevisor.conf").write_text(CONFIG)
    c = Container(config_dir=str(conf), build_dir=BUILD_DIR, mask=["supervisor.service", "nats-server.service"])
    c.start()
    try:
        # The role groups come from the project's sysusers.d file.
        c.add_users(USERS)
        c.run(["groupadd", "-f", "sudo"])
        crypted = c.run(["openssl", "passwd", "-6", "-stdin"], input=ADMIN_PASSWORD + "\n").stdout.strip()
        c.run(["useradd", "-M", "-s", "/bin/sh", "-G", "sudo", "-p", crypted, ADMIN])
        c.run(["mkdir", "-p", "/etc/pam.d"])
        c.run(["sh", "-c", "cat > /etc/pam.d/polkit-1"], input=PAM_POLKIT)
        c.run(["systemctl", "start", "scopevisord.service"], timeout=60)
        assert wait_for(lambda: ctl(c, "status").returncode == 0), c.journal("-u", "scopevisord.service")
        yield c
    finally:
        c.stop()


def ctl(c, *args, user=None):
    return c.run(["scopevisorctl", "--no-color"] + list(args), user=user, check=False, timeout=60)


def ctl_on_terminal(c, args, user, answer=None, timeout=60):
    """scopevisorctl on a pseudo-terminal of its own (its controlling
    terminal) as `user`. Whenever the terminal asks for a password, `answer`
    is typed (nothing if None). Returns (exit status, terminal output)."""
    gid = c.run(["id", "-g", user]).stdout.strip()
    cmd = ["nsenter", "-t", str(c.leader), "-a", "setpriv", "--reuid", user, "--regid", gid, "--init-groups",
           "scopevisorctl", "--no-color"] + list(args)
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
           "HOME": "/", "TERM": "dumb"}
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvpe(cmd[0], cmd, env)
        finally:
            os._exit(127)
    out = b""
    prompts = choices = 0  # answered so far
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # EIO: every process of the terminal is gone
                    break
                if not chunk:
                    break
                out += chunk
            text = out.decode(errors="replace")
            tail = text.rstrip()
            # With several admin identities, pkttyagent asks which one.
            if tail.endswith(":") and text.count("Choose identity") > choices:
                m = re.search(r"(\d+)\.\s+" + ADMIN + r"\b", text)
                os.write(fd, ((m.group(1) if m else "1") + "\n").encode())
                choices += 1
            # Typed once the agent reads without echo: it flushes what came
            # before (TCSAFLUSH), so an early answer would be lost.
            if answer is not None and tail.endswith("Password:") and text.count("Password:") > prompts and \
                    not termios.tcgetattr(fd)[3] & termios.ECHO:
                os.write(fd, (answer + "\n").encode())
                prompts += 1
        else:
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


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
    ct.add_polkit_rule("10-alice.rules", ALICE_RULE)
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


def test_without_a_terminal_the_refusal_says_what_to_do(ct):
    r = ctl(ct, "stop", "web", user="nobodyx")
    assert r.returncode == 1, r.stderr
    assert "authentication is required" in r.stderr and "polkit" in r.stderr and "as root" in r.stderr, r.stderr
    assert state(ct, "web") == "RUNNING"


def test_no_ask_password_asks_nothing_even_on_a_terminal(ct):
    status, out = ctl_on_terminal(ct, ["--no-ask-password", "stop", "web"], "nobodyx", answer=ADMIN_PASSWORD)
    assert status == 1, out
    assert "Password:" not in out and "authentication is required" in out, out
    assert state(ct, "web") == "RUNNING"


def test_on_a_terminal_polkit_asks_for_the_admin_password(ct):
    # nobodyx is in no scopevisor-* group: control needs auth_admin_keep.
    status, out = ctl_on_terminal(ct, ["stop", "web"], "nobodyx", answer=ADMIN_PASSWORD)
    assert "AUTHENTICATING FOR org.scopevisor1.control" in out, out
    assert "Password:" in out, out
    assert status == 0, out + ct.journal("-u", "polkit.service", "-n", "30")
    assert state(ct, "web") == "STOPPED"
    assert ctl(ct, "start", "web").returncode == 0


def test_on_a_terminal_a_wrong_password_is_refused(ct):
    status, out = ctl_on_terminal(ct, ["stop", "web"], "nobodyx", answer="wrong password")
    assert "Password:" in out, out
    assert status == 1, out
    assert state(ct, "web") == "RUNNING"
