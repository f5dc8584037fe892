"""Single-unit durations as written in manifests (5m, 1h, 30d) <-> timedelta."""

from __future__ import annotations

import re
from datetime import timedelta

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^([0-9]+)([smhdw])$")


def parse_duration(text: str) -> timedelta:
    """Parse ``<number><unit>``; the API schema guarantees the shape, this re-checks it."""
    match = _PATTERN.match(text)
    if not match:
        raise ValueError(f"invalid duration {text!r}: expected a number and one of s, m, h, d, w")
    try:
        return timedelta(seconds=int(match.group(1)) * UNITS[match.group(2)])
    except OverflowError as exc:
        raise ValueError(f"invalid duration {text!r}: too long") from exc


def format_duration(delta: timedelta) -> str:
    """The largest unit that divides ``delta`` exactly (PromQL accepts every one of them)."""
    seconds = int(delta.total_seconds())
    if seconds <= 0 or seconds != delta.total_seconds():
        raise ValueError(f"duration must be a positive whole number of seconds, got {delta}")
    for unit, size in sorted(UNITS.items(), key=lambda item: -item[1]):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("unreachable: 's' divides every whole number of seconds")
