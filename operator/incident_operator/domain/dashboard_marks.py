"""Which incident milestones still need a mark on the dashboards — pure."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

MARKED = ("declared", "mitigated", "resolved")


def marks_due(
    stamps: Mapping[str, datetime | None], done: Collection[str]
) -> list[tuple[str, datetime]]:
    """Stamped milestones not marked yet, in lifecycle order (a reopen does not re-mark)."""
    return [(m, at) for m in MARKED if m not in done and (at := stamps.get(m)) is not None]


def parse_done(value: str | None) -> set[str]:
    return {part for part in (value or "").split(",") if part}


def text(milestone: str, title: str, severity: str) -> str:
    return f"Incident {milestone}: {title} ({severity})"
