"""ImpactSource on Prometheus: request counts and ratios over an incident window.

A window of N seconds ending at ``at`` is the SLI's own rate expressions with
``{{window}}`` = ``Ns``, evaluated at ``at`` and multiplied by N (rate x seconds = increase,
with Prometheus' extrapolation to the window's edges).
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta

from incident_operator.domain.postmortem import Counts
from incident_operator.domain.sli import Part, RecordedSli, Sli, ratio_expression

from .prometheus import PrometheusMetrics
from .prometheus_http import PrometheusHttp

RATIO_STEP = "1m"
"""Resolution of the subquery averaging a recorded ratio over the window."""


class PrometheusImpact:
    def __init__(self, url: str, *, timeout: float = 10.0, headers: dict[str, str] | None = None):
        self._client = PrometheusHttp(url, timeout=timeout, headers=headers)
        self._history = PrometheusMetrics(url, timeout=timeout, headers=headers)

    async def _scalar(self, query: str, at: datetime) -> float | None:
        result = await asyncio.to_thread(self._client.query, query, at)
        if not result:
            return None
        value = float(result[0]["value"][1])
        return None if math.isnan(value) else value

    async def counts(self, sli: Sli, window: timedelta, at: datetime) -> Counts | None:
        if isinstance(sli, RecordedSli):
            return None
        parts = sli.expressions(window)
        failed, total = await asyncio.gather(
            self._scalar(parts[Part.ERRORS], at), self._scalar(parts[Part.TOTAL], at)
        )
        if failed is None or total is None or total <= 0:
            return None
        seconds = window.total_seconds()
        return Counts(total * seconds, max(0.0, failed) * seconds)

    async def mean_ratio(self, sli: Sli, window: timedelta, at: datetime) -> float | None:
        if isinstance(sli, RecordedSli):
            inner = ratio_expression(sli, timedelta(minutes=5))
            seconds = int(window.total_seconds())
            return await self._scalar(f"avg_over_time(({inner})[{seconds}s:{RATIO_STEP}])", at)
        return await self._scalar(ratio_expression(sli, window), at)

    async def ratio_series(
        self, sli: Sli, window: timedelta, start: datetime, end: datetime, step: timedelta
    ) -> list[tuple[datetime, float]]:
        return await self._history.ratio_series(sli, window, start, end, step)
