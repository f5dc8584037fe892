"""The clock-jump fault's mechanism: libfaketime moves a running Python process's clocks.

The chaos run's ``clock-jump`` relies on Debian's libfaketime reaching what the operator reads:
``time.time()`` (deadlines, timestamps) and ``time.monotonic()`` (asyncio's and so kopf's
timers), changed while the process runs. This checks it on a plain child process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.chaos.world import LIBFAKETIME, faketime_env

CHILD = """
import sys, time
wall, mono = time.time(), time.monotonic()
print("ready", flush=True)
sys.stdin.readline()
print(time.time() - wall, time.monotonic() - mono, flush=True)
"""


@pytest.mark.skipif(not LIBFAKETIME.exists(), reason="libfaketime missing: make deps")
def test_an_offset_written_while_a_process_runs_moves_both_its_clocks(tmp_path: Path) -> None:
    clock = tmp_path / "clock"
    clock.write_text("+0\n")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **faketime_env(clock)},
    )
    assert child.stdout is not None
    assert child.stdin is not None
    assert child.stdout.readline().strip() == "ready"
    clock.write_text("+3600\n")
    child.stdin.write("\n")
    child.stdin.flush()
    wall, mono = (float(v) for v in child.stdout.readline().split())
    child.wait(timeout=30)
    assert 3600 <= wall < 3660
    assert 3600 <= mono < 3660
