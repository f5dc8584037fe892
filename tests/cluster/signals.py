"""Stop on SIGTERM and SIGHUP the way Ctrl-C stops: unwind, so every started process ends.

The control plane, Prometheus and the operator run in sessions of their own, so a terminal's
Ctrl-C reaches only the parent, whose ``with``/``finally`` blocks then stop them in order.
Python's default for SIGTERM and SIGHUP is to die at once, skipping all of that: a closed
terminal, a CI timeout or a plain ``kill`` left them running, orphaned. Raised as
``KeyboardInterrupt`` instead, the same unwinding as Ctrl-C runs. A second SIGTERM or SIGHUP
during that clean-up is ignored (Ctrl-C still interrupts it).
"""

from __future__ import annotations

import signal
from types import FrameType

STOPPING = (signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    for sig in STOPPING:
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")


def interrupt_on_termination() -> None:
    """From now on SIGTERM and SIGHUP unwind the main thread like Ctrl-C."""
    for sig in STOPPING:
        signal.signal(sig, _interrupt)
