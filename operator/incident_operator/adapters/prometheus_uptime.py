"""DailyHistory on Prometheus: an SLO's own SLI, one value per UTC day.

For a ratio or latency SLI the SLI's own rate expressions are rendered with
``{{window}}`` = ``1d`` and read with one range query each (errors, total) from the end of
the first day to today's 00:00 UTC, step one day: the value at 00:00 of day N+1 is the
per-second rate over day N, so rate x 86,400 is that day's count (Prometheus' ``increase``,
extrapolated to the day's edges as it always is). Today, the part from 00:00 UTC to now, is
one instant query per part with the window as long as that part.

SLIs recorded by Sloth or Pyrra hold ratios over fixed windows, not counts: a day is the
mean of the shortest recorded ratio over the day (a subquery, ``avg_over_time``), a
time-weighted figure (docs/status-page.md says so).

Isolation: every SLO is measured in queries of its own, nothing else in them, after its
PromQL passed the same parser checks as for burn-rate evaluation (``adapters.promql``:
one bounded expression, no reserved label); an SLO whose expression returns more than one
series gets no figures rather than a guess.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from incident_operator.domain.durations import format_duration
from incident_operator.domain.sli import Part, Provider, RecordedSli, Sli, ratio_expression
from incident_operator.domain.slo import pyrra_recorded_windows
from incident_operator.domain.uptime import DAY, DayMeasure, midnight
from incident_operator.errors import QueryRejected

from . import promql
from .prometheus_http import PrometheusHttp

SECONDS_PER_DAY = int(DAY.total_seconds())
SLOTH_SHORTEST = timedelta(minutes=5)
"""Sloth's shortest recorded window (``slo:sli_error:ratio_rate5m``)."""
RATIO_STEP = "5m"
"""Resolution of the subquery averaging a recorded ratio over a day."""
MIN_TODAY = timedelta(minutes=1)
"""Today is measured once this much of it has passed (a rate needs two samples)."""


def recorded_ratio(sli: RecordedSli, window: timedelta) -> str:
    """The mean of the SLI's shortest recorded error ratio over ``window``."""
    if sli.provider is Provider.PYRRA and sli.slo_window is not None:
        shortest = min(pyrra_recorded_windows(sli.slo_window))
    else:
        shortest = SLOTH_SHORTEST
    inner = ratio_expression(sli, shortest)
    return f"avg_over_time(({inner})[{format_duration(window)}:{RATIO_STEP}])"


class PrometheusDailyHistory:
    def __init__(self, url: str, *, timeout: float = 10.0, headers: dict[str, str] | None = None):
        self._client = PrometheusHttp(url, timeout=timeout, headers=headers)
        self.queries = 0

    async def daily(self, sli: Sli, days: Sequence[date], now: datetime) -> dict[date, DayMeasure]:
        if not days:
            return {}
        now = now.astimezone(UTC).replace(microsecond=0)
        last = now.date()
        full = [d for d in days if d < last]
        out: dict[date, DayMeasure] = {}
        if full:
            # The value at 00:00 of day N + 1 is day N's.
            start, end = midnight(full[0]) + DAY, midnight(full[-1]) + DAY
            out.update(await self._measures(sli, DAY, lambda q: self._range(q, start, end)))
        so_far = now - midnight(last)
        if last in days and so_far >= MIN_TODAY:
            out.update(await self._measures(sli, so_far, lambda q: self._instant(q, now, last)))
        return {d: m for d, m in out.items() if d in days}

    async def _measures(
        self, sli: Sli, window: timedelta, values: Callable[[str], Awaitable[dict[date, float]]]
    ) -> dict[date, DayMeasure]:
        """The SLI over ``window`` per day, each expression read through ``values``."""
        if isinstance(sli, RecordedSli):
            ratios = await values(recorded_ratio(sli, window))
            return {d: DayMeasure(r) for d, r in ratios.items()}
        parts = promql.check(sli, window, True).parts
        errors, total = await asyncio.gather(values(parts[Part.ERRORS]), values(parts[Part.TOTAL]))
        seconds = window.total_seconds()
        out: dict[date, DayMeasure] = {}
        for day, rate in total.items():
            bad = errors.get(day)
            # No error series is no data, as in burn-rate evaluation (docs/honest-signals.md).
            if rate > 0 and bad is not None:
                out[day] = DayMeasure(max(0.0, bad) / rate, events=rate * seconds)
        return out

    async def _range(self, query: str, start: datetime, end: datetime) -> dict[date, float]:
        """Day -> value of a range query stepping one day from ``start`` to ``end`` (00:00s);
        the value at 00:00 belongs to the day before."""
        self.queries += 1
        result = await asyncio.to_thread(
            self._client.query_range, query, start, end, SECONDS_PER_DAY
        )
        series = _one(result, query)
        out: dict[date, float] = {}
        for at, value in series.get("values", []) if series else []:
            number = float(value)
            if not math.isnan(number):
                out[(datetime.fromtimestamp(float(at), UTC) - DAY).date()] = number
        return out

    async def _instant(self, query: str, at: datetime, day: date) -> dict[date, float]:
        self.queries += 1
        series = _one(await asyncio.to_thread(self._client.query, query, at), query)
        if not series:
            return {}
        number = float(series["value"][1])
        return {} if math.isnan(number) else {day: number}


def _one(result: Sequence[Mapping[str, Any]], query: str) -> Mapping[str, Any] | None:
    """The single series an SLI expression must aggregate to, None for none."""
    if len(result) > 1:
        raise QueryRejected(
            f"the expression returned {len(result)} series, an indicator must aggregate to "
            f"one: {query[:200]}"
        )
    return result[0] if result else None
