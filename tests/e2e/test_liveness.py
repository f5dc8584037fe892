"""Liveness means something: kopf's /healthz fails when the SLO loop stops completing cycles.

Operators against the local control plane. The SLO loop, each with one SLO to evaluate:

- Prometheus unreachable (connection refused): every cycle completes with the SLO marked
  PrometheusUnavailable — not wedged, /healthz stays 200 and /metrics carries the time of the
  last completed cycle;
- Prometheus a black hole (the connection is accepted, nothing ever answers) with a query
  timeout of an hour: the first cycle never completes, and /healthz turns 500 after the
  allowed intervals, so Kubernetes would restart the operator.

kopf's watch streams, through a TCP proxy between the operator and kube-apiserver:

- idle (nothing changes) for longer than the watch bound: /healthz stays 200, because the API
  streams are renewed every --watch-timeout (each answered request counts);
- the proxy frozen (every connection stays open and silent, new ones are accepted and never
  answered): /healthz turns 500 within the bound derived from --watch-timeout, and 200 again
  once the proxy forwards again.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from kubernetes import client

from incident_operator.domain.liveness import watch_timeouts
from tests.chaos.proxy import Proxy
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


def metrics_text(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def last_success(port: int) -> float | None:
    for line in metrics_text(port).splitlines():
        if line.startswith("incident_operator_slo_cycle_last_success_timestamp_seconds "):
            return float(line.split()[1])
    return None


def watch_activity(port: int) -> dict[str, float]:
    """resource -> Unix time its cluster-wide watch stream last delivered something."""
    prefix = "incident_operator_watch_last_activity_timestamp_seconds{"
    found = {}
    for line in metrics_text(port).splitlines():
        if line.startswith(prefix):
            labels, value = line[len(prefix) :].rsplit("} ", 1)
            resource = labels.split('resource="', 1)[1].split('"', 1)[0]
            found[resource] = float(value)
    return found


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


WATCH_TIMEOUT = 10  # s: requests renewed every 10 s; kopf replaces one silent for 20 s
WATCH_BOUND = watch_timeouts(timedelta(seconds=WATCH_TIMEOUT)).stall.total_seconds()  # 60 s
PROBE_CACHE = 10  # s: kopf answers /healthz from results up to 10 s old


def proxied(cluster: Cluster, tmp_path: Path) -> tuple[Cluster, Proxy]:
    """The cluster, reached through a proxy that can freeze (kubeconfig copied, server moved)."""
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    entry = next(c for c in config["clusters"] if c["name"] == context["context"]["cluster"])
    server = urlsplit(entry["cluster"]["server"])
    proxy = Proxy(server.port or 443, upstream_host=server.hostname or "127.0.0.1")
    entry["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
    path = tmp_path / "kubeconfig-proxied"
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return Cluster(kubeconfig=str(path), existing=cluster.existing), proxy


def test_idle_watches_stay_live_and_a_frozen_api_server_connection_fails_liveness(
    crds: Cluster, tmp_path: Path
) -> None:
    through_proxy, proxy = proxied(crds, tmp_path)
    http = free_port()
    try:
        with running_operator(
            through_proxy,
            tmp_path / "operator.log",
            f"--watch-timeout={WATCH_TIMEOUT}s",
            f"--http-listen=127.0.0.1:{http}",
        ) as operator:

            def delivering() -> dict[str, float] | None:
                found = watch_activity(http)
                return found if found.get("incidents.sre.dev") else None

            started = wait_for("the Incident watch stream to deliver", delivering, timeout=60)

            # Idle: nothing changes for well past the bound, yet every stream keeps delivering
            # (renewed requests are answered) and liveness holds.
            idle_until = time.monotonic() + WATCH_BOUND + PROBE_CACHE + 20
            while time.monotonic() < idle_until:
                assert health(operator.port) == 200, operator.log.read_text()[-3000:]
                time.sleep(3)
            idle = watch_activity(http)
            for resource, first in started.items():
                assert idle.get(resource, 0) > first, f"{resource}: nothing delivered while idle"
            assert "watch streams delivering" in health_body(operator.port)

            # Frozen: open connections go silent, new ones are never answered.
            proxy.set("freeze")
            frozen_at = time.monotonic()
            wait_for(
                "liveness to fail on the stalled watches",
                lambda: health(operator.port) == 500,
                timeout=WATCH_BOUND + PROBE_CACHE + 45,
            )
            print(
                f"/healthz 500 after {time.monotonic() - frozen_at:.1f} s of frozen streams "
                f"(bound {WATCH_BOUND:g} s + probe cache {PROBE_CACHE} s)"
            )
            assert "watch stream" in operator.log.read_text()

            # Forwarding again: kopf's reconnects succeed and the probe recovers by itself.
            proxy.set("pass")
            wait_for("liveness to recover", lambda: health(operator.port) == 200, timeout=120)
    finally:
        proxy.stop()


def health_body(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        return str(response.read().decode())
