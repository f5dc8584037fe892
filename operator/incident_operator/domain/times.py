"""Instants as the operator writes them into objects."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(at: datetime) -> str:
    """UTC with a ``Z`` suffix: the same text for the same instant, whatever offset it came in."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")
