"""Durations as written in manifests and PromQL (5m, 1h, 30d, 1h4m) <-> timedelta.

The spelling is Prometheus': whole numbers of y, w, d, h, m and s, largest unit first, each at
most once. Compound durations are what Pyrra names its windows after (``1h4m``, ``4d6h51m``
for a 30d SLO), and ``format_duration`` prints exactly what Prometheus' own
``model.Duration.String()`` prints, so series names built from it (Sloth's
``ratio_rate<window>``, Pyrra's ``burnrate<window>``) are the ones those tools record.
"""

from __future__ import annotations

import re
from datetime import timedelta

UNITS = {"y": 31_536_000, "w": 604_800, "d": 86_400, "h": 3600, "m": 60, "s": 1}
_PATTERN = re.compile("^" + "".join(f"(?:([0-9]+){unit})?" for unit in UNITS) + "$")
_EXACT_ONLY = frozenset({"y", "w"})
"""Prometheus writes years and weeks only when they divide the duration: 90d, not 12w6d."""


def parse_duration(text: str) -> timedelta:
    """Parse ``1h4m``-style text; the API schema guarantees the shape, this re-checks it."""
    match = _PATTERN.match(text)
    if not text or not match:
        raise ValueError(
            f"invalid duration {text!r}: expected whole numbers of y, w, d, h, m, s, "
            "largest first (5m, 30d, 1h4m)"
        )
    seconds = sum(
        int(n) * size for n, size in zip(match.groups(), UNITS.values(), strict=True) if n
    )
    try:
        return timedelta(seconds=seconds)
    except OverflowError as exc:
        raise ValueError(f"invalid duration {text!r}: too long") from exc


def format_duration(delta: timedelta) -> str:
    """Prometheus' spelling of ``delta``: 5m, 1h, 4w (28d), 30d, 1h4m, 1d1h43m."""
    seconds = int(delta.total_seconds())
    if seconds <= 0 or seconds != delta.total_seconds():
        raise ValueError(f"duration must be a positive whole number of seconds, got {delta}")
    out = ""
    for unit, size in UNITS.items():
        if unit in _EXACT_ONLY and seconds % size:
            continue
        if count := seconds // size:
            out += f"{count}{unit}"
            seconds -= count * size
    return out
