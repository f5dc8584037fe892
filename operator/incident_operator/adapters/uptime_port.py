"""Daily SLI history for the status page's uptime bars: one Protocol; Prometheus behind it
(``prometheus_uptime.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from incident_operator.domain.sli import Sli
from incident_operator.domain.uptime import DayMeasure


class DailyHistory(Protocol):
    async def daily(self, sli: Sli, days: Sequence[date], now: datetime) -> dict[date, DayMeasure]:
        """``sli`` measured per UTC day of ``days`` (oldest first); today up to ``now``. A day
        without data is missing from the answer. Raises InvalidIndicator when the SLI's PromQL
        is refused before it is sent, QueryRejected when Prometheus refuses it, and
        MetricsUnavailable when Prometheus cannot answer."""
        ...
