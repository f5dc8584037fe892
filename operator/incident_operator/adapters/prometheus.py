"""MetricsSource on Prometheus' HTTP API via prometheus-api-client, off the event loop.

One instant query per window carries every SLO (see ``domain.sli.batch_plan``), so a cycle
costs len(windows) queries whatever the number of SLOs.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException

from incident_operator.domain.burn import Measurement
from incident_operator.domain.sli import BatchPlan, Part, Sli, batch_plan, ratio_expression
from incident_operator.errors import MetricsUnavailable

from .ports import WindowMeasurements


def measurements_from(
    plan: BatchPlan, results: Sequence[Mapping[str, Any]], window: timedelta
) -> dict[str, Measurement | None]:
    """Turn one window's answer into per-SLO measurements."""
    series = [(r.get("metric", {}), float(r["value"][1])) for r in results]
    return {slo: _measurement(values, window) for slo, values in plan.decode(series).items()}


def _measurement(values: Mapping[Part, float], window: timedelta) -> Measurement | None:
    if Part.RATIO in values:
        ratio = values[Part.RATIO]
        return None if math.isnan(ratio) else Measurement(ratio)
    errors, total = values.get(Part.ERRORS), values.get(Part.TOTAL)
    if errors is None or total is None or math.isnan(errors) or math.isnan(total) or total <= 0:
        return None  # no series, or no requests in the window: no data, not "no errors"
    return Measurement(max(0.0, errors) / total, events=total * window.total_seconds())


class PrometheusMetrics:
    def __init__(self, url: str, *, timeout: float = 10.0, headers: dict[str, str] | None = None):
        self._client = PrometheusConnect(url=url, headers=headers, timeout=timeout, method="POST")
        self._queries = 0

    @property
    def queries(self) -> int:
        return self._queries

    async def _query(self, query: str, at: datetime) -> list[dict[str, Any]]:
        self._queries += 1
        try:
            result: list[dict[str, Any]] = await asyncio.to_thread(
                self._client.custom_query, query, params={"time": f"{at.timestamp():.3f}"}
            )
        except (requests.RequestException, PrometheusApiClientException, ValueError) as exc:
            raise MetricsUnavailable(f"Prometheus query failed: {_short(exc)}") from exc
        return result

    async def measure(
        self,
        slis: Mapping[str, Sli],
        windows: Sequence[timedelta],
        at: datetime,
        *,
        counted: Collection[str] | None = None,
    ) -> dict[str, WindowMeasurements]:
        if not slis:
            return {}
        plans = [batch_plan(slis, window, counted) for window in windows]
        # Wait for every query even when one fails: a query left running after its sibling's
        # error would raise later with nobody listening (and fail the operator's shutdown).
        answers = await asyncio.gather(
            *(self._query(plan.query, at) for plan in plans), return_exceptions=True
        )
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
        by_window = [a for a in answers if not isinstance(a, BaseException)]
        out: dict[str, WindowMeasurements] = {slo: {} for slo in slis}
        for window, plan, results in zip(windows, plans, by_window, strict=True):
            found = measurements_from(plan, results, window)
            for slo in slis:
                out[slo][window] = found.get(slo)
        return out

    async def ratio_series(
        self, sli: Sli, window: timedelta, start: datetime, end: datetime, step: timedelta
    ) -> list[tuple[datetime, float]]:
        self._queries += 1
        try:
            result: list[dict[str, Any]] = await asyncio.to_thread(
                self._client.custom_query_range,
                ratio_expression(sli, window),
                start_time=start,
                end_time=end,
                step=f"{max(1, int(step.total_seconds()))}s",
            )
        except (requests.RequestException, PrometheusApiClientException, ValueError) as exc:
            raise MetricsUnavailable(f"Prometheus range query failed: {_short(exc)}") from exc
        return [
            (datetime.fromtimestamp(float(t), UTC), float(v))
            for series in result[:1]
            for t, v in series.get("values", [])
            if not math.isnan(float(v))
        ]


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "…"
