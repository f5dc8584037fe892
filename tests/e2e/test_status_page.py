"""The running operator's status page follows incidents on the real control plane.

A Severity with ``statusPage.impact: major`` and two Incidents of one service, one of them
private: ``/api/v2/summary.json`` shows the public incident with indicator major and the
service as partial_outage, and nothing of the private one. Resolving the public incident
turns the component operational — the private incident, still open on the same service,
must not hold it down — and ``incidents.json`` lists the incident as resolved.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.cluster.controlplane import free_port
from tests.kube import Cluster, create_custom, get_custom, wait_for
from tests.operator_process import running_operator

TITLE = "Acme <Status> Page"


@pytest.fixture
def port(crds: Cluster, tmp_path: Path) -> Iterator[int]:
    port = free_port()
    with running_operator(
        crds,
        tmp_path / "operator.log",
        f"--http-listen=127.0.0.1:{port}",
        f"--status-page-title={TITLE}",
    ):
        yield port


@pytest.fixture
def severity(crds: Cluster, api: client.ApiClient) -> Iterator[str]:
    name = f"sev-status-{uuid.uuid4().hex[:6]}"
    create_custom(
        api,
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Severity",
            "metadata": {"name": name},
            "spec": {
                "level": 2,
                "displayName": "SEV-2 (status page test)",
                "statusPage": {"impact": "major"},
            },
        },
        "",
    )
    yield name
    client.CustomObjectsApi(api).delete_cluster_custom_object(
        "sre.dev", "v1alpha1", "severities", name
    )


def fetch(port: int, path: str) -> tuple[dict[str, str], Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        headers = dict(response.headers)
        body = response.read().decode()
    return headers, (json.loads(body) if path.endswith(".json") else body)


def summary(port: int) -> dict[str, Any]:
    _, body = fetch(port, "/api/v2/summary.json")
    result: dict[str, Any] = body
    return result


def components(body: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in body["components"]}


def test_status_page_shows_the_public_incident_until_resolved(
    port: int, api: client.ApiClient, namespace: str, severity: str
) -> None:
    service = f"pay-{uuid.uuid4().hex[:6]}"
    for name, title, private in (
        ("payments-failing", "Payments are failing", False),
        ("card-data-exposure", "Card data exposure", True),
    ):
        create_custom(
            api,
            {
                "apiVersion": "sre.dev/v1alpha1",
                "kind": "Incident",
                "metadata": {"name": name},
                "spec": {
                    "title": title,
                    "service": service,
                    "severityRef": severity,
                    "private": private,
                },
            },
            namespace,
        )
    public_id = f"{namespace}/payments-failing"

    def listed() -> dict[str, Any] | None:
        got = summary(port)
        return got if public_id in {i["id"] for i in got["incidents"]} else None

    shown = wait_for("the public incident on summary.json", listed)
    assert shown["page"]["name"] == TITLE
    assert shown["status"] == {"indicator": "major", "description": "Partial System Outage"}
    assert components(shown)[service] == "partial_outage"
    (incident,) = [i for i in shown["incidents"] if i["id"].startswith(f"{namespace}/")]
    assert incident["id"] == public_id
    assert incident["name"] == "Payments are failing"
    assert (incident["status"], incident["impact"]) == ("investigating", "major")
    assert [c["name"] for c in incident["components"]] == [service]
    headers, page = fetch(port, "/status")
    assert headers["Cache-Control"] == "max-age=30"
    assert "Payments are failing" in page
    assert "Acme &lt;Status&gt; Page" in page
    for where in (json.dumps(shown), json.dumps(fetch(port, "/api/v2/incidents.json")[1]), page):
        assert "card-data-exposure" not in where
        assert "Card data exposure" not in where

    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        "sre.dev",
        "v1alpha1",
        namespace,
        "incidents",
        "payments-failing",
        {"spec": {"state": "resolved", "roles": {"commander": "alice"}}},
    )
    wait_for(
        "phase resolved",
        lambda: (
            (get_custom(api, "Incident", "payments-failing", namespace).get("status") or {}).get(
                "phase"
            )
            == "resolved"
        ),
    )
    after = wait_for(
        "the component operational again",
        lambda: got if components(got := summary(port)).get(service) == "operational" else None,
    )
    assert public_id not in {i["id"] for i in after["incidents"]}, "summary lists open ones"
    assert after["status"]["indicator"] == "none", "the private incident does not count"
    history = fetch(port, "/api/v2/incidents.json")[1]["incidents"]
    (resolved,) = [i for i in history if i["id"] == public_id]
    assert resolved["status"] == "resolved"
    assert resolved["resolved_at"] is not None
    assert resolved["incident_updates"][0]["status"] == "resolved"
    assert resolved["incident_updates"][0]["body"] == "This incident has been resolved."
