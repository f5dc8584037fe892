"""Liveness means something: kopf's /healthz fails when the SLO loop stops completing cycles.

Two operators against the local control plane, each with one SLO to evaluate:

- Prometheus unreachable (connection refused): every cycle completes with the SLO marked
  PrometheusUnavailable — not wedged, /healthz stays 200 and /metrics carries the time of the
  last completed cycle;
- Prometheus a black hole (the connection is accepted, nothing ever answers) with a query
  timeout of an hour: the first cycle never completes, and /healthz turns 500 after the
  allowed intervals, so Kubernetes would restart the operator.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from kubernetes import client

from tests.cluster.controlplane import free_port
from tests.kube import Cluster, create_custom, wait_for
from tests.operator_process import running_operator

INTERVAL = "2s"
MISSES = "10"  # 20 s without a completed cycle


def slo(api: client.ApiClient, namespace: str) -> None:
    create_custom(
        api,
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "ServiceLevelObjective",
            "metadata": {"name": f"live-{uuid.uuid4().hex[:6]}"},
            "spec": {
                "service": "demo",
                "target": 99.9,
                "indicator": {
                    "ratio": {
                        "errors": 'rate(http_requests_total{code="500"}[{{window}}])',
                        "total": "rate(http_requests_total[{{window}}])",
                    }
                },
            },
        },
        namespace,
    )


def last_success(port: int) -> float | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith("incident_operator_slo_cycle_last_success_timestamp_seconds "):
            return float(line.split()[1])
    return None


def test_prometheus_unreachable_is_not_wedged(
    crds: Cluster, api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    slo(api, namespace)
    refused, http = free_port(), free_port()
    with running_operator(
        crds,
        tmp_path / "operator.log",
        f"--prometheus-url=http://127.0.0.1:{refused}",
        f"--evaluation-interval={INTERVAL}",
        f"--liveness-missed-cycles={MISSES}",
        f"--http-listen=127.0.0.1:{http}",
    ) as operator:
        first = wait_for("a completed cycle", lambda: last_success(http), timeout=60)
        deadline = time.monotonic() + 45  # past 20 s of allowed misses and kopf's 10 s cache
        while time.monotonic() < deadline:
            assert health(operator.port) == 200
            time.sleep(3)
        assert (last_success(http) or 0) > first, "cycles keep completing"


def test_a_wedged_slo_loop_fails_liveness(
    crds: Cluster, api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    slo(api, namespace)
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)  # accepts connections in the kernel, never answers
    http = free_port()
    try:
        with running_operator(
            crds,
            tmp_path / "operator.log",
            f"--prometheus-url=http://127.0.0.1:{hole.getsockname()[1]}",
            "--prometheus-timeout=1h",
            f"--evaluation-interval={INTERVAL}",
            f"--liveness-missed-cycles={MISSES}",
            f"--http-listen=127.0.0.1:{http}",
        ) as operator:
            try:
                wait_for("liveness to fail", lambda: health(operator.port) == 500, timeout=120)
                assert last_success(http) == 0, "no cycle ever completed (0: never)"
            finally:
                hole.close()  # let the stuck query fail so the operator can stop cleanly
    finally:
        hole.close()


def health(port: int) -> int:
    """The liveness endpoint's status code, 5xx included (0: no answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0
