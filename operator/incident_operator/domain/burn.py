"""Multiwindow, multi-burn-rate evaluation (Google SRE Workbook, chapter 5).

burn rate = error ratio / (1 - target). A pair fires when both its long and its short window
have an error ratio above factor x (1 - target) and, if ``min_requests`` is set, the long
window saw at least that many events. The fastest firing pair decides the severity; slower
firing pairs are reported but suppressed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from .slo import Objective, WindowPair


@dataclass(frozen=True)
class Measurement:
    """What one window measured: the error ratio and, where known, how many events it saw."""

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
        return all(s.reason == "no-data" for s in self.pairs)


def _pair_state(
    objective: Objective, pair: WindowPair, measurements: Mapping[timedelta, Measurement | None]
) -> PairState:
    long, short = measurements.get(pair.long), measurements.get(pair.short)
    if long is None or short is None:
        return PairState(pair, False, "no-data")
    threshold = objective.threshold(pair)
    if not (long.error_ratio > threshold and short.error_ratio > threshold):
        return PairState(pair, False, "below-threshold")
    if objective.min_requests > 0 and (long.events is None or long.events < objective.min_requests):
        return PairState(pair, False, "low-traffic")
    return PairState(pair, True, "firing")


def evaluate(
    objective: Objective, measurements: Mapping[timedelta, Measurement | None]
) -> BurnEvaluation:
    """Judge every pair of ``objective`` on ``measurements`` (missing window = no data)."""
    windows = tuple(
        WindowBurn(
            window,
            measurements.get(window),
            None if (m := measurements.get(window)) is None else m.error_ratio / objective.budget,
        )
        for window in objective.windows
    )
    states = tuple(_pair_state(objective, pair, measurements) for pair in objective.pairs)
    firing = {s.pair for s in states if s.firing}
    decisive = next((p for p in objective.by_speed if p in firing), None)
    whole = measurements.get(objective.window)
    remaining = None if whole is None else 1.0 - whole.error_ratio / objective.budget
    return BurnEvaluation(windows, states, decisive, remaining)


def detection_floor(objective: Objective, pair: WindowPair) -> timedelta:
    """Fastest possible detection of a total outage by ``pair``: long x threshold.

    At 100 % errors the long window's ratio reaches the threshold after that share of it
    (the Workbook's 'detection time' column; 51.84 s for 14.4x over 1 h at 99.9 %).
    """
    return pair.long * min(1.0, objective.threshold(pair))


def budget_consumed_at_detection(objective: Objective, pair: WindowPair) -> float:
    """Share of the SLO window's budget spent when ``pair`` first fires: factor x long / window."""
    return pair.factor * (pair.long / objective.window)
