"""A ``recorded`` Pyrra SLI read from the series Pyrra's own rules record, in real Prometheus.

Pyrra's rules for its test objective (``tests/data/pyrra``, from Pyrra's repository) are loaded
into Prometheus 2.42 over backfilled traffic we designed; the operator then measures a
``recorded: {provider: pyrra}`` SLO of 28d and of 30d. Each must alert on Pyrra's own window
pairs (1h4m/5m ... for 30d), find a series for every window it needs, read the SLO window
from ``pyrra_availability``, and agree with the exact ratios of the traffic.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from incident_operator.adapters.prometheus import PrometheusMetrics
from incident_operator.api.v1alpha1.slo import ServiceLevelObjective
from incident_operator.domain.durations import format_duration
from incident_operator.domain.sli import Sli
from tests.services.prometheus import PrometheusServer, Scenario, openmetrics

DATA = Path(__file__).parents[1] / "data" / "pyrra"
H, D = 3600, 86400
JOB = "thanos-receive-default"
# 0.05 % errors for 31 days, 2 % for the last 6 hours, 20 % for the last 20 minutes: every
# window of either set sees a different ratio.
TRAFFIC = Scenario(JOB, ((31 * D, 100, 0.05), (6 * H, 100, 2), (20 * 60, 100, 20)))
PERIODS = ("28d", "30d")


def slo(period: str) -> ServiceLevelObjective:
    return ServiceLevelObjective.model_validate(
        yaml.safe_load(
            f"""
            metadata: {{name: http-errors-{period}, namespace: shop}}
            spec:
              service: thanos
              target: 99
              window: {period}
              indicator: {{recorded: {{provider: pyrra, name: monitoring-http-errors}}}}
            """
        )
    )


@pytest.fixture(scope="module", params=PERIODS)
def period(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def end(period: str) -> int:
    """The last whole minute, taken when each period's Prometheus is built."""
    del period
    return int(time.time()) // 60 * 60


@pytest.fixture(scope="module")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, end: int, period: str
) -> Iterator[PrometheusServer]:
    workdir = tmp_path_factory.mktemp(f"prometheus-pyrra-{period}")
    rules = yaml.safe_load((DATA / f"monitoring-http-errors-{period}.yaml").read_text())
    for group in rules["groups"]:
        group["interval"] = "1s"  # Pyrra's 30s / 2m30s: only to have the series at once
    (workdir / "pyrra.yaml").write_text(yaml.safe_dump(rules))
    server = PrometheusServer(
        workdir,
        openmetrics((TRAFFIC,), (), end),
        extra_config=f"rule_files: ['{workdir / 'pyrra.yaml'}']\n",
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        answer = httpx.get(f"{server.url}/api/v1/query", params={"query": "pyrra_availability"})
        if answer.json()["data"]["result"]:
            break
        time.sleep(1)
    else:
        server.stop()
        pytest.fail("Pyrra's rules recorded nothing in two minutes")
    time.sleep(2)  # one more round, so every group has run after the generic one
    yield server
    server.stop()


def test_pyrra_slo_alerts_on_pyrras_own_window_pairs(period: str) -> None:
    pairs = [(p.long_text, p.short_text, p.factor) for p in slo(period).spec.to_domain().pairs]
    assert (
        pairs
        == {
            "28d": [("1h", "5m", 14), ("6h", "30m", 7), ("1d", "2h", 2), ("4d", "6h", 1)],
            "30d": [
                ("1h4m", "5m", 14),
                ("6h26m", "32m", 7),
                ("1d1h43m", "2h9m", 2),
                ("4d6h51m", "6h26m", 1),
            ],
        }[period]
    )


def test_every_window_reads_pyrras_series_and_matches_the_traffic(
    prometheus: PrometheusServer, period: str, end: int
) -> None:
    model = slo(period)
    objective = model.spec.to_domain()
    slis: dict[str, Sli] = {"shop/pyrra": model.spec.sli()}
    now = time.time()
    result = asyncio.run(
        PrometheusMetrics(prometheus.url).measure(
            slis, objective.windows, datetime.fromtimestamp(now, UTC)
        )
    )
    assert result.problems == {}
    # The rules last ran about ``now``, over windows ending then; the data ends at ``end``
    # (the last whole minute, a minute or two earlier), so a window holds traffic from
    # ``now - window`` to ``end`` only: on the 32m window two minutes weigh 6 %.
    trace = TRAFFIC.trace(end)
    for window in objective.windows:
        got = result.values["shop/pyrra"][window]
        assert got is not None, f"{format_duration(window)}: no Pyrra series read"
        exact = trace.measure(now - window.total_seconds(), end)
        assert exact is not None
        assert got.error_ratio == pytest.approx(exact.error_ratio, rel=0.05), format_duration(
            window
        )
    slo_window = result.values["shop/pyrra"][objective.window]
    assert slo_window is not None
    # The SLO window is pyrra_availability's complement: 31 days of 0.05 % plus the burn.
    assert 0.0005 < slo_window.error_ratio < 0.002
