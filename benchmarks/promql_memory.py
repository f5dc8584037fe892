"""Resident memory of checking N raw SLOs' PromQL and parsing back their batches, no cluster.

Runs what the operator's PromQL thread does in the first cycle (``PrometheusMetrics._route``
and ``_verify`` for every window's batch) and prints the process' RSS after each step, then
after an explicit ``malloc_trim`` (what is left is live, not just kept by the C heap).

    .venv/bin/python -m benchmarks.promql_memory [--slos 1000]
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from incident_operator.adapters.native_memory import release_free_memory
from incident_operator.adapters.prometheus import PrometheusMetrics
from incident_operator.domain.sli import RatioSli, Sli, batch_plan

WINDOWS = [
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(days=1),
    timedelta(days=3),
    timedelta(days=30),
]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slos", type=int, default=1000)
    args = parser.parse_args()
    slis: dict[str, Sli] = {
        f"ns/slo-{i:04d}": RatioSli(
            errors=f'rate(http_requests_total{{job="svc-{i:04d}",code="500"}}[{{{{window}}}}])',
            total=f'rate(http_requests_total{{job="svc-{i:04d}"}}[{{{{window}}}}])',
        )
        for i in range(args.slos)
    }
    metrics = PrometheusMetrics("http://127.0.0.1:9")
    thread = ThreadPoolExecutor(max_workers=1)  # one thread, as in the operator
    report: dict[str, object] = {"slos": args.slos, "rss_start_mb": rss_mb()}
    started = time.monotonic()
    _, recorded, batched, _ = thread.submit(metrics._route, slis, WINDOWS, set()).result()
    report["route_seconds"] = round(time.monotonic() - started, 2)
    report["rss_after_route_mb"] = rss_mb()
    plans = [batch_plan(batched[w], recorded, w) for w in WINDOWS]
    report["batch_characters"] = [len(p.query) for p in plans]
    started = time.monotonic()
    assert all(thread.submit(metrics._verify, p).result() for p in plans)
    report["verify_seconds"] = round(time.monotonic() - started, 2)
    report["rss_after_verify_mb"] = rss_mb()
    release_free_memory()
    report["rss_after_malloc_trim_mb"] = rss_mb()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
