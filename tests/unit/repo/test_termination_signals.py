"""SIGTERM and SIGHUP unwind like Ctrl-C, so what a command started is stopped (no orphans)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.kube import REPO

PARENT = """
import subprocess, sys, time
from tests.cluster.signals import interrupt_on_termination
if sys.argv[1] == "handled":
    interrupt_on_termination()
child = subprocess.Popen(["sleep", "300"], start_new_session=True)  # as the control plane
try:
    print(child.pid, flush=True)
    time.sleep(300)
finally:
    child.terminate()
    child.wait()
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by init) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def run_and_signal(mode: str, sig: signal.Signals) -> int:
    """Start a parent that starts a child in its own session; signal the parent; the child."""
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, mode],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.send_signal(sig)
    parent.wait(timeout=30)  # the parent's finally has run (or was skipped) by now
    return child


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_the_child_is_stopped_when_the_parent_is_terminated(sig: signal.Signals) -> None:
    child = run_and_signal("handled", sig)
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child)


def test_without_it_the_child_is_orphaned() -> None:
    """What the commands did before: Python dies on SIGTERM without running ``finally``."""
    child = run_and_signal("default", signal.SIGTERM)
    try:
        assert alive(child)
    finally:
        os.kill(child, signal.SIGKILL)
