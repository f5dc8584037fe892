"""Uptime bars from a real Prometheus holding a designed history (tests/services/
uptime_history.py: a bad day at 99.583 %, computed by hand), read by the adapter: each day,
no data before the service existed, today up to now, refused and absent expressions.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from incident_operator.adapters.prometheus_uptime import PrometheusDailyHistory
from incident_operator.domain.sli import Provider, RatioSli, RecordedSli
from incident_operator.domain.uptime import midnight, period
from incident_operator.errors import InvalidIndicator, QueryRejected
from tests.services.prometheus import Backend, Gauge, PrometheusServer, openmetrics
from tests.services.uptime_history import (
    BAD_DAY_AVAILABILITY,
    BAD_DAY_ERRORS,
    DAY_TOTAL,
    bad_day_scenario,
    data_end,
)

SLI = RatioSli(
    errors='rate(http_requests_total{job="checkout",code="500"}[{{window}}])',
    total='rate(http_requests_total{job="checkout"}[{{window}}])',
)


def backends() -> list[object]:
    return [
        pytest.param(Backend.PROMETHEUS_2, id="prometheus-2"),
        pytest.param(Backend.PROMETHEUS_3, id="prometheus-3", marks=pytest.mark.matrix),
    ]


@pytest.fixture(scope="module")
def end() -> int:
    return data_end()


@pytest.fixture(scope="module", params=backends())
def prometheus(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, end: int
) -> Iterator[PrometheusServer]:
    backend: Backend = request.param
    server = PrometheusServer(
        tmp_path_factory.mktemp(backend.value),
        openmetrics([bad_day_scenario(end)], [], end),
        backend=backend,
    )
    yield server
    server.stop()


async def test_each_day_as_computed_by_hand(prometheus: PrometheusServer, end: int) -> None:
    now = datetime.fromtimestamp(end, UTC)
    days = period(now, 8)
    history = PrometheusDailyHistory(prometheus.url)
    measured = await history.daily(SLI, days, now)
    first, bad, last = days[2], days[5], days[7]
    assert sorted(measured) == list(days[2:])  # nothing before the service existed
    assert measured[bad].ratio == pytest.approx(BAD_DAY_ERRORS / DAY_TOTAL, rel=1e-3)
    assert 1 - measured[bad].ratio == pytest.approx(BAD_DAY_AVAILABILITY, abs=1e-5)
    assert measured[bad].events == pytest.approx(DAY_TOTAL, rel=1e-3)
    assert measured[first].events == pytest.approx(DAY_TOTAL / 2, rel=1e-3)
    for day in (first, days[3], days[4], days[6], last):
        assert measured[day].ratio == 0.0
    so_far = (now - midnight(last)).total_seconds()
    assert measured[last].events == pytest.approx(100 * so_far, rel=2e-2)
    assert history.queries == 4  # two range queries for the full days, two for today


async def test_refused_or_absent_expressions_get_no_figures(
    prometheus: PrometheusServer, end: int
) -> None:
    now = datetime.fromtimestamp(end, UTC)
    history = PrometheusDailyHistory(prometheus.url)
    with pytest.raises(InvalidIndicator):  # refused by the parser, never sent
        await history.daily(RatioSli("rate(x[{{window}}]", "y"), period(now, 3), now)
    assert history.queries == 0
    many_to_many = "rate(http_requests_total[{{window}}]) / on(job) http_requests_total"
    with pytest.raises(QueryRejected):  # refused by Prometheus when it runs it
        await history.daily(
            RatioSli(many_to_many, "rate(http_requests_total[{{window}}])"), period(now, 3), now
        )
    absent = RatioSli(errors="rate(nothing[{{window}}])", total="rate(nothing[{{window}}])")
    assert await history.daily(absent, period(now, 3), now) == {}
    no_errors = RatioSli(
        errors='rate(http_requests_total{code="404"}[{{window}}])',
        total='rate(http_requests_total{job="checkout"}[{{window}}])',
    )
    # No error series at all is no data, as in burn-rate evaluation, never 100 %.
    assert await history.daily(no_errors, period(now, 3), now) == {}


async def test_a_sloth_recorded_sli_is_the_days_mean_ratio(
    tmp_path_factory: pytest.TempPathFactory, end: int
) -> None:
    """Sloth's 5m ratio held at 2 % for the last three days: each full day reads 2 %
    (no counts), the days before have no data."""
    gauge = Gauge("slo:sli_error:ratio_rate5m", {"sloth_id": "shop-checkout"}, 0.02, 3 * 86400)
    server = PrometheusServer(tmp_path_factory.mktemp("sloth"), openmetrics([], [gauge], end))
    try:
        now = datetime.fromtimestamp(end, UTC)
        days = period(now, 5)
        history = PrometheusDailyHistory(server.url)
        sli = RecordedSli(Provider.SLOTH, "shop-checkout")
        measured = await history.daily(sli, days, now)
    finally:
        server.stop()
    assert days[0] not in measured
    for day in days[2:]:
        assert measured[day].ratio == pytest.approx(0.02)
        assert measured[day].events is None
    assert history.queries == 2
