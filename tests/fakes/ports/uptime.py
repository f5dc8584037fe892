"""A DailyHistory answering from a table per SLI, counting its calls, failing on demand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from incident_operator.domain.sli import Sli
from incident_operator.domain.uptime import DayMeasure


@dataclass
class FakeDailyHistory:
    days: dict[Sli, dict[date, DayMeasure]] = field(default_factory=dict)
    """What each SLI measured; an SLI not in it has no data."""
    fail: dict[Sli, Exception] = field(default_factory=dict)
    """SLIs whose reading raises (InvalidIndicator, QueryRejected, MetricsUnavailable)."""
    calls: list[tuple[Sli, tuple[date, ...], datetime]] = field(default_factory=list)

    async def daily(self, sli: Sli, days: Sequence[date], now: datetime) -> dict[date, DayMeasure]:
        self.calls.append((sli, tuple(days), now))
        if sli in self.fail:
            raise self.fail[sli]
        return {d: m for d, m in self.days.get(sli, {}).items() if d in days}
