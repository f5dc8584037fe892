"""SLO burn -> exactly one Incident, on a real control plane with a real Prometheus.

The demo service has served 100 req/s for four days and fails every request since ten
minutes ago; history is backfilled, the present is scraped live every second.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from kubernetes import client

from tests.cluster.controlplane import free_port
from tests.kube import Cluster, as_dict, create_custom, get_custom, wait_for
from tests.operator_process import OperatorProcess
from tests.services.burn import Burn


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
    return list(as_dict(found)["items"])


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
    burning: Burn,
    tmp_path: Path,
) -> None:
    prometheus, outage_start = burning.prometheus, burning.outage_start
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
