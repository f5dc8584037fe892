"""The operator process runs an incident's lifecycle on the real control plane.

Acknowledge -> investigating stamps acknowledged; resolving without the Severity's required
roles is refused (condition + Warning Event, the phase stays); filling the role lets it resolve
with every milestone and MTTx figure stamped.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.cluster.controlplane import free_port
from tests.kube import Cluster, create_custom, get_custom, wait_for
from tests.operator_process import OperatorProcess


@pytest.fixture
def operator(crds: Cluster, tmp_path: Path) -> Iterator[OperatorProcess]:
    process = OperatorProcess(
        crds, tmp_path / "operator.log", f"--http-listen=127.0.0.1:{free_port()}"
    )
    try:
        wait_for("the operator's liveness endpoint", lambda: process.healthz() == 200, timeout=60)
        yield process
    finally:
        code = process.stop()
        sys.stdout.write(process.log.read_text(errors="replace")[-5000:])
        assert code == 0, f"operator exited with {code}"


@pytest.fixture
def severity(crds: Cluster, api: client.ApiClient) -> Iterator[str]:
    name = f"sev-lifecycle-{uuid.uuid4().hex[:6]}"
    create_custom(
        api,
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Severity",
            "metadata": {"name": name},
            "spec": {
                "level": 2,
                "displayName": "SEV-2 (lifecycle test)",
                "response": {"requiredRoles": ["commander", "communications"]},
            },
        },
        "",
    )
    yield name
    client.CustomObjectsApi(api).delete_cluster_custom_object(
        "sre.dev", "v1alpha1", "severities", name
    )


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions", [])}


def test_incident_lifecycle_with_a_refused_resolution(
    operator: OperatorProcess,
    api: client.ApiClient,
    namespace: str,
    severity: str,
) -> None:
    custom = client.CustomObjectsApi(api)
    name = "checkout-errors"

    def incident() -> dict[str, Any]:
        return get_custom(api, "Incident", name, namespace)

    def patch(spec: dict[str, Any]) -> None:
        custom.patch_namespaced_custom_object(
            "sre.dev", "v1alpha1", namespace, "incidents", name, {"spec": spec}
        )

    create_custom(
        api,
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Incident",
            "metadata": {"name": name},
            "spec": {
                "title": "Checkout returns 5xx",
                "service": "checkout",
                "severityRef": severity,
                "roles": {"commander": "alice"},
            },
        },
        namespace,
    )
    created = wait_for(
        "phase triage, Ready",
        lambda: (
            i
            if (i := incident()).get("status", {}).get("phase") == "triage"
            and conditions(i).get("Ready", {}).get("status") == "True"
            else None
        ),
    )
    assert created["status"]["timestamps"]["declared"] == created["metadata"]["creationTimestamp"]

    patch({"state": "investigating"})
    acked = wait_for(
        "phase investigating",
        lambda: i if (i := incident())["status"].get("phase") == "investigating" else None,
    )
    assert acked["status"]["timestamps"]["acknowledged"]
    assert acked["status"]["durations"]["timeToAcknowledge"] >= 0
    assert acked["status"]["observedGeneration"] == 2

    patch({"state": "resolved"})
    refused = wait_for(
        "the resolution to be refused",
        lambda: (
            i
            if conditions(i := incident()).get("TransitionRefused", {}).get("status") == "True"
            else None
        ),
    )
    condition = conditions(refused)["TransitionRefused"]
    assert condition["reason"] == "RequiredRolesUnfilled"
    assert "communications" in condition["message"]
    assert conditions(refused)["Ready"]["status"] == "False"
    assert refused["status"]["phase"] == "investigating"
    assert "resolved" not in refused["status"]["timestamps"]
    assert refused["spec"]["state"] == "resolved"

    def warning() -> list[Any]:
        events = client.EventsV1Api(api).list_namespaced_event(namespace).items
        return [
            e
            for e in events
            if e.reason == "TransitionRefused"
            and e.type == "Warning"
            and e.regarding is not None
            and e.regarding.name == name
        ]

    (event,) = wait_for("the TransitionRefused Warning Event", warning)
    assert "communications" in event.note

    patch({"roles": {"communications": "bob"}})
    resolved = wait_for(
        "phase resolved",
        lambda: i if (i := incident())["status"].get("phase") == "resolved" else None,
    )
    stamps = resolved["status"]["timestamps"]
    assert {"declared", "acknowledged", "mitigated", "resolved"} <= set(stamps)
    assert stamps["acknowledged"] == acked["status"]["timestamps"]["acknowledged"]
    figures = resolved["status"]["durations"]
    assert 0 <= figures["timeToAcknowledge"] <= figures["timeToMitigate"]
    assert figures["timeToMitigate"] == figures["timeToResolve"]
    assert conditions(resolved)["TransitionRefused"]["status"] == "False"
    assert conditions(resolved)["Ready"]["status"] == "True"
    types = [e["type"] for e in resolved["status"]["timeline"]]
    assert types == ["state-changed", "transition-refused", "state-changed"]
    assert len(warning()) == 1
