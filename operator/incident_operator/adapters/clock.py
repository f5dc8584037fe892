"""The system clock (a settable one for tests: ``tests/fakes/ports/clock.py``)."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0)
