"""A real Prometheus for tests, its history backfilled with promtool.

Scenarios are request traces (the simulator's piecewise-constant rates); their integrals are
written as counters in OpenMetrics, turned into TSDB blocks by
`promtool tsdb create-blocks-from openmetrics`, and served by a Prometheus started on that
storage. Instant queries at the end of the data then see exactly the windows we designed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from incident_operator.domain.simulation import Trace, TraceRow
from tests.cluster.controlplane import free_port
from tests.services.process import ServiceProcess

STEP = 60  # seconds between backfilled samples
REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_3 = "v0.316.0"  # module version of Prometheus 3.16.0, hack/build-prometheus.sh
PROMETHEUS_VERSIONS = ("2", PROMETHEUS_3)
"""Debian's Prometheus 2.42 and Prometheus 3 built from its Go module."""


def prometheus_tool(version: str, tool: str = "prometheus") -> str:
    """``prometheus`` or ``promtool`` of ``version``: "2" is Debian's on PATH, a module
    version (e.g. v0.316.0) is built into the version-keyed cache the first time."""
    if version == "2":
        return shutil.which(tool) or tool
    build = REPO / "hack" / "build-prometheus.sh"
    env = {**os.environ, "PROMETHEUS_VERSION": version}
    # Builds once per machine (~6 min on 2 cores), then only checks the cache.
    subprocess.run([str(build)], check=True, env=env, capture_output=True, timeout=3600)
    directory = subprocess.run(
        [str(build), "print-dir"], check=True, env=env, capture_output=True, text=True
    ).stdout.strip()
    return str(Path(directory) / tool)


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


class PrometheusServer:
    def __init__(
        self,
        workdir: Path,
        data: str,
        *,
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
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        storage = workdir / "tsdb"
        source = workdir / "backfill.om"
        source.write_text(data)
        subprocess.run(
            [
                "promtool",
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
                shutil.which("prometheus") or "prometheus",
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
