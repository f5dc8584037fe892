"""Instants as the operator writes them into objects."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(at: datetime) -> str:
    """UTC with a ``Z`` suffix: the same text for the same instant, whatever offset it came in."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(value: object) -> datetime | None:
    """An instant read back from an object (RFC 3339 text or a datetime); None if it is not one.

    Lenient on purpose: status written by an older version or by hand must not crash a
    reconcile, it just counts as absent. Text without an offset is taken as UTC (the API
    server's own timestamps always carry ``Z``).
    """
    if isinstance(value, datetime):
        at = value
    elif not value:
        return None
    else:
        try:
            at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
