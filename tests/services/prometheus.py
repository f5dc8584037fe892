"""A real Prometheus-compatible backend for tests, its history backfilled.

Scenarios are request traces (the simulator's piecewise-constant rates); their integrals are
written as counters in OpenMetrics. Prometheus (Debian's 2.42, or 3.x built from its module)
gets them as TSDB blocks made by `promtool tsdb create-blocks-from openmetrics` and is started
on that storage; VictoriaMetrics single-node takes the same samples on its import API
(`/api/v1/import/prometheus`). Instant queries at the end of the data then see exactly the
windows we designed.
"""

from __future__ import annotations

import enum
import shutil
import subprocess
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from incident_operator.domain.simulation import Trace, TraceRow
from tests.cluster.controlplane import free_port
from tests.services.binaries import PROMETHEUS_3, VICTORIA_METRICS, cached_binary
from tests.services.process import ServiceProcess

STEP = 60  # seconds between backfilled samples


@dataclass(frozen=True)
class Scenario:
    """A job's traffic: ``rows`` are (seconds before the end, total/s, errors/s)."""

    job: str
    rows: tuple[tuple[float, float, float], ...]
    instance: str | None = None
    """Set to the exporter's host:port when live scrapes continue the backfilled series."""

    @property
    def labels(self) -> str:
        instance = f',instance="{self.instance}"' if self.instance else ""
        return f'job="{self.job}"{instance}'

    def trace(self, end: int) -> Trace:
        return Trace(tuple(TraceRow(end - ago, total, errors) for ago, total, errors in self.rows))


@dataclass(frozen=True)
class Gauge:
    """A recorded series (e.g. Sloth's) holding ``value`` for the last ``span`` seconds."""

    name: str
    labels: dict[str, str]
    value: float
    span: int


def openmetrics(
    scenarios: Iterable[Scenario],
    gauges: Iterable[Gauge],
    end: int,
    *,
    counter: str = "http_requests_total",
) -> str:
    """The scenarios as ``counter{job,code="200"|"500"}`` (a counter family when the name
    ends in ``_total``, else an untyped one such as a histogram's ``_count``), and gauges."""
    family = counter.removesuffix("_total")
    kind = "counter" if family != counter else "unknown"
    lines = [f"# TYPE {family} {kind}"]
    for scenario in scenarios:
        trace = scenario.trace(end)
        start = int(trace.rows[0].time)
        for t in range(start, end + 1, STEP):
            total, errors = trace.integral(t)
            lines.append(f'{counter}{{job="{scenario.job}",code="200"}} {total - errors:.6f} {t}')
            lines.append(f'{counter}{{job="{scenario.job}",code="500"}} {errors:.6f} {t}')
    by_name: dict[str, list[Gauge]] = {}
    for gauge in gauges:
        by_name.setdefault(gauge.name, []).append(gauge)
    for name, group in by_name.items():
        lines.append(f"# TYPE {name} gauge")
        for gauge in group:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(gauge.labels.items()))
            for t in range(end - gauge.span, end + 1, STEP):
                lines.append(f"{name}{{{labels}}} {gauge.value} {t}")
    # OpenMetrics wants each family's samples together and in time order per series.
    return "\n".join(lines) + "\n# EOF\n"


class Backend(enum.StrEnum):
    """Which server answers the operator's PromQL."""

    PROMETHEUS_2 = "prometheus-2"
    """Debian's Prometheus 2.42 (`make deps`)."""
    PROMETHEUS_3 = "prometheus-3"
    """Prometheus 3 built from its Go module (hack/build-metrics.sh)."""
    VICTORIA_METRICS = "victoria-metrics"
    """VictoriaMetrics single-node built from its Go module: MetricsQL, not Prometheus."""


DEFAULT_BACKEND = Backend.PROMETHEUS_2


def backend_params() -> list[Any]:
    """Every backend as a pytest parameter; all but the default one are marked ``matrix``
    (`make test` runs them with the rest, `make test-matrix` runs only them)."""
    return [
        pytest.param(b, id=b.value, marks=() if b is DEFAULT_BACKEND else pytest.mark.matrix)
        for b in Backend
    ]


class MetricsServer(Protocol):
    url: str

    def stop(self) -> None: ...


def start_backend(backend: Backend, workdir: Path, data: str) -> MetricsServer:
    """``backend`` serving the OpenMetrics ``data`` (see ``openmetrics``), query API only."""
    if backend is Backend.VICTORIA_METRICS:
        return VictoriaMetricsServer(workdir, data)
    return PrometheusServer(workdir, data, backend=backend)


class PrometheusServer:
    def __init__(
        self,
        workdir: Path,
        data: str,
        *,
        backend: Backend = DEFAULT_BACKEND,
        scrape: dict[str, str] | None = None,
        scrape_interval: str = "15s",
        evaluation_interval: str = "15s",
        extra_config: str = "",
        port: int | None = None,
        extra_args: Sequence[str] = (),
        blocks: Sequence[Path] = (),
    ) -> None:
        """``scrape`` maps job names to host:port targets scraped every ``scrape_interval``;
        ``extra_args`` are further command-line flags; ``blocks`` are further TSDB blocks
        (e.g. from `promtool tsdb create-blocks-from rules`) served with the backfill."""
        if backend is Backend.PROMETHEUS_3:
            prometheus = cached_binary("prometheus", PROMETHEUS_3, "prometheus")
            promtool = cached_binary("prometheus", PROMETHEUS_3, "promtool")
        elif backend is Backend.PROMETHEUS_2:
            prometheus = shutil.which("prometheus") or "prometheus"
            promtool = shutil.which("promtool") or "promtool"
        else:
            raise ValueError(f"{backend} is not Prometheus: use start_backend")
        self.backend = backend
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        storage = workdir / "tsdb"
        source = workdir / "backfill.om"
        source.write_text(data)
        subprocess.run(
            [
                promtool,
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                # One block per ~6 weeks instead of one per 2 h: 0.8 s instead of a minute.
                "--max-block-duration=1000h",
                str(source),
                str(storage),
            ],
            check=True,
            capture_output=True,
        )
        for block in blocks:
            shutil.copytree(block, storage / block.name)
        config = workdir / "prometheus.yml"
        jobs = "".join(
            f"  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
            for job, target in (scrape or {}).items()
        )
        config.write_text(
            f"global:\n  scrape_interval: {scrape_interval}\n"
            f"  evaluation_interval: {evaluation_interval}\n"
            + extra_config
            + (f"scrape_configs:\n{jobs}" if jobs else "")
        )
        self.process = ServiceProcess(
            "prometheus",
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={storage}",
                "--storage.tsdb.retention.time=90d",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                *extra_args,
            ],
            workdir / "prometheus.log",
            f"{self.url}/-/ready",
        )

    def stop(self) -> None:
        self.process.stop()


def prometheus_text(data: str) -> str:
    """OpenMetrics samples (timestamps in seconds) as Prometheus' text format (milliseconds),
    which VictoriaMetrics' ``/api/v1/import/prometheus`` takes; comments are dropped."""
    lines = []
    for line in data.splitlines():
        if not line or line.startswith("#"):
            continue
        sample, _, timestamp = line.rpartition(" ")
        lines.append(f"{sample} {round(float(timestamp) * 1000)}")
    return "\n".join(lines) + "\n"


class VictoriaMetricsServer:
    """VictoriaMetrics single-node on loopback holding ``data`` (OpenMetrics, as for
    PrometheusServer), imported through its Prometheus text import API."""

    def __init__(self, workdir: Path, data: str, *, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = ServiceProcess(
            "victoria-metrics",
            [
                cached_binary("victoria-metrics", VICTORIA_METRICS, "victoria-metrics"),
                f"-storageDataPath={workdir / 'data'}",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=1y",  # the default, 1 month, would drop the 31-day traces
                # Backfilled data: answer at the query's own time (not 30 s before it) and
                # never from a result cache filled before the import.
                "-search.latencyOffset=0s",
                "-search.disableCache",
            ],
            workdir / "victoria-metrics.log",
            f"{self.url}/health",
        )
        try:
            self._post("/api/v1/import/prometheus", prometheus_text(data).encode())
            self._post("/internal/force_flush", b"")  # imported samples become searchable
        except BaseException:
            self.stop()
            raise

    def _post(self, path: str, body: bytes) -> None:
        request = urllib.request.Request(f"{self.url}{path}", body, method="POST")
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()

    def stop(self) -> None:
        self.process.stop()
