# SPDX-License-Identifier: LGPL-2.1-or-later
"""Polling for the test suites of the daemon and of every adapter: a test
waits for a state it cannot be told about (a program RUNNING, a line in a
log) instead of sleeping for a guessed time."""

import subprocess
import time


def wait_for(pred, timeout=10.0, step=0.05):
    """The first true value of pred() within timeout seconds, else its last."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def end_process(proc, timeout=30.0):
    """SIGTERM a subprocess.Popen still running and wait for it; SIGKILL it
    if it is not gone within timeout seconds. Its return code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
