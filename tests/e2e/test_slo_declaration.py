"""SLO burn -> exactly one Incident, on a real control plane with a real Prometheus.

The demo service has served 100 req/s for four days and fails every request since ten
minutes ago; history is backfilled, the present is scraped live every second.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from incident_operator.domain.simulation import Trace, TraceRow
from tests.cluster.controlplane import free_port
from tests.kube import Cluster, create_custom, get_custom, wait_for
from tests.operator_process import OperatorProcess
from tests.services.exporter import Exporter
from tests.services.prometheus import PrometheusServer, Scenario, openmetrics

DAY = 86400
OUTAGE_AGO = 600


@pytest.fixture(scope="module")
def burning(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrometheusServer, int]]:
    """Prometheus with a burn in progress; returns it and the outage's start (epoch s)."""
    end = int(time.time())
    port = free_port()
    rows = ((4 * DAY, 100.0, 0.0), (OUTAGE_AGO, 100.0, 100.0))
    scenario = Scenario("demo", rows, instance=f"127.0.0.1:{port}")
    trace = Trace(tuple(TraceRow(end - ago, total, errors) for ago, total, errors in rows))
    exporter = Exporter(trace, port)
    server = PrometheusServer(
        tmp_path_factory.mktemp("prometheus"),
        openmetrics([scenario], [], end - 60),
        scrape={"demo": f"127.0.0.1:{port}"},
        scrape_interval="1s",
    )
    try:
        yield server, end - OUTAGE_AGO
    finally:
        server.stop()
        exporter.stop()


def slo_manifest(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": name},
        "spec": {
            "service": "demo",
            "target": 99.9,
            "indicator": {
                "ratio": {
                    "errors": 'rate(http_requests_total{job="demo",code="500"}[{{window}}])',
                    "total": 'rate(http_requests_total{job="demo"}[{{window}}])',
                }
            },
            "alerting": {"minRequests": 100},
            "declare": {"enabled": True, "labels": {"team": "payments"}},
        },
    }


def incidents(api: client.ApiClient, namespace: str) -> list[dict[str, Any]]:
    found = client.CustomObjectsApi(api).list_namespaced_custom_object(
        "sre.dev", "v1alpha1", namespace, "incidents", label_selector="sre.dev/slo=checkout"
    )
    return list(found["items"])


def declared_events(api: client.ApiClient, namespace: str) -> list[Any]:
    events = client.EventsV1Api(api).list_namespaced_event(namespace).items
    return [e for e in events if e.reason == "IncidentDeclared"]


def start_operator(cluster: Cluster, log: Path, prometheus_url: str) -> OperatorProcess:
    process = OperatorProcess(
        cluster, log, f"--prometheus-url={prometheus_url}", "--evaluation-interval=2s"
    )
    wait_for("the operator to be live", lambda: process.healthz() == 200, timeout=60)
    return process


def test_burn_declares_one_incident_and_a_restart_keeps_it_one(
    crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    burning: tuple[PrometheusServer, int],
    tmp_path: Path,
) -> None:
    prometheus, outage_start = burning
    create_custom(api, slo_manifest("checkout"), namespace)
    log = tmp_path / "operator.log"
    operator = start_operator(crds, log, prometheus.url)
    try:
        (incident,) = wait_for(
            "the declared incident", lambda: incidents(api, namespace), timeout=90
        )
        assert incident["spec"]["severityRef"] == "sev-2"
        assert incident["spec"]["source"]["type"] == "slo"
        assert incident["spec"]["source"]["ref"] == "checkout"
        assert incident["metadata"]["labels"]["team"] == "payments"
        detected = datetime.fromisoformat(
            incident["spec"]["source"]["detectedAt"].replace("Z", "+00:00")
        )
        # When the burn began as Prometheus saw it, not when we noticed (10 minutes later).
        assert abs(detected.timestamp() - outage_start) <= 45, (detected, outage_start)
        name = incident["metadata"]["name"]

        def declaration() -> dict[str, Any] | None:
            # The lifecycle handler writes status too: wait for the declaration's own entries.
            found: dict[str, Any] = get_custom(api, "Incident", name, namespace).get("status") or {}
            return found if "timeline" in found else None

        status = wait_for("the incident's declaration status", declaration)
        assert status["timestamps"]["detected"] == incident["spec"]["source"]["detectedAt"]
        own = [e["type"] for e in status["timeline"] if e.get("source") != "change-correlation"]
        assert own[:2] == ["burn-began", "declared"]
        slo = wait_for(
            "the SLO's status to name the incident",
            lambda: (
                (s := get_custom(api, "ServiceLevelObjective", "checkout", namespace))
                .get("status", {})
                .get("activeIncident")
                and s
            ),
        )
        conditions = {c["type"]: c["status"] for c in slo["status"]["conditions"]}
        assert conditions["Burning"] == "True"
        assert conditions["PrometheusUnavailable"] == "False"
        assert slo["status"]["activeIncident"] == incident["metadata"]["name"]
        assert {f["long"] for f in slo["status"]["firing"]} >= {"1h", "6h"}
    finally:
        assert operator.stop() == 0

    cycles_before = log.read_text().count("SLO cycle")
    restarted = start_operator(crds, log, prometheus.url)
    try:
        wait_for(
            "three evaluation cycles after the restart",
            lambda: log.read_text().count("SLO cycle") >= cycles_before + 3,
            timeout=60,
        )
        assert [i["metadata"]["name"] for i in incidents(api, namespace)] == [
            incident["metadata"]["name"]
        ]
        assert len(declared_events(api, namespace)) == 1
    finally:
        assert restarted.stop() == 0


def test_unreachable_prometheus_declares_nothing_and_says_so(
    crds: Cluster, api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    create_custom(api, slo_manifest("checkout"), namespace)
    operator = start_operator(crds, tmp_path / "operator.log", f"http://127.0.0.1:{free_port()}")
    try:
        slo = wait_for(
            "PrometheusUnavailable on the SLO",
            lambda: next(
                (
                    c
                    for c in get_custom(api, "ServiceLevelObjective", "checkout", namespace)
                    .get("status", {})
                    .get("conditions", [])
                    if c["type"] == "PrometheusUnavailable" and c["status"] == "True"
                ),
                None,
            ),
        )
        assert "Prometheus query failed" in slo["message"]
        assert incidents(api, namespace) == []
    finally:
        assert operator.stop() == 0
