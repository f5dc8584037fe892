"""Postmortem impact against a real Prometheus holding a designed incident.

The service has served 100 req/s for four days; from 3 h to 2.5 h before the end of the
data 2 of them per second failed. Everything the postmortem says about that half hour is
the exact integral of the trace: 180,000 requests, 3,600 failed, and a 99.9 % SLO whose
budget (0.1 % of the requests in its window up to the resolution) lost 3,600 / 33,660.
Prometheus 2.42, Prometheus 3 and VictoriaMetrics each answer (``backend_params``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from incident_operator.adapters.postmortem_chart import MatplotlibCharts
from incident_operator.adapters.prometheus_impact import PrometheusImpact
from incident_operator.domain.sli import RatioSli
from incident_operator.domain.times import iso
from incident_operator.errors import MetricsUnavailable
from incident_operator.services.postmortems import PostmortemService
from tests.builders.objects import incident, severity
from tests.cluster.controlplane import free_port
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.postmortems import FakePostmortems
from tests.fakes.ports.store import FakeStore
from tests.services.prometheus import (
    Backend,
    MetricsServer,
    Scenario,
    VictoriaMetricsServer,
    backend_params,
    openmetrics,
    start_backend,
)

H, D = 3600, 86400
NS = "shop"
SCENARIO = Scenario("checkout", ((4 * D, 100, 0), (3 * H, 100, 2), (2.5 * H, 100, 0)))
SLI = RatioSli(
    errors='rate(http_requests_total{job="checkout",code="500"}[{{window}}])',
    total='rate(http_requests_total{job="checkout"}[{{window}}])',
)
TOTAL, FAILED = 100 * 1800, 2 * 1800
IN_SLO_WINDOW = 100 * (4 * D - 2.5 * H)  # 30d window at resolution: the 4 days of data before
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def end() -> int:
    return int(time.time()) // 60 * 60


@pytest.fixture(scope="module", params=backend_params())
def prometheus(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, end: int
) -> Iterator[MetricsServer]:
    backend: Backend = request.param
    server = start_backend(
        backend, tmp_path_factory.mktemp(backend.value), openmetrics([SCENARIO], [], end)
    )
    yield server
    server.stop()


def in_slo_window(prometheus: MetricsServer) -> float:
    """The requests the backend counts in the 30d window (rate x 30d). MetricsQL's rate() is
    per second of the data the window holds, so VictoriaMetrics counts 100 req/s for all of
    the 30 days of which the service existed 4 (docs/slo-interop.md)."""
    if isinstance(prometheus, VictoriaMetricsServer):
        return 100 * 30 * D
    return IN_SLO_WINDOW


def window(end: int) -> tuple[datetime, datetime]:
    return (
        datetime.fromtimestamp(end - 3 * H, UTC),
        datetime.fromtimestamp(end - 2.5 * H, UTC),
    )


async def test_counts_over_the_incident_and_slo_windows(
    prometheus: MetricsServer, end: int
) -> None:
    start, stop = window(end)
    impact = PrometheusImpact(prometheus.url)
    during = await impact.counts(SLI, stop - start, stop)
    assert during is not None
    assert during.total == pytest.approx(TOTAL, rel=1e-3)
    assert during.failed == pytest.approx(FAILED, rel=1e-3)
    whole = await impact.counts(SLI, timedelta(days=30), stop)
    assert whole is not None
    assert whole.total == pytest.approx(in_slo_window(prometheus), rel=1e-3)
    assert whole.failed == pytest.approx(
        FAILED * in_slo_window(prometheus) / IN_SLO_WINDOW, rel=1e-3
    )
    assert await impact.mean_ratio(SLI, stop - start, stop) == pytest.approx(0.02, rel=1e-3)
    absent = RatioSli(errors='rate(nothing{x="1"}[{{window}}])', total="rate(nothing[{{window}}])")
    assert await impact.counts(absent, stop - start, stop) is None


async def test_unreachable_prometheus_is_metrics_unavailable() -> None:
    impact = PrometheusImpact(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(MetricsUnavailable):
        await impact.counts(SLI, timedelta(minutes=5), datetime.now(UTC))


async def test_postmortem_figures_and_chart_from_real_prometheus(
    prometheus: MetricsServer, end: int, tmp_path: Path
) -> None:
    start, stop = window(end)
    store = FakeStore()
    store.severities["sev-2"] = severity(postmortem={"required": True})
    store.incidents[(NS, "checkout-burn")] = incident(
        "checkout-burn",
        NS,
        created=None,
        metadata={"uid": "u1", "labels": {"sre.dev/slo": "checkout"}},
        title="checkout burns",
        state="resolved",
        source={"type": "slo", "ref": "checkout"},
        status={
            "phase": "resolved",
            "timestamps": {
                "detected": iso(start),
                "declared": iso(start + timedelta(minutes=3)),
                "acknowledged": iso(start + timedelta(minutes=5)),
                "mitigated": iso(start + timedelta(minutes=20)),
                "resolved": iso(stop),
            },
            "mitigations": [
                {
                    "name": "rollback-checkout",
                    "action": "rollback",
                    "target": "deployment/checkout",
                    "state": "verified",
                    "startedAt": iso(start + timedelta(minutes=20)),
                    "finishedAt": iso(stop),
                }
            ],
        },
    )
    postmortems = FakePostmortems(incidents=store.incidents)
    postmortems.slos[(NS, "checkout")] = {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "checkout", "namespace": NS},
        "spec": {
            "service": "checkout",
            "target": 99.9,
            "indicator": {"ratio": {"errors": SLI.errors, "total": SLI.total}},
        },
    }
    service = PostmortemService(
        store,
        postmortems,
        FakeClock(stop + timedelta(minutes=10)),  # the rollback has settled (5m after it)
        impact=PrometheusImpact(prometheus.url),
        charts=MatplotlibCharts(),
    )
    assert await service.ensure(store.incidents[(NS, "checkout-burn")]) == "checkout-burn"
    status = await service.regenerate(postmortems.postmortems[(NS, "checkout-burn")])
    (impact,) = status["impact"]
    budget = 0.001 * in_slo_window(prometheus)
    assert impact["durationSeconds"] == 1800
    assert impact["totalRequests"] == pytest.approx(TOTAL, rel=1e-3)
    assert impact["failedRequests"] == pytest.approx(FAILED, rel=1e-3)
    assert impact["errorRatio"] == pytest.approx(0.02, rel=1e-3)
    assert impact["errorBudgetConsumed"] == pytest.approx(FAILED / budget, rel=1e-3)  # 10.7 %
    # What is left is the SLO window's own error ratio against the budget: right everywhere.
    remaining = 1 - FAILED / (0.001 * IN_SLO_WINDOW)
    assert impact["errorBudgetRemaining"] == pytest.approx(remaining, rel=1e-3)
    # The rollback's effect: 2 % errors as it started, none one 5m window after it finished.
    assert status["mitigations"][0]["effect"] == (
        "checkout: error ratio 2.00% before, 0.00% 5m after (-100.0%)"
    )
    data, binary = postmortems.config_maps[(NS, "checkout-burn-postmortem")]
    assert f"{FAILED / budget:.2%}" in data["postmortem.md"]
    png = binary["chart.png"]
    assert png.startswith(PNG_MAGIC)
    (tmp_path / "chart.png").write_bytes(png)
    assert len(png) > 10_000  # two panels with lines, not an empty canvas
