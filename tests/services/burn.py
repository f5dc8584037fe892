"""A service burning its error budget: backfilled history in a real Prometheus, scraped live.

The end-to-end modules that need an SLO to burn share this: an :class:`Exporter` serves the
trace from now on and Prometheus scrapes it every second, on top of the history
backfilled up to (about) now. ``tests/e2e/conftest.py`` holds the common ``burning`` fixture.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

from incident_operator.domain.simulation import Trace
from tests.cluster.controlplane import free_port
from tests.services import prometheus as backfill
from tests.services.exporter import Exporter
from tests.services.prometheus import PrometheusServer, Scenario, openmetrics

DAY = 86400
OUTAGE_AGO = 600
Rows = tuple[tuple[float, float, float], ...]
OUTAGE: Rows = ((4 * DAY, 100.0, 0.0), (OUTAGE_AGO, 100.0, 100.0))
"""Four days of 100 req/s, every request failing for the last ten minutes."""


class Burn(NamedTuple):
    prometheus: PrometheusServer
    exporter: Exporter
    trace: Trace

    @property
    def outage_start(self) -> int:
        """When the last row (the outage) began, epoch seconds."""
        return int(self.trace.rows[-1].time)


@contextmanager
def burning_prometheus(
    directory: Path,
    job: str = "demo",
    rows: Rows = OUTAGE,
    *,
    step: int | None = None,
    continuous: bool = False,
) -> Iterator[Burn]:
    """Prometheus on ``directory`` with ``job``'s history (``rows``, see Scenario), scraping
    the exporter that serves the same trace from now on.

    ``step``: backfill resolution in seconds (default prometheus.STEP). ``continuous``: the
    backfill reaches up to now and carries the exporter's instance label, so the scraped
    series continues the backfilled one and rate() loses nothing at the seam; otherwise the
    backfill stops a minute ago and the scraped series is a separate one.
    """
    end = int(time.time())
    port = free_port()
    scenario = Scenario(job, rows, instance=f"127.0.0.1:{port}")
    trace = scenario.trace(end)
    exporter = Exporter(trace, port)
    with pytest.MonkeyPatch.context() as patch:
        if step is not None:
            patch.setattr(backfill, "STEP", step)
        data = openmetrics([scenario], [], end if continuous else end - 60)
    if continuous:
        data = data.replace(f'job="{job}",', f'job="{job}",instance="127.0.0.1:{port}",')
    server = PrometheusServer(
        directory, data, scrape={job: f"127.0.0.1:{port}"}, scrape_interval="1s"
    )
    try:
        yield Burn(server, exporter, trace)
    finally:
        server.stop()
        exporter.stop()
