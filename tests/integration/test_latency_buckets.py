"""Latency SLIs see their bucket whichever way the ``le`` label spells the boundary.

Go's client writes a whole-number boundary as ``le="1"``, Python's as ``le="1.0"``; Prometheus 2
stores what it scraped and Prometheus 3 normalises every classic histogram to ``le="1.0"``.
Both spellings are written into a real Prometheus here, and the operator's own query must
measure the same 10 % slow requests for each (before, ``le="1"`` found no bucket at all on the
``1.0`` data: no data, and no alert ever).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from incident_operator.adapters.prometheus import PrometheusMetrics
from incident_operator.domain.sli import LatencySli, Sli
from tests.services.prometheus import STEP, PrometheusServer

METRIC = "http_request_duration_seconds"
RATE, SLOW = 100.0, 0.1  # requests per second, share slower than the threshold
SPAN = 2 * 3600
WINDOWS = (timedelta(minutes=5), timedelta(hours=1))
# job -> (threshold, how its exporter spells that bucket boundary)
JOBS = {"go": (1.0, "1"), "python": (1.0, "1.0"), "fraction": (0.25, "0.25")}


def histogram_history(end: int) -> str:
    """Counters of a classic histogram per job; type ``unknown`` keeps the ``le`` text as is."""
    lines = [f"# TYPE {METRIC}_bucket unknown", f"# TYPE {METRIC}_count unknown"]
    bucket, count = [], []
    for job, (_, le) in JOBS.items():
        for t in range(end - SPAN, end + 1, STEP):
            n = RATE * (t - end + SPAN)
            bucket.append(f'{METRIC}_bucket{{job="{job}",le="{le}"}} {n * (1 - SLOW):.3f} {t}')
            bucket.append(f'{METRIC}_bucket{{job="{job}",le="+Inf"}} {n:.3f} {t}')
            count.append(f'{METRIC}_count{{job="{job}"}} {n:.3f} {t}')
    return "\n".join([lines[0], *bucket, lines[1], *count]) + "\n# EOF\n"


@pytest.fixture(scope="module")
def end() -> int:
    return int(time.time()) // 60 * 60


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, end: int) -> Iterator[PrometheusServer]:
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), histogram_history(end))
    yield server
    server.stop()


def test_the_data_really_holds_both_spellings(prometheus: PrometheusServer) -> None:
    """Guard for the test itself: Prometheus did not normalise the backfilled labels."""
    answer = httpx.get(
        f"{prometheus.url}/api/v1/label/le/values", params={"match[]": f"{METRIC}_bucket"}
    ).json()
    assert {"1", "1.0", "0.25"} <= set(answer["data"])


@pytest.mark.parametrize("job", sorted(JOBS))
def test_latency_sli_measures_every_spelling_of_the_boundary(
    prometheus: PrometheusServer, end: int, job: str
) -> None:
    threshold, _ = JOBS[job]
    slis: dict[str, Sli] = {f"shop/{job}": LatencySli(METRIC, threshold, f'job="{job}"')}
    source = PrometheusMetrics(prometheus.url)
    result = asyncio.run(source.measure(slis, WINDOWS, datetime.fromtimestamp(end, UTC)))
    assert result.problems == {}
    for window in WINDOWS:
        got = result.values[f"shop/{job}"][window]
        assert got is not None, f"{job} {window}: no data"
        assert got.error_ratio == pytest.approx(SLOW, rel=1e-3), window
        assert got.events == pytest.approx(RATE * window.total_seconds(), rel=0.05), window
