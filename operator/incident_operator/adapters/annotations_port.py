"""Dashboard annotations: one Protocol; Grafana's HTTP API behind it (``grafana.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Annotations(Protocol):
    async def annotate(self, at: datetime, text: str, tags: tuple[str, ...]) -> str:
        """Mark ``at`` with ``text`` and ``tags``; the annotation's id."""
        ...
