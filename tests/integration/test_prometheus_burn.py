"""Burn-rate evaluation against a real Prometheus holding designed history.

Each scenario is a job whose traffic we wrote ourselves; Prometheus' answers are compared
with the exact integrals of the same trace (the simulator's), and the policy's verdicts
with what the Workbook table says should happen. Every backend the operator may be pointed
at answers: Prometheus 2.42, Prometheus 3 and VictoriaMetrics (``backend_params``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from incident_operator.adapters.prometheus import PrometheusMetrics
from incident_operator.domain.burn import Measurement, evaluate
from incident_operator.domain.sli import Provider, RatioSli, RecordedSli, Sli
from incident_operator.domain.slo import WORKBOOK_PAIRS, Objective
from incident_operator.errors import MetricsUnavailable
from tests.cluster.controlplane import free_port
from tests.services.prometheus import (
    STEP,
    Backend,
    Gauge,
    MetricsServer,
    Scenario,
    VictoriaMetricsServer,
    backend_params,
    openmetrics,
    start_backend,
)

H, D = 3600, 86400
SLO = Objective(target=0.999, window=timedelta(days=30))
# 0.01 req/s sees 2592 requests in 3 days: below 5000 in every window.
GUARDED = Objective(target=0.999, window=timedelta(days=30), min_requests=5000)
SCENARIOS = (
    # 0.05 % errors for 31 days: half the 30d budget spent.
    Scenario("steady", ((31 * D, 100, 0.05),)),
    Scenario("outage", ((4 * D, 100, 0), (10 * 60, 100, 100))),
    Scenario("ten-percent", ((4 * D, 50, 0), (2 * H, 50, 5))),
    Scenario("two-percent", ((4 * D, 200, 0), (6 * H, 200, 4))),
    Scenario("slow-burn", ((4 * D, 100, 0), (3 * D, 100, 0.15))),
    # 5 good minutes, then 100 % errors for 5 minutes, six times: the last 5 minutes are bad.
    Scenario(
        "flapping",
        ((4 * D, 100, 0), *[(H - i * 300, 100, 100 if i % 2 == 1 else 0) for i in range(12)]),
    ),
    Scenario("low-traffic", ((4 * D, 0.01, 0), (H, 0.01, 0.01))),
    Scenario("recovered", ((4 * D, 100, 0), (2 * H, 100, 100), (H, 100, 0))),
)
RECORDED = (
    Gauge("slo:sli_error:ratio_rate5m", {"sloth_id": "checkout-sloth"}, 0.5, H),
    Gauge("slo:sli_error:ratio_rate1h", {"sloth_id": "checkout-sloth"}, 0.02, H),
    Gauge("http_requests:burnrate5m", {"slo": "checkout-pyrra"}, 0.03, H),
)


def ratio_sli(job: str) -> RatioSli:
    return RatioSli(
        errors=f'rate(http_requests_total{{job="{job}",code="500"}}[{{{{window}}}}])',
        total=f'rate(http_requests_total{{job="{job}"}}[{{{{window}}}}])',
    )


SLIS: dict[str, Sli] = {
    **{f"shop/{s.job}": ratio_sli(s.job) for s in SCENARIOS},
    "shop/absent": ratio_sli("absent"),
    "shop/sloth": RecordedSli(Provider.SLOTH, "checkout-sloth"),
    "shop/pyrra": RecordedSli(Provider.PYRRA, "checkout-pyrra"),
}


@pytest.fixture(scope="module")
def end() -> int:
    return int(time.time()) // 60 * 60


@pytest.fixture(scope="module", params=backend_params())
def prometheus(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, end: int
) -> Iterator[MetricsServer]:
    backend: Backend = request.param
    server = start_backend(
        backend, tmp_path_factory.mktemp(backend.value), openmetrics(SCENARIOS, RECORDED, end)
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def measured(prometheus: MetricsServer, end: int) -> dict[str, dict[timedelta, Measurement | None]]:
    source = PrometheusMetrics(prometheus.url)
    at = datetime.fromtimestamp(end, UTC)
    result = asyncio.run(source.measure(SLIS, SLO.windows, at))
    assert source.queries == len(SLO.windows), "one query per window, whatever the SLO count"
    assert result.problems == {}
    return result.values


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.job)
def test_prometheus_ratios_match_the_exact_integrals(
    scenario: Scenario,
    measured: dict[str, dict[timedelta, Measurement | None]],
    end: int,
    prometheus: MetricsServer,
) -> None:
    trace = scenario.trace(end)
    history = end - trace.rows[0].time
    for window in SLO.windows:
        seconds = window.total_seconds()
        exact = trace.measure(end - seconds, end)
        got = measured[f"shop/{scenario.job}"][window]
        if exact is None:
            assert got is None
            continue
        assert got is not None, f"{scenario.job} {window}: no data"
        # rate() extrapolates at the window edges (Prometheus) and a window may hold one
        # backfilled sample less (Prometheus 3's ranges are left-open): within 2 %, or within
        # one step's share of a short window.
        rel = max(0.02, 1.5 * STEP / seconds)
        assert got.error_ratio == pytest.approx(exact.error_ratio, rel=rel, abs=1e-5), window
        events = exact.events
        if isinstance(prometheus, VictoriaMetricsServer) and seconds > history:
            # MetricsQL's rate() is the increase over the samples the window holds, per second
            # they span, not per second of the window: rate x window overstates the requests
            # of a series younger than the window (docs/slo-interop.md).
            assert events is not None  # a trace counts the events of every window it measures
            events = events * seconds / history
        assert got.events == pytest.approx(events, rel=0.05), window


@pytest.mark.parametrize(
    ("slo", "objective", "firing", "severity"),
    [
        ("steady", SLO, set(), None),
        ("outage", SLO, {0, 1, 2, 3}, "sev-2"),
        ("ten-percent", SLO, {0, 1, 2, 3}, "sev-2"),
        ("two-percent", SLO, {0, 1, 2, 3}, "sev-2"),
        ("slow-burn", SLO, {3}, "sev-4"),
        ("flapping", SLO, {0, 1, 2, 3}, "sev-2"),
        ("low-traffic", SLO, {0, 1, 2, 3}, "sev-2"),
        ("low-traffic", GUARDED, set(), None),
        # An hour after a one-hour outage the 5m and 30m windows are clean, so the paging
        # pairs have reset; the 2h and 6h short windows still hold the outage (reset time).
        ("recovered", SLO, {2, 3}, "sev-3"),
        ("sloth", SLO, {0}, "sev-2"),
    ],
)
def test_policy_verdicts_on_real_measurements(
    measured: dict[str, dict[timedelta, Measurement | None]],
    slo: str,
    objective: Objective,
    firing: set[int],
    severity: str | None,
) -> None:
    evaluation = evaluate(objective, measured[f"shop/{slo}"])
    assert {WORKBOOK_PAIRS.index(p) for p in evaluation.firing} == firing
    assert (evaluation.decisive.severity if evaluation.decisive else None) == severity


def test_budget_remaining_over_thirty_days(
    measured: dict[str, dict[timedelta, Measurement | None]],
) -> None:
    evaluation = evaluate(SLO, measured["shop/steady"])
    assert evaluation.budget_remaining == pytest.approx(0.5, abs=0.01)


def test_low_traffic_is_reported_as_such(
    measured: dict[str, dict[timedelta, Measurement | None]],
) -> None:
    evaluation = evaluate(GUARDED, measured["shop/low-traffic"])
    assert evaluation.pairs[0].reason == "low-traffic"


def test_absent_metric_is_no_data_never_a_burn(
    measured: dict[str, dict[timedelta, Measurement | None]],
) -> None:
    assert all(v is None for v in measured["shop/absent"].values())
    evaluation = evaluate(SLO, measured["shop/absent"])
    assert evaluation.no_data
    assert evaluation.firing == ()


def error_ratio(measurement: Measurement | None) -> float:
    assert measurement is not None, "no data"
    return measurement.error_ratio


def test_recorded_sloth_and_pyrra_series_are_read(
    measured: dict[str, dict[timedelta, Measurement | None]],
) -> None:
    five = timedelta(minutes=5)
    assert error_ratio(measured["shop/sloth"][five]) == 0.5
    assert error_ratio(measured["shop/sloth"][timedelta(hours=1)]) == 0.02
    assert measured["shop/sloth"][timedelta(hours=6)] is None, "not recorded: no data"
    assert error_ratio(measured["shop/pyrra"][five]) == 0.03


def test_unreachable_prometheus_raises_unavailable(end: int) -> None:
    source = PrometheusMetrics(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(MetricsUnavailable, match="Prometheus query failed"):
        asyncio.run(source.measure(SLIS, SLO.windows, datetime.fromtimestamp(end, UTC)))


def test_broken_promql_is_its_own_slos_problem_only(
    prometheus: MetricsServer, end: int, measured: dict[str, dict[timedelta, Measurement | None]]
) -> None:
    source = PrometheusMetrics(prometheus.url)
    broken = {
        **SLIS,
        "other/broken": RatioSli(errors="rate(x[{{window}}]", total="rate(y[{{window}}])"),
    }
    result = asyncio.run(source.measure(broken, SLO.windows, datetime.fromtimestamp(end, UTC)))
    assert result.problems["other/broken"].reason == "InvalidIndicator"
    assert "unclosed left parenthesis" in result.problems["other/broken"].message
    assert result.values == measured, "everyone else measured exactly as without it"
    assert source.queries == len(SLO.windows), "refused before any query"


# Parses, and fails only when Prometheus runs it: many series on each side of on().
FAILS_AT_RUN_TIME = RatioSli(
    errors="rate(http_requests_total[{{window}}]) / on() rate(http_requests_total[{{window}}])",
    total='rate(http_requests_total{job="steady"}[{{window}}])',
)


def test_a_query_prometheus_refuses_fails_only_its_slo_and_is_then_queried_alone(
    prometheus: MetricsServer, end: int, measured: dict[str, dict[timedelta, Measurement | None]]
) -> None:
    source = PrometheusMetrics(prometheus.url)
    at = datetime.fromtimestamp(end, UTC)
    slis = {**SLIS, "other/runtime": FAILS_AT_RUN_TIME}
    first = asyncio.run(source.measure(slis, SLO.windows, at))
    assert first.problems["other/runtime"].reason == "QueryFailed"
    assert "422" in first.problems["other/runtime"].message
    assert first.values == measured
    bisecting = source.queries
    assert bisecting > len(SLO.windows), "the refused batch was split to find the culprit"
    second = asyncio.run(source.measure(slis, SLO.windows, at))
    assert second.values == measured
    assert second.problems.keys() == {"other/runtime"}
    # Next cycle: the batch without it, plus its own query, per window.
    assert source.queries - bisecting == 2 * len(SLO.windows)


def test_text_the_parser_cannot_print_back_is_measured_in_its_own_query(
    prometheus: MetricsServer, end: int, measured: dict[str, dict[timedelta, Measurement | None]]
) -> None:
    source = PrometheusMetrics(prometheus.url)
    at = datetime.fromtimestamp(end, UTC)
    quoted = RatioSli(
        errors='rate(http_requests_total{job="steady",code="500",x!="q\\"b"}[{{window}}])',
        total='rate(http_requests_total{job="steady",x!="q\\"b"}[{{window}}])',
    )
    result = asyncio.run(source.measure({**SLIS, "other/quoted": quoted}, SLO.windows, at))
    assert result.problems == {}
    assert result.values["other/quoted"] == measured["shop/steady"]
    assert {k: v for k, v in result.values.items() if k != "other/quoted"} == measured
    assert source.queries == len(SLO.windows) * 3, "one batch + errors + total per window"


def test_openmetrics_backfill_file_is_well_formed(tmp_path: Path, end: int) -> None:
    text = openmetrics(SCENARIOS[:1], RECORDED[:1], end)
    assert text.endswith("# EOF\n")
    assert text.count("# TYPE") == 2


def test_uncounted_slos_measure_the_same_ratio_without_events(
    prometheus: MetricsServer, end: int, measured: dict[str, dict[timedelta, Measurement | None]]
) -> None:
    source = PrometheusMetrics(prometheus.url)
    at = datetime.fromtimestamp(end, UTC)
    ratio_only = asyncio.run(source.measure(SLIS, SLO.windows, at, counted=set())).values
    for slo in ("shop/ten-percent", "shop/outage", "shop/steady"):
        for window in SLO.windows:
            full, lean = measured[slo][window], ratio_only[slo][window]
            assert lean is not None
            assert full is not None
            assert lean.error_ratio == pytest.approx(full.error_ratio, rel=1e-9)
            assert lean.events is None
    assert all(v is None for v in ratio_only["shop/absent"].values())
