"""The liveness decision: a loop that completes cycles is alive, whatever Prometheus does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incident_operator.domain.liveness import LoopProgress, wedged

T = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("progress", "now", "misses", "reason"),
    [
        # never completed: counted from the start
        (LoopProgress(T, 30 * S), T + 299 * S, 10, None),
        (LoopProgress(T, 30 * S), T + 300 * S, 10, None),
        (LoopProgress(T, 30 * S), T + 301 * S, 10, "no SLO evaluation cycle completed for 301 s"),
        # completed recently (a cycle with Prometheus unavailable completes too)
        (LoopProgress(T, 30 * S, T + 3600 * S), T + 3650 * S, 10, None),
        (LoopProgress(T, 30 * S, T + 3600 * S), T + 3601 * S + 300 * S, 10, "for 301 s"),
        # the number of intervals is configurable
        (LoopProgress(T, 30 * S, T), T + 61 * S, 2, "(2 intervals of 30 s allowed;"),
        (LoopProgress(T, 30 * S, T), T + 60 * S, 2, None),
        # a dead loop is wedged at once
        (LoopProgress(T, 30 * S, T, running=False), T + 1 * S, 10, "loop has stopped"),
    ],
)
def test_wedged(progress: LoopProgress, now: datetime, misses: int, reason: str | None) -> None:
    found = wedged(progress, now, misses)
    if reason is None:
        assert found is None
    else:
        assert found is not None
        assert reason in found
