"""How often each SLO window is measured: at a cadence proportional to its length.

A 3-day error ratio re-read from raw samples every 30 s is the same number to within a
rounding error: two readings Δ apart share all but Δ of the window's data. So a window's
measurement may be reused while it is at most ``window / STALENESS_SHARE`` old (1/720: two
minutes for a day, six for three days, an hour for 30 days, ≤ 5 s for an hour — every cycle
at the usual intervals). The bound is on what is used: a reading older than that is never
decided on; a reading within it differs from a fresh one by less than 1/720 of the window's
events (the data that slid out and in).

Pure: takes what was measured when, returns what to measure now (the service executes it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

STALENESS_SHARE = 720
"""A window's measurement may be reused while younger than this share of its length."""


def max_age(window: timedelta, share: int = STALENESS_SHARE) -> timedelta:
    """How old a window's measurement may be when a decision is made on it."""
    return window / share


def fresh(
    window: timedelta, measured_at: datetime | None, now: datetime, share: int = STALENESS_SHARE
) -> bool:
    """Whether a reading taken at ``measured_at`` may still be decided on at ``now``.

    ``share`` 0 turns the cadence off: nothing is ever reused."""
    if share <= 0 or measured_at is None or measured_at > now:  # or a clock that went back
        return False
    return now - measured_at <= max_age(window, share)


@dataclass(frozen=True)
class Fetch:
    """One measurement to make: these SLOs over these windows (one batched query each)."""

    slos: tuple[str, ...]
    windows: tuple[timedelta, ...]


def plan(
    slos: Iterable[str],
    windows: Sequence[timedelta],
    measured_at: Mapping[tuple[str, timedelta], datetime],
    now: datetime,
    share: int = STALENESS_SHARE,
) -> tuple[Fetch, ...]:
    """What to measure now so that every (SLO, window) reading is fresh.

    ``measured_at``: when each cached reading was taken (absent: none usable). Windows that
    are due for the same SLOs are measured together, so the usual cycle is one fetch of
    every SLO over the short windows, and now and then the long ones join.
    """
    names = sorted(set(slos))
    due: dict[tuple[str, ...], list[timedelta]] = {}
    for window in windows:
        stale = tuple(
            s for s in names if not fresh(window, measured_at.get((s, window)), now, share)
        )
        if stale:
            due.setdefault(stale, []).append(window)
    return tuple(Fetch(group, tuple(ws)) for group, ws in due.items())
