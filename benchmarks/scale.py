"""Scale: N SLOs against a real Prometheus, evaluated by the real operator process.

Prints queries per cycle, cycle times (the first writes every status; later ones only what
changed) and the operator's resident memory. Goal from issue 3: queries per cycle
independent of N, cycle <= 2 s, RSS <= 150 MB for N = 1000 on this 2-core machine.

    .venv/bin/python -m benchmarks.scale [--slos 1000] [--cycles 4]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from kubernetes import client

from tests.cluster.signals import interrupt_on_termination
from tests.kube import wait_for
from tests.operator_process import OperatorProcess
from tests.services.prometheus import Gauge, PrometheusServer, Scenario, openmetrics

from .common import cluster_with_crds

SLOTH_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")
CYCLE = re.compile(r"SLO cycle: (\d+) SLOs, (\d+) queries, ([0-9.]+) s \(Prometheus ([0-9.]+) s\)")


def indicator(i: int, mode: str) -> dict[str, Any]:
    if mode == "recorded":
        return {"recorded": {"provider": "sloth", "name": f"svc-{i:04d}"}}
    job = f"svc-{i:04d}"
    return {
        "ratio": {
            "errors": f'rate(http_requests_total{{job="{job}",code="500"}}[{{{{window}}}}])',
            "total": f'rate(http_requests_total{{job="{job}"}}[{{{{window}}}}])',
        }
    }


def slo(i: int, mode: str) -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": f"slo-{i:04d}"},
        "spec": {
            "service": f"svc-{i:04d}",
            "target": 99.9,
            "indicator": indicator(i, mode),
            # Declaration off: this measures evaluation, not incident creation.
            "declare": {"enabled": False},
        },
    }


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory now (VmRSS) or at its highest so far (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    interrupt_on_termination()  # a kill or closed terminal stops what we started
    parser = argparse.ArgumentParser()
    parser.add_argument("--slos", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--interval", default="10s")
    parser.add_argument(
        "--mode",
        choices=["raw", "recorded"],
        default="raw",
        help="raw: every SLO its own PromQL; recorded: Sloth recording-rule series",
    )
    parser.add_argument(
        "--operator-arg",
        action="append",
        default=[],
        help="a further flag for the operator, e.g. --operator-arg=--window-staleness-share=0",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    end = int(time.time()) // 60 * 60
    # Six hours of history per service, a tenth of them with 2 % errors; every SLO distinct.
    if args.mode == "raw":
        scenarios = [
            Scenario(f"svc-{i:04d}", ((6 * 3600, 100, 2.0 if i % 10 == 0 else 0.0),))
            for i in range(args.slos)
        ]
        gauges = []
    else:
        scenarios = []
        gauges = [
            Gauge(
                f"slo:sli_error:ratio_rate{w}",
                {"sloth_id": f"svc-{i:04d}"},
                0.02 if i % 10 == 0 else 0.0,
                3600,
            )
            for i in range(args.slos)
            for w in SLOTH_WINDOWS
        ]
    (work / "prometheus").mkdir()
    prometheus = PrometheusServer(work / "prometheus", openmetrics(scenarios, gauges, end))
    operator = None
    try:
        with cluster_with_crds(work, "scale") as (cluster, api):
            try:
                custom = client.CustomObjectsApi(api)
                started = time.monotonic()
                for i in range(args.slos):
                    custom.create_namespaced_custom_object(
                        "sre.dev", "v1alpha1", "scale", "servicelevelobjectives", slo(i, args.mode)
                    )
                created = time.monotonic() - started
                log = work / "operator.log"
                launched = time.monotonic()
                operator = OperatorProcess(
                    cluster,
                    log,
                    f"--prometheus-url={prometheus.url}",
                    f"--evaluation-interval={args.interval}",
                    *args.operator_arg,
                )
                wait_for("the first cycle", lambda: CYCLE.search(log.read_text()), timeout=600)
                startup = time.monotonic() - launched
                cycles = wait_for(
                    f"{args.cycles} cycles",
                    lambda: (
                        (found := CYCLE.findall(log.read_text()))
                        and len(found) >= args.cycles
                        and found
                    ),
                    timeout=600,
                )
                rss = rss_mb(operator.proc.pid)
                peak = rss_mb(operator.proc.pid, "VmHWM")
                report = {
                    "mode": args.mode,
                    "slos": args.slos,
                    "operator_args": args.operator_arg,
                    "create_seconds": round(created, 1),
                    # process start -> first completed SLO cycle (polled every 0.25 s)
                    "startup_to_first_cycle_seconds": round(startup, 1),
                    "cycles": [
                        {
                            "slos": int(n),
                            "queries": int(q),
                            "seconds": float(s),
                            "prometheus_seconds": float(p),
                        }
                        for n, q, s, p in cycles[: args.cycles]
                    ],
                    "operator_rss_mb": round(rss, 1),
                    "operator_peak_rss_mb": round(peak, 1),
                    "load_average": os.getloadavg(),
                }
                print(json.dumps(report, indent=2))
            finally:
                if operator is not None:
                    operator.stop()
    finally:
        prometheus.stop()


if __name__ == "__main__":
    main()
