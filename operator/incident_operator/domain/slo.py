"""Service level objectives as the burn-rate engine sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import cached_property

from .durations import format_duration, parse_duration


@dataclass(frozen=True)
class WindowPair:
    """A multiwindow burn-rate alert: fires when both windows burn faster than ``factor``.

    ``long_text``/``short_text`` keep the manifest's spelling ("1d" stays "1d", not "24h").
    """

    long: timedelta
    short: timedelta
    factor: float
    severity: str
    long_text: str
    short_text: str

    @classmethod
    def of(cls, long: str, short: str, factor: float, severity: str) -> WindowPair:
        return cls(parse_duration(long), parse_duration(short), factor, severity, long, short)


WORKBOOK_PAIRS: tuple[WindowPair, ...] = (
    WindowPair.of("1h", "5m", 14.4, "sev-2"),
    WindowPair.of("6h", "30m", 6, "sev-2"),
    WindowPair.of("1d", "2h", 3, "sev-3"),
    WindowPair.of("3d", "6h", 1, "sev-4"),
)
"""The SRE Workbook's table: the first two page, the last two open tickets."""


@dataclass(frozen=True)
class Objective:
    """Target (a fraction, 0.999) over ``window``, alerted by ``pairs``."""

    target: float
    window: timedelta
    pairs: tuple[WindowPair, ...] = WORKBOOK_PAIRS
    min_requests: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.target < 1:
            raise ValueError(f"target must be a fraction strictly between 0 and 1: {self.target}")
        if self.window <= timedelta(0):
            raise ValueError(f"the SLO window must be positive, got {self.window}")
        for pair in self.pairs:
            if not timedelta(0) < pair.short < pair.long:
                raise ValueError(
                    f"window pair {pair.long_text}/{pair.short_text}: "
                    "the short window must be positive and shorter than the long one"
                )

    @cached_property
    def budget(self) -> float:
        """Allowed error ratio, 1 - target.

        In decimal: 1 - 0.999 is 0.001 there, and 0.0010000000000000009 in binary floats.
        """
        return float(1 - Decimal(repr(self.target)))

    def threshold(self, pair: WindowPair) -> float:
        """Error ratio both windows of ``pair`` must exceed for it to fire."""
        return pair.factor * self.budget

    @cached_property
    def windows(self) -> tuple[timedelta, ...]:
        """Every distinct window the policy needs measured, shortest first, SLO window last."""
        needed = {p.long for p in self.pairs} | {p.short for p in self.pairs}
        return (*sorted(needed - {self.window}), self.window)

    @cached_property
    def by_speed(self) -> tuple[WindowPair, ...]:
        """Pairs fastest first: the highest factor, then the shortest long window."""
        return tuple(sorted(self.pairs, key=lambda p: (-p.factor, p.long, p.short)))


_PYRRA_WINDOWS = (
    # (long divisor, short divisor, factor) of the SLO window, from Pyrra's slo.Windows():
    # 1h/5m, 6h/30m, 1d/2h and 4d/6h for 28 days, each rounded to the minute.
    (28 * 24, 28 * 24 * 12, 14.0),
    (28 * 4, 28 * 24 * 2, 7.0),
    (28, 28 * 12, 2.0),
    (7, 28 * 4, 1.0),
)
_NANOSECONDS, _MINUTE_NS = 10**9, 60 * 10**9


def _pyrra_window(slo_window: timedelta, divisor: int) -> timedelta:
    """Go's ``(sloWindow / divisor).Round(time.Minute)``: integer nanoseconds, halves up."""
    ns = int(slo_window.total_seconds()) * _NANOSECONDS // divisor
    minutes, rest = divmod(ns, _MINUTE_NS)
    return timedelta(minutes=minutes + (1 if 2 * rest >= _MINUTE_NS else 0))


def pyrra_pairs(slo_window: timedelta) -> tuple[WindowPair, ...]:
    """The window pairs Pyrra alerts on (and records burn rates for) for ``slo_window``:
    1h/5m, 6h/30m, 1d/2h, 4d/6h for 28d; 1h4m/5m, 6h26m/32m, 1d1h43m/2h9m, 4d6h51m/6h26m
    for 30d. Severities as in our default table, pair by pair."""
    pairs = []
    for (long_div, short_div, factor), default in zip(_PYRRA_WINDOWS, WORKBOOK_PAIRS, strict=True):
        long, short = _pyrra_window(slo_window, long_div), _pyrra_window(slo_window, short_div)
        pairs.append(
            WindowPair(
                long, short, factor, default.severity, format_duration(long), format_duration(short)
            )
        )
    return tuple(pairs)


def pyrra_recorded_windows(slo_window: timedelta) -> frozenset[timedelta]:
    """Windows Pyrra records for an SLO over ``slo_window``: its pairs' burn rates, and the
    SLO window itself (``pyrra_availability``, from its generic rules)."""
    return frozenset(
        {p.long for p in pyrra_pairs(slo_window)}
        | {p.short for p in pyrra_pairs(slo_window)}
        | {slo_window}
    )
