"""The operator's capabilities on the outside world, one Protocol each.

Every port has a real adapter and an in-memory fake; services receive them by injection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from incident_operator.domain.burn import Measurement
from incident_operator.domain.sli import Sli

WindowMeasurements = dict[timedelta, Measurement | None]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class MetricsSource(Protocol):
    async def measure(
        self, slis: Mapping[str, Sli], windows: Sequence[timedelta], at: datetime
    ) -> dict[str, WindowMeasurements]:
        """Every SLO's measurement for every window at ``at``; None where there is no data.

        Raises MetricsUnavailable when the source cannot answer (as opposed to: no data).
        """
        ...

    @property
    def queries(self) -> int:
        """Queries sent so far (the cost of a cycle must grow with windows, not SLOs)."""
        ...
