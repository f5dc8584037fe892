"""Which of two observations of one object is newer, by resourceVersion (KEP-5504).

Since Kubernetes 1.35 (KEP-5504, stable) a resourceVersion is a positive decimal integer
without leading zeros, and two versions of objects of one resource compare as integers:
client-go's ``resourceversion.CompareResourceVersion``. Anything else (an older or a
non-etcd API server's opaque string) is not comparable: callers then read fresh instead of
guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def comparable(version: str) -> bool:
    """A well-formed comparable resourceVersion: digits, no leading zero, not "0"."""
    return version.isascii() and version.isdigit() and not version.startswith("0")


def compare(a: str, b: str) -> int | None:
    """-1, 0 or 1 as ``a`` is older than, the same as or newer than ``b``; None when either
    is not comparable. As client-go compares them: by length, then digit by digit."""
    if not (comparable(a) and comparable(b)):
        return None
    if len(a) != len(b):
        return -1 if len(a) < len(b) else 1
    return (a > b) - (a < b)


def version_of(body: Mapping[str, Any]) -> str:
    return str((body.get("metadata") or {}).get("resourceVersion") or "")


def at_least(body: Mapping[str, Any], version: str) -> bool:
    """``body`` is ``version`` or newer; False when that cannot be told."""
    order = compare(version_of(body), version)
    return order is not None and order >= 0
