"""Is the SLO loop alive? The decision behind the operator's liveness probe.

"Completed a cycle" means ``SloEvaluationService.cycle()`` returned: every SLO was loaded,
measured (or found unmeasurable) and its status decided. Prometheus being unreachable, slow
past its timeout or answering errors is NOT a wedge: the cycle handles it, marks the SLOs
``MetricsUnavailable`` and returns, and restarting the operator would not bring Prometheus
back. A cycle that raised did not complete; neither did one that never returns (a call
without a timeout, a deadlock, a dead task). Only those leave the loop without a completion
for ``allowed_misses`` intervals, and a restart is the remedy Kubernetes has for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_ALLOWED_MISSES = 10
"""Intervals without a completed cycle before the probe fails (5 minutes at 30 s)."""


@dataclass(frozen=True)
class LoopProgress:
    started: datetime
    """When the loop was started (the first cycle is due one interval later at most)."""
    interval: timedelta
    last_completed: datetime | None = None
    running: bool = True
    """False: the loop's task has ended (it never should while the operator runs)."""


def wedged(
    progress: LoopProgress, now: datetime, allowed_misses: int = DEFAULT_ALLOWED_MISSES
) -> str | None:
    """Why the loop counts as wedged at ``now``; None while it is alive."""
    if not progress.running:
        return "the SLO evaluation loop has stopped"
    since = progress.last_completed or progress.started
    deadline = since + progress.interval * allowed_misses
    if now <= deadline:
        return None
    what = "last completed" if progress.last_completed is not None else "started"
    return (
        f"no SLO evaluation cycle completed for {(now - since).total_seconds():.0f} s "
        f"({allowed_misses} intervals of {progress.interval.total_seconds():g} s allowed; "
        f"{what} {since.isoformat()})"
    )
