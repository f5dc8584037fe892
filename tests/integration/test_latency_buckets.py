"""Latency SLIs see their bucket whichever way the ``le`` label spells the boundary.

Go's client writes a whole-number boundary as ``le="1"``, Python's as ``le="1.0"``; Prometheus 2
stores what it scraped and Prometheus 3 normalises every classic histogram to ``le="1.0"``.
Both spellings are backfilled into Prometheus 2.42, and scraped by Prometheus 2.42 and by
Prometheus 3 (built from its Go module into the version-keyed cache, hack/build-metrics.sh);
the operator's own query must measure the same 10 % slow requests for each (before, ``le="1"``
found no bucket at all on ``1.0`` data: no data, and no alert ever).
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from incident_operator.adapters.prometheus import PrometheusMetrics
from incident_operator.domain.sli import LatencySli, Sli
from tests.cluster.controlplane import free_port
from tests.services.binaries import PROMETHEUS_3, cached_binary
from tests.services.process import ServiceProcess
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


# --- scraped, on Prometheus 2 and 3 ---------------------------------------------------------
# Backfilled blocks keep labels as written; Prometheus 3 normalises ``le`` when it scrapes.
# So an exporter serves both spellings and each server scrapes it for real.


def prometheus_binary(version: str) -> str:
    if version == "2":
        return shutil.which("prometheus") or "prometheus"
    return cached_binary("prometheus", version, "prometheus")


class Exporter(ThreadingHTTPServer):
    """A histogram per spelling: RATE requests/s since start, SLOW of them slower than 1 s."""

    def __init__(self) -> None:
        self.started = time.time()
        super().__init__(("127.0.0.1", 0), _ExporterHandler)

    def exposition(self) -> bytes:
        n = RATE * (time.time() - self.started)
        lines = [f"# TYPE {METRIC} histogram"]
        for exporter, le in (("go", "1"), ("python", "1.0")):
            labels = f'exporter="{exporter}"'
            lines += [
                f'{METRIC}_bucket{{{labels},le="{le}"}} {n * (1 - SLOW):.3f}',
                f'{METRIC}_bucket{{{labels},le="+Inf"}} {n:.3f}',
                f"{METRIC}_sum{{{labels}}} {n * 0.5:.3f}",
                f"{METRIC}_count{{{labels}}} {n:.3f}",
            ]
        return ("\n".join(lines) + "\n").encode()


class _ExporterHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        assert isinstance(self.server, Exporter)
        body = self.server.exposition()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def exporter() -> Iterator[Exporter]:
    server = Exporter()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("version", ["2", PROMETHEUS_3], ids=["prometheus-2", "prometheus-3"])
def test_scraped_whole_number_boundaries_are_measured_on_prometheus_2_and_3(
    tmp_path: Path, exporter: Exporter, version: str
) -> None:
    binary = prometheus_binary(version)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    target = f"127.0.0.1:{exporter.server_address[1]}"
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s}\n"
        f"scrape_configs:\n  - job_name: latency\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    process = ServiceProcess(
        f"prometheus {version}",
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        tmp_path / "prometheus.log",
        f"{url}/-/ready",
    )
    try:
        window = timedelta(seconds=10)
        slis: dict[str, Sli] = {
            f"shop/{e}": LatencySli(METRIC, 1, f'exporter="{e}"') for e in ("go", "python")
        }
        source = PrometheusMetrics(url)
        deadline = time.monotonic() + 90
        while True:
            result = asyncio.run(source.measure(slis, (window,), datetime.now(UTC)))
            values = {slo: result.values[slo][window] for slo in slis}
            if all(v is not None for v in values.values()) or time.monotonic() > deadline:
                break
            time.sleep(1)
        stored = httpx.get(
            f"{url}/api/v1/label/le/values", params={"match[]": f"{METRIC}_bucket"}
        ).json()["data"]
        # What makes the case: Prometheus 3 rewrote "1" to "1.0", Prometheus 2 kept both.
        assert set(stored) == ({"1.0", "+Inf"} if version != "2" else {"1", "1.0", "+Inf"})
        assert result.problems == {}
        for slo, got in values.items():
            assert got is not None, f"{slo}: no data on Prometheus {version}"
            assert got.error_ratio == pytest.approx(SLOW, rel=0.02), slo
    finally:
        process.stop()
