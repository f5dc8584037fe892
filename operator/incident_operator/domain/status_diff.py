"""Which status fields a writer would change: no PATCH for nothing, and no churn.

Every status writer compares what it observed with what the object already says and sends
only the difference (a missing key equals None). Pure: dicts in, a dict out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .times import parse_time


def equal(have: Any, want: Any) -> bool:
    return bool(have == want)


def same_instant(have: Any, want: Any) -> bool:
    """Equal, except that two timestamps are the same when they name the same instant
    ("...Z" and "...+00:00", or a different precision of the same time)."""
    if isinstance(want, str) and isinstance(have, str) and "T" in want:
        return parse_time(have) == parse_time(want)
    return equal(have, want)


def normalized(value: Any) -> Any:
    """A status value as compared: timestamps as instants, fields that are None left out
    (recursively), numbers as floats to six places (what a JSON round trip may change)."""
    if isinstance(value, str) and "T" in value and (at := parse_time(value)) is not None:
        return at
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return round(float(value), 6)
    return value


def same_normalized(have: Any, want: Any) -> bool:
    return bool(normalized(have) == normalized(want))


def changed(
    current: Mapping[str, Any],
    wanted: Mapping[str, Any],
    *,
    same: Callable[[Any, Any], bool] = equal,
) -> dict[str, Any]:
    """The keys of ``wanted`` whose value differs from ``current``'s (a missing key is None)."""
    return {k: v for k, v in wanted.items() if not same(current.get(k), v)}
