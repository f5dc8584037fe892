"""Prometheus -> Alertmanager -> the operator's webhook -> exactly one Incident, all real.

A Prometheus rule fires at once (``vector(1)``, evaluated every second) with severity critical
and the test's namespace as labels; a real Alertmanager groups it and delivers it to
``POST /alertmanager`` with a bearer token, redelivering every two seconds. The incident must
exist once, with the mapped severity and one timeline entry for the alert however many
deliveries arrived; when the rule stops firing, the resolution is recorded and the incident
stays open. Twice: Debian's Prometheus 2.42 with its Alertmanager 0.25, and the current
Prometheus 3 with the current Alertmanager, both built from their Go modules (``matrix``).
"""

from __future__ import annotations

import json
import secrets
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from incident_operator.domain.alertmanager import group_id
from incident_operator.services.incidents import requested_state
from tests.cluster.controlplane import free_port
from tests.kube import Cluster, as_dict, get_custom, wait_for
from tests.operator_process import OperatorProcess
from tests.services.alertmanager import AlertmanagerServer, Release, webhook_config
from tests.services.prometheus import Backend, PrometheusServer, openmetrics

WEBHOOK_SENT = "alertmanager_notifications_total"
WEBHOOK_FAILED = "alertmanager_notifications_failed_total"


def rules(namespace: str, expr: str) -> str:
    return f"""groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: AlwaysFiring
        expr: {expr}
        labels:
          severity: critical
          namespace: {namespace}
          service: checkout
        annotations:
          summary: Checkout is on fire
"""


def post(url: str, body: Any, token: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def incidents(api: client.ApiClient, namespace: str) -> list[dict[str, Any]]:
    found = client.CustomObjectsApi(api).list_namespaced_custom_object(
        "sre.dev", "v1alpha1", namespace, "incidents"
    )
    return list(as_dict(found)["items"])


def forged_payload(namespace: str) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="Forged"}',
        "status": "firing",
        "receiver": "attacker",
        "groupLabels": {"namespace": namespace},
        "commonLabels": {"alertname": "Forged", "namespace": namespace},
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Forged", "namespace": namespace},
                "annotations": {},
                "startsAt": "2026-11-27T14:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "0123456789abcdef",
            }
        ],
    }


@pytest.fixture
def token(tmp_path: Path) -> tuple[str, Path]:
    value = secrets.token_urlsafe(32)
    path = tmp_path / "alertmanager-token"
    path.write_text(value + "\n")  # as a Secret created --from-file usually is
    return value, path


@pytest.fixture
def operator(
    crds: Cluster, tmp_path: Path, token: tuple[str, Path]
) -> Iterator[tuple[OperatorProcess, str]]:
    http_port = free_port()
    process = OperatorProcess(
        crds,
        tmp_path / "operator.log",
        f"--http-listen=127.0.0.1:{http_port}",
        f"--alertmanager-token-file={token[1]}",
        "--alertmanager-severity-map=critical=sev-1,warning=sev-3,*=sev-4",
    )
    webhook = f"http://127.0.0.1:{http_port}/alertmanager"
    try:
        wait_for("the operator to be live", lambda: process.healthz() == 200, timeout=60)
        yield process, webhook
    finally:
        code = process.stop()
        log = process.log.read_text(errors="replace")
        sys.stdout.write(log[-5000:])
        assert code == 0, f"operator exited with {code}"
        assert token[0] not in log, "the token was logged"


@pytest.mark.parametrize(
    ("backend", "release"),
    [
        pytest.param(Backend.PROMETHEUS_2, Release.DEBIAN, id="debian"),
        pytest.param(Backend.PROMETHEUS_3, Release.CURRENT, id="current", marks=pytest.mark.matrix),
    ],
)
def test_alertmanager_delivers_one_incident_and_its_resolution(
    operator: tuple[OperatorProcess, str],
    api: client.ApiClient,
    namespace: str,
    token: tuple[str, Path],
    tmp_path: Path,
    backend: Backend,
    release: Release,
) -> None:
    _, webhook = operator

    # Nobody but the Alertmanager holding the token gets an incident created.
    assert post(webhook, forged_payload(namespace), f"{token[0]}x") == (
        401,
        {"error": "invalid bearer token"},
    )
    assert post(webhook, forged_payload(namespace), None) == (
        401,
        {"error": "missing bearer token: send 'Authorization: Bearer <token>'"},
    )
    assert incidents(api, namespace) == []

    (tmp_path / "am").mkdir()
    (tmp_path / "prom").mkdir()
    alertmanager = AlertmanagerServer(
        tmp_path / "am", webhook_config(webhook, token[0]), release=release
    )
    rule_file = tmp_path / "prom" / "rules.yml"
    rule_file.write_text(rules(namespace, "vector(1)"))
    prometheus = None
    try:
        prometheus = PrometheusServer(
            tmp_path / "prom",
            openmetrics([], [], 0),
            backend=backend,
            evaluation_interval="1s",
            # Alerts evaluated before the Alertmanager is discovered are dropped; resend soon.
            extra_args=["--rules.alert.resend-delay=1s"],
            extra_config=(
                f"rule_files: ['{rule_file}']\n"
                "alerting:\n  alertmanagers:\n"
                f"    - static_configs: [{{targets: ['127.0.0.1:{alertmanager.port}']}}]\n"
            ),
        )
        (incident,) = wait_for(
            "the incident Alertmanager's notification creates",
            lambda: incidents(api, namespace),
            timeout=60,
        )
        sent_when_created = alertmanager.metric(WEBHOOK_SENT, integration="webhook")
        # repeat_interval 2s: wait for at least two redeliveries of the unchanged group.
        wait_for(
            "two more webhook deliveries",
            lambda: (
                alertmanager.metric(WEBHOOK_SENT, integration="webhook") >= sent_when_created + 2
            ),
            timeout=30,
        )
        assert alertmanager.metric(WEBHOOK_FAILED, integration="webhook") == 0

        (incident,) = incidents(api, namespace)
        spec = incident["spec"]
        assert spec["source"]["type"] == "alertmanager"
        assert 'alertname="AlwaysFiring"' in spec["source"]["ref"]
        assert incident["metadata"]["name"] == f"am-{group_id(spec['source']['ref'])}"
        assert spec["severityRef"] == "sev-1"
        assert spec["service"] == "checkout"
        assert spec["state"] == "triage"
        assert spec["title"] == "AlwaysFiring: Checkout is on fire"
        timeline = incident["status"]["timeline"]
        keys = [e["key"] for e in timeline]
        assert len(keys) == len(set(keys))
        (firing,) = [e for e in timeline if e["type"] == "alert-firing"]
        assert firing["message"].startswith("Alert AlwaysFiring firing: Checkout is on fire")
        assert [e["type"] for e in timeline].count("declared") == 1
        assert incident["status"]["timestamps"]["detected"] == spec["source"]["detectedAt"]

        # The rule stops firing: Prometheus resolves the alert, Alertmanager says so.
        rule_file.write_text(rules(namespace, "vector(1) == 2"))
        urllib.request.urlopen(
            urllib.request.Request(f"{prometheus.url}/-/reload", method="POST"), timeout=10
        ).close()
        name = incident["metadata"]["name"]

        def resolution_said() -> dict[str, Any] | None:
            i = get_custom(api, "Incident", name, namespace)
            if i and any(e["type"] == "alerts-resolved" for e in i["status"]["timeline"]):
                return i
            return None

        resolved = wait_for("the resolution in the timeline", resolution_said, timeout=60)
        types = [e["type"] for e in resolved["status"]["timeline"]]
        assert types.count("alert-resolved") == 1
        assert types.count("alerts-resolved") == 1
        assert requested_state(resolved) == "triage"  # not configured to auto-resolve
        assert [i["metadata"]["name"] for i in incidents(api, namespace)] == [name]
    finally:
        if prometheus is not None:
            prometheus.stop()
        alertmanager.stop()
        sys.stdout.write(alertmanager.process.log_path.read_text(errors="replace")[-3000:])
