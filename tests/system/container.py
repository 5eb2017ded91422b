# SPDX-License-Identifier: LGPL-2.1-or-later
"""A real systemd in a container, for the system tests (docs/architecture.md §12).

    with Container(config_dir=cfg, build_dir=build) as c:
        c.run(["systemctl", "start", "scopevisord.service"])
        print(c.journal("-u", "scopevisord.service"))

The container boots the host's own /usr with `systemd-nspawn --volatile=yes`
(an empty /etc on a tmpfs), so it has systemd as PID 1, a system bus,
journald, logind and polkitd, whatever the host runs. Nothing is written
into the host's /usr: with `build_dir`, the project is installed with
`meson install --destdir` into a temporary tree whose files are bound into
the container where their readers look:

  /usr/local (the prefix)      bound over /usr/local, read-only; units,
                               presets, tmpfiles.d, sysusers.d and D-Bus
                               activation files are moved under it
                               (/usr/local/lib/systemd/system, ...), which
                               systemd and dbus-daemon read
  dbus-1/system.d policy       /etc/dbus-1/system.d (dbus-daemon reads policy
                               only there and in /usr/share)
  polkit actions and rules     /usr/share/polkit-1/{actions,rules.d}, each a
                               copy of the host's directory plus the
                               project's files, bound over the original

The pitfalls of docs/architecture.md §12, handled here:
  - every container starts from a cgroup of its own in every hierarchy
    (with --keep-unit on a host without systemd, containers started from
    one cgroup share it and kill each other's units); the cgroups are
    removed again by stop(), whatever happened;
  - polkitd gets its own uid inside, so the rules directory is given to the
    container's polkitd user and polkit is restarted;
  - there is no ld.so.cache inside: ldconfig runs after boot;
  - first-boot presets would enable every installed service: the host's
    supervisor and nats-server and the project's own daemon are masked on
    the kernel command line by default (`mask=`), and the network is
    private;
  - the configuration is in place before boot (`config_dir` is bound
    read-only on /etc/scopevisor).

Requires root, systemd-nspawn (systemd-container) and nsenter, setpriv
(util-linux).
"""

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import waiting  # noqa: E402

DEFAULT_MASK = ["supervisor.service", "nats-server.service", "scopevisord.service", "scopevisord.socket"]
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CGROUP_ROOT = "/sys/fs/cgroup"

# Where the project's files go inside, keyed by where `meson install` put them
# (relative to the destdir). Directories systemd and dbus-daemon also read
# under /usr/local are used when they exist, so a plain bind of /usr/local
# brings them in.
_RELOCATE = [
    ("lib/systemd/system/", "usr/local/lib/systemd/system/"),
    ("usr/lib/systemd/system/", "usr/local/lib/systemd/system/"),
    ("lib/systemd/system-preset/", "usr/local/lib/systemd/system-preset/"),
    ("usr/lib/systemd/system-preset/", "usr/local/lib/systemd/system-preset/"),
    ("usr/lib/tmpfiles.d/", "usr/local/lib/tmpfiles.d/"),
    ("usr/lib/sysusers.d/", "usr/local/lib/sysusers.d/"),
    ("usr/share/dbus-1/system-services/", "usr/local/share/dbus-1/system-services/"),
]
# Read from /etc as well: bound file by file (the container's /etc is a tmpfs).
_TO_ETC = [("usr/share/dbus-1/system.d/", "etc/dbus-1/system.d/")]
# Read only from /usr/share: a copy of the host's directory plus ours.
_OVERLAY = ["usr/share/polkit-1/actions/", "usr/share/polkit-1/rules.d/"]


class ContainerError(RuntimeError):
    pass


def with_config(tmp_path_factory, config):
    """A Container (not started) whose /etc/scopevisor/scopevisor.conf is
    `config`, for the project built in $SCOPEVISOR_BUILD_DIR, with only the
    host's other daemons masked: the project's units come up as presets say."""
    conf = tmp_path_factory.mktemp("conf")
    (conf / "scopevisor.conf").write_text(config)
    os.chmod(conf, 0o755)
    return Container(config_dir=str(conf), build_dir=os.environ.get("SCOPEVISOR_BUILD_DIR", "build"),
                     mask=["supervisor.service", "nats-server.service"])


def wait_for(pred, timeout=20.0, step=0.1):
    """waiting.wait_for with the longer defaults that a booted system needs."""
    return waiting.wait_for(pred, timeout, step)


CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def netns_of(pid):
    """This thread in the network namespace of `pid` (a container's leader)
    for a while: sockets made inside stay there, so a test on the host talks
    to the container's loopback, which --private-network keeps apart."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open("/proc/%d/ns/net" % pid, os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into the container's network")
        yield
    finally:
        if _libc.setns(own, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back")
        os.close(own)
        os.close(target)


def _raise_on_sigterm(signum, _frame):
    raise SystemExit(128 + signum)


def _rm_cgroup(path):
    """Kill whatever is left in a cgroup tree, then remove it."""
    if not os.path.isdir(path):
        return
    for _ in range(50):
        pids = []
        for root, _dirs, files in os.walk(path):
            if "cgroup.procs" in files:
                try:
                    with open(os.path.join(root, "cgroup.procs")) as f:
                        pids += [int(p) for p in f.read().split()]
                except OSError:
                    pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not pids:
            break
        time.sleep(0.1)
    for root, dirs, _files in os.walk(path, topdown=False):
        for d in dirs:
            try:
                os.rmdir(os.path.join(root, d))
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass


def _hierarchies():
    """Mount points of the cgroup hierarchies: each v1 controller and the
    unified one (hybrid), or just /sys/fs/cgroup (unified only)."""
    if os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.procs")):
        return [CGROUP_ROOT]
    out = []
    for e in sorted(os.listdir(CGROUP_ROOT)):
        p = os.path.join(CGROUP_ROOT, e)
        if os.path.isdir(p) and not os.path.islink(p) and os.path.exists(os.path.join(p, "cgroup.procs")):
            out.append(p)
    return out


def _own_cgroup_paths():
    """This process's cgroup in each hierarchy, by mount point."""
    entries = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.strip():
                _hid, ctrls, path = line.rstrip("\n").split(":", 2)
                entries[ctrls] = path
    out = {}
    for mount in _hierarchies():
        base = os.path.basename(mount)
        if mount == CGROUP_ROOT or base == "unified":
            key = ""
        else:
            key = base if base in entries else "name=" + base
        out[mount] = entries.get(key, "/")
    return out


class Container:
    def __init__(self, name=None, binds_ro=(), binds=(), mask=None, private_network=True, config_dir=None,
                 build_dir=None):
        self.name = name or "sv-" + secrets.token_hex(4)
        self.binds_ro = list(binds_ro)
        self.binds = list(binds)
        self.mask = list(DEFAULT_MASK if mask is None else mask)
        self.private_network = private_network
        self.config_dir = config_dir
        self.build_dir = build_dir
        self.leader = None  # pid of the container's systemd, on the host
        self._proc = None
        self._cgroups = []
        self._tmp = None
        self._log = None
        self._polkit_rules = None
        self._procs = []

    # -- context manager --
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- set-up --
    def _install_project(self):
        dest = os.path.join(self._tmp, "dest")
        r = subprocess.run(["meson", "install", "-C", self.build_dir, "--destdir", dest, "--no-rebuild", "--quiet"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
        if r.returncode != 0:
            raise ContainerError("meson install failed:\n" + r.stdout[-3000:])
        stage = os.path.join(self._tmp, "stage")
        local = os.path.join(stage, "usr/local")
        os.makedirs(local)
        if os.path.isdir(os.path.join(dest, "usr/local")):
            shutil.copytree(os.path.join(dest, "usr/local"), local, symlinks=True, dirs_exist_ok=True)
        overlays = {}
        etc_files = []
        for root, _dirs, files in os.walk(dest):
            for fn in files:
                src = os.path.join(root, fn)
                rel = os.path.relpath(src, dest)
                if rel.startswith("usr/local/"):
                    continue
                target = None
                for prefix, to in _RELOCATE:
                    if rel.startswith(prefix):
                        target = os.path.join(stage, to + rel[len(prefix):])
                for prefix, to in _TO_ETC:
                    if rel.startswith(prefix):
                        etc_files.append((src, "/" + to + rel[len(prefix):]))
                        target = ""
                for prefix in _OVERLAY:
                    if rel.startswith(prefix):
                        overlays.setdefault(prefix, []).append(src)
                        target = ""
                if rel.startswith("etc/"):
                    etc_files.append((src, "/" + rel))
                    target = ""
                if target is None:
                    raise ContainerError("do not know where the container reads /" + rel +
                                         " (the system tests need the default prefix /usr/local)")
                if target:
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    shutil.copy2(src, target)
        self.binds_ro.append((local, "/usr/local"))
        self.binds_ro += etc_files
        for prefix, files in overlays.items():
            d = os.path.join(self._tmp, "overlay", prefix)
            self._overlay_dir("/" + prefix.rstrip("/"), d, files)

    def _overlay_dir(self, inside, copy, files):
        host = inside  # the container's /usr is the host's
        if os.path.isdir(host):
            shutil.copytree(host, copy, symlinks=True)
        else:
            os.makedirs(copy)
        for f in files:
            shutil.copy2(f, os.path.join(copy, os.path.basename(f)))
        if inside.endswith("/rules.d"):
            # Given to the container's polkitd after boot (its uid differs).
            self.binds.append((copy, inside))
            self._polkit_rules = inside
        else:
            self.binds_ro.append((copy, inside))

    def _make_cgroups(self):
        """A cgroup of our own in every hierarchy (docs/architecture.md §12); returns the
        cgroup.procs files to move the starting process into."""
        procs = []
        for mount, rel in _own_cgroup_paths().items():
            parent = os.path.join(mount, rel.lstrip("/"))
            path = os.path.join(parent, "scopevisor-test-" + self.name)
            try:
                os.mkdir(path)
            except FileExistsError:
                pass
            except OSError:
                # Not allowed below our own cgroup: at the top then.
                parent = mount
                path = os.path.join(mount, "scopevisor-test-" + self.name)
                os.makedirs(path, exist_ok=True)
            self._cgroups.append(path)
            # cpuset (v1) refuses tasks until it has cpus and mems.
            for knob in ("cpuset.cpus", "cpuset.mems"):
                kp = os.path.join(path, knob)
                if os.path.exists(kp) and os.path.basename(mount) == "cpuset":
                    with open(os.path.join(parent, knob)) as f:
                        value = f.read().strip()
                    with open(kp, "w") as f:
                        f.write(value)
            procs.append(os.path.join(path, "cgroup.procs"))
        return procs

    def _find_leader(self, deadline):
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ContainerError("systemd-nspawn exited with %d:\n%s" % (self._proc.returncode, self.boot_log()))
            try:
                with open("/proc/%d/task/%d/children" % (self._proc.pid, self._proc.pid)) as f:
                    kids = [int(p) for p in f.read().split()]
            except OSError:
                kids = []
            for k in kids:
                try:
                    with open("/proc/%d/comm" % k) as f:
                        if f.read().strip() == "systemd":
                            return k
                except OSError:
                    pass
            time.sleep(0.05)
        raise ContainerError("the container's systemd did not appear:\n" + self.boot_log())

    def start(self, timeout=90):
        if os.geteuid() != 0:
            raise ContainerError("containers need root")
        for tool in ("systemd-nspawn", "nsenter", "setpriv"):
            if not shutil.which(tool):
                raise ContainerError(tool + " is missing")
        # A test runner's timeout ends us with SIGTERM: turn it into an
        # exception, so that stop() still removes the container and cgroups.
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _raise_on_sigterm)
        self._tmp = tempfile.mkdtemp(prefix="scopevisor-ct-")
        if self.build_dir:
            self._install_project()
        if self.config_dir:
            self.binds_ro.append((self.config_dir, "/etc/scopevisor"))
        self._procs = self._make_cgroups()
        self._log = open(os.path.join(self._tmp, "boot.log"), "w+")
        return self._boot(timeout)

    def reboot(self, timeout=90):
        """`systemctl reboot` inside, and boot again: what the container
        keeps is what a machine keeps (the bound directories; the root is
        volatile). systemd-nspawn ends with 133 when its container asks for
        a reboot, as a boot loader would restart the machine."""
        self.run(["systemctl", "reboot"], check=False)
        try:
            rc = self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ContainerError("the container did not go down for the reboot:\n" + self.boot_log())
        if rc != 133:
            raise ContainerError("systemd-nspawn ended with %d, not 133 (reboot):\n%s" % (rc, self.boot_log()))
        self.leader = None
        return self._boot(timeout)

    def _boot(self, timeout):
        procs = self._procs
        args = ["systemd-nspawn", "-D", "/", "--volatile=yes", "--register=no", "--keep-unit",
                "--console=passive", "-M", self.name, "--quiet"]
        if self.private_network:
            args.append("--private-network")
        for src, dst in self.binds_ro:
            args.append("--bind-ro=%s:%s" % (src, dst))
        for src, dst in self.binds:
            args.append("--bind=%s:%s" % (src, dst))
        args += ["-b", "systemd.firstboot=off"]
        args += ["systemd.mask=" + u for u in self.mask]
        # The shell moves itself into the container's cgroups, then becomes
        # systemd-nspawn, so nspawn and everything below start there.
        script = 'for f in "$@"; do case "$f" in --) break;; esac; echo $$ > "$f" || exit 1; done\n' \
                 'while [ "$1" != "--" ]; do shift; done; shift; exec "$@"'
        self._proc = subprocess.Popen(["sh", "-c", script, "sh"] + procs + ["--"] + args,
                                      stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        deadline = time.monotonic() + timeout
        self.leader = self._find_leader(deadline)
        state = ""
        while time.monotonic() < deadline:
            try:
                r = self.run(["systemctl", "is-system-running", "--wait"], check=False,
                             timeout=max(1, deadline - time.monotonic()))
                state = r.stdout.strip()
            except subprocess.TimeoutExpired:
                continue
            if state in ("running", "degraded"):
                break
            if self._proc.poll() is not None:
                raise ContainerError("the container stopped while booting:\n" + self.boot_log())
            time.sleep(0.2)
        else:
            raise ContainerError("the container did not finish booting (state %r):\n%s" % (state, self.boot_log()))
        self.run(["ldconfig"])
        if self._polkit_rules:
            r = self.run(["id", "-u", "polkitd"], check=False)
            if r.returncode == 0:
                self.run(["chown", "polkitd:root", self._polkit_rules])
                self.run(["systemctl", "try-restart", "polkit.service"], check=False)
        return self

    # -- use --
    def run(self, cmd, user=None, check=True, timeout=60, input=None):
        """Run `cmd` (a list, or a string for sh -c) inside the container, as
        root or as `user` (name or uid, with its groups)."""
        if self.leader is None:
            raise ContainerError("the container is not running")
        if isinstance(cmd, str):
            cmd = ["sh", "-c", cmd]
        env = {"PATH": PATH, "LANG": "C.UTF-8", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"}
        prefix = ["nsenter", "-t", str(self.leader), "-a"]
        if user is not None:
            prefix += ["setpriv", "--reuid", str(user), "--regid", self._group_of(user), "--init-groups"]
            env["HOME"] = "/"
        r = subprocess.run(prefix + list(cmd), input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=not isinstance(input, bytes), timeout=timeout, env=env)
        if check and r.returncode != 0:
            raise ContainerError("%s: exit %d\nstdout: %s\nstderr: %s" % (" ".join(cmd), r.returncode, r.stdout,
                                                                          r.stderr))
        return r

    def add_users(self, users):
        """useradd each user (name -> list of supplementary groups), after
        the project's sysusers.d file has made the scopevisor-* groups."""
        self.run(["systemd-sysusers"])
        for user, groups in users.items():
            args = ["useradd", "-M", "-s", "/bin/sh"]
            if groups:
                args += ["-G", ",".join(groups)]
            self.run(args + [user])

    def add_polkit_rule(self, name, text):
        """A local polkit rule in /etc/polkit-1/rules.d, owned so that the
        container's polkitd reads it, and polkit restarted to load it."""
        self.run(["mkdir", "-p", "/etc/polkit-1/rules.d"])
        self.run(["sh", "-c", "cat > /etc/polkit-1/rules.d/" + name], input=text)
        self.run(["chown", "-R", "polkitd:root", "/etc/polkit-1/rules.d"], check=False)
        self.run(["systemctl", "restart", "polkit.service"])

    def _group_of(self, user):
        r = subprocess.run(["nsenter", "-t", str(self.leader), "-a", "id", "-g", str(user)], stdout=subprocess.PIPE,
                           text=True, env={"PATH": PATH})
        if r.returncode != 0:
            raise ContainerError("no user %s in the container" % user)
        return r.stdout.strip()

    def journal(self, *args):
        """journalctl inside with `args`; its output."""
        return self.run(["journalctl", "--no-pager", "-q"] + list(args), timeout=120).stdout

    def daemon_log(self):
        return self.journal("-u", "scopevisord.service", "-o", "cat")

    def start_daemon(self):
        """Start scopevisord.service (first-boot presets may have already)
        and wait until it is active."""
        self.run(["systemctl", "start", "scopevisord.service"], timeout=60)
        active = wait_for(lambda: self.run(["systemctl", "is-active", "scopevisord.service"], check=False)
                          .stdout.strip() == "active")
        assert active, self.daemon_log()

    def boot_log(self):
        if not self._log:
            return ""
        self._log.flush()
        with open(self._log.name, errors="replace") as f:
            return f.read()[-4000:]

    def stop(self, timeout=30):
        """Power the container off (killing it if it does not go), remove its
        cgroups and temporary files. Safe to call more than once."""
        if self._proc is not None and self._proc.poll() is None:
            if self.leader:
                try:
                    os.kill(self.leader, signal.SIGRTMIN + 4)  # systemd: poweroff
                except ProcessLookupError:
                    pass
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self._proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self._proc.wait(timeout=10)
        self._proc = None
        self.leader = None
        for path in reversed(self._cgroups):
            _rm_cgroup(path)
        self._cgroups = []
        if self._log:
            self._log.close()
            self._log = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
