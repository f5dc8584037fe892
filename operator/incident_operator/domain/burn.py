"""Multiwindow, multi-burn-rate evaluation (Google SRE Workbook, chapter 5).

burn rate = error ratio / (1 - target). A pair fires when both its long and its short window
have an error ratio above factor x (1 - target) and, if ``min_requests`` is set, the long
window saw at least that many events. The fastest firing pair decides the severity; slower
firing pairs are reported but suppressed.

A window without data (no series, no requests, 0/0, NaN) never fires and never counts as
"below threshold": the pairs that need it are ``no-data``, and whoever decides whether a burn
is over or calmer must wait (``blind_pairs``, ``missing_windows``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from .slo import Objective, WindowPair


@dataclass(frozen=True, slots=True)
class Measurement:
    """What one window measured: the error ratio and, where known, how many events it saw.

    Slots: the cadence keeps one per SLO and window between cycles (80,000 at 10,000 SLOs)."""

    error_ratio: float
    events: float | None = None


@dataclass(frozen=True)
class WindowBurn:
    window: timedelta
    measurement: Measurement | None
    burn_rate: float | None


@dataclass(frozen=True)
class PairState:
    pair: WindowPair
    firing: bool
    reason: str
    """Why it does or does not fire: firing, below-threshold, low-traffic, no-data."""


@dataclass(frozen=True)
class BurnEvaluation:
    windows: tuple[WindowBurn, ...]
    pairs: tuple[PairState, ...]
    decisive: WindowPair | None
    """The fastest firing pair: its severity is the incident's."""
    budget_remaining: float | None
    """Share of the SLO window's error budget left; negative when overspent."""

    @property
    def firing(self) -> tuple[WindowPair, ...]:
        return tuple(s.pair for s in self.pairs if s.firing)

    @property
    def no_data(self) -> bool:
        """No pair could be judged: the data needed for every pair is missing."""
        return all(s.reason == NO_DATA for s in self.pairs)

    @property
    def blind_pairs(self) -> tuple[WindowPair, ...]:
        """Pairs that could not be judged: neither firing nor known to be below threshold."""
        return tuple(s.pair for s in self.pairs if s.reason == NO_DATA)

    @property
    def unsettled(self) -> tuple[WindowPair, ...]:
        """Pairs not known to be calm: no data, or above threshold on too few requests.

        A burn is over (or calmer) only when these are none: the low-traffic guard keeps a
        trickle from declaring, and must not let a trickle of errors end an episode either.
        """
        return tuple(s.pair for s in self.pairs if s.reason in (NO_DATA, LOW_TRAFFIC))

    @property
    def missing_windows(self) -> tuple[timedelta, ...]:
        """Windows some pair needs that have no data, shortest first."""
        needed = {p.long for p in self.blind_pairs} | {p.short for p in self.blind_pairs}
        return tuple(w.window for w in self.windows if w.window in needed and w.measurement is None)


NO_DATA = "no-data"
LOW_TRAFFIC = "low-traffic"


def _usable(measurement: Measurement | None) -> bool:
    """A measurement that says something: present and a number (0/0 gives NaN, not 0)."""
    return measurement is not None and not math.isnan(measurement.error_ratio)


def _pair_state(
    objective: Objective, pair: WindowPair, measurements: Mapping[timedelta, Measurement | None]
) -> PairState:
    long, short = measurements.get(pair.long), measurements.get(pair.short)
    if long is None or short is None:
        return PairState(pair, False, NO_DATA)
    threshold = objective.threshold(pair)
    if not (long.error_ratio > threshold and short.error_ratio > threshold):
        return PairState(pair, False, "below-threshold")
    if objective.min_requests > 0 and (long.events is None or long.events < objective.min_requests):
        return PairState(pair, False, LOW_TRAFFIC)
    return PairState(pair, True, "firing")


def evaluate(
    objective: Objective, measurements: Mapping[timedelta, Measurement | None]
) -> BurnEvaluation:
    """Judge every pair of ``objective`` on ``measurements`` (missing window = no data)."""
    # 0/0 and NaN are no data; ``usable`` holds only numbers.
    usable = {w: m for w, m in measurements.items() if m is not None and _usable(m)}
    windows = tuple(
        WindowBurn(
            window,
            usable.get(window),
            None if (m := usable.get(window)) is None else m.error_ratio / objective.budget,
        )
        for window in objective.windows
    )
    states = tuple(_pair_state(objective, pair, usable) for pair in objective.pairs)
    firing = {s.pair for s in states if s.firing}
    decisive = next((p for p in objective.by_speed if p in firing), None)
    whole = usable.get(objective.window)
    remaining = None if whole is None else 1.0 - whole.error_ratio / objective.budget
    return BurnEvaluation(windows, states, decisive, remaining)


@dataclass(frozen=True)
class Blindness:
    """How long the windows the burn policy needs have lacked data."""

    since: datetime | None
    """Start of the current run of missing data; None while every pair's windows have data."""
    windows: tuple[timedelta, ...]
    """The windows without data now."""
    blind: bool
    """Missing for at least the SLO's ``noDataAfter``: the SLO cannot see a burn."""


def blindness(
    evaluation: BurnEvaluation, since: datetime | None, now: datetime, after: timedelta
) -> Blindness:
    """Carry ``since`` (from the last status) forward: started now, kept, or cleared."""
    missing = evaluation.missing_windows
    if not missing:
        return Blindness(None, (), False)
    began = since if since is not None and since <= now else now
    return Blindness(began, missing, now - began >= after)


def detection_floor(objective: Objective, pair: WindowPair) -> timedelta:
    """Fastest possible detection of a total outage by ``pair``: long x threshold.

    At 100 % errors the long window's ratio reaches the threshold after that share of it
    (the Workbook's 'detection time' column; 51.84 s for 14.4x over 1 h at 99.9 %).
    """
    return pair.long * min(1.0, objective.threshold(pair))


def budget_consumed_at_detection(objective: Objective, pair: WindowPair) -> float:
    """Share of the SLO window's budget spent when ``pair`` first fires: factor x long / window."""
    return pair.factor * (pair.long / objective.window)
