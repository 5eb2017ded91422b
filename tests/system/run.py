#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run the system tests (pytest in this directory), or skip them (exit 77,
which meson counts as a skip) where a container cannot be booted."""

import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


if os.geteuid() != 0:
    skip("the system tests boot a container and need root")
for tool in ("systemd-nspawn", "nsenter", "setpriv", "meson"):
    if not shutil.which(tool):
        skip(tool + " is missing (packages systemd-container, util-linux, meson)")
if not os.path.isdir("/sys/fs/cgroup"):
    skip("no cgroup file system")
try:
    import pytest  # noqa: F401
except ImportError:
    skip("python3-pytest is missing")

args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", HERE] + sys.argv[1:]
sys.exit(subprocess.call(args, cwd=HERE))
