"""Ack timeout escalates to the next person, on the real control plane with the real operator.

The example rotation with its escalation chain shortened to seconds (the policy is the same:
step 1 to the secondary layer, step 2 to dave) and a Severity with ``ackWithin: 10s``: the
incident declared with the plugin is escalated to whoever the schedule engine says is on call
in the secondary layer, then to dave; acknowledging stops the chain; the escalations are
counted on /metrics and shown by ``kubectl incident show``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from incident_operator.api.v1alpha1.rotation import OnCallRotation
from incident_operator.domain.rotation import on_call, top
from tests.e2e.test_incident_lifecycle import plugin
from tests.e2e.test_operator_metrics import operator, scrape
from tests.kube import Cluster, create_custom, get_custom, temporary_severity, wait_for
from tests.operator_process import OperatorProcess

__all__ = ["operator"]

EXAMPLE = Path(__file__).parents[2] / "examples" / "20-oncallrotation.yaml"


@pytest.fixture
def rotation(api: client.ApiClient, namespace: str) -> dict[str, Any]:
    body = yaml.safe_load(EXAMPLE.read_text())
    body["metadata"]["namespace"] = namespace
    body["spec"]["escalation"] = [
        {"after": "10s", "notify": "layer/secondary"},
        {"after": "25s", "notify": "person/dave"},
    ]
    create_custom(api, body, namespace)
    return dict(body)


@pytest.fixture
def severity(crds: Cluster, api: client.ApiClient, rotation: dict[str, Any]) -> Iterator[str]:
    with temporary_severity(
        api,
        "sev-esc",
        {
            "level": 1,
            "displayName": "SEV-1 (escalation test)",
            "response": {"ackWithin": "10s", "updateEvery": "1h"},
            "rotationRef": rotation["metadata"]["name"],
        },
    ) as name:
        yield name


def entries(body: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [e for e in (body.get("status") or {}).get("timeline") or [] if e["type"] == type_]


def test_ack_timeout_escalates_to_the_next_person_and_ack_stops_the_chain(
    operator: tuple[OperatorProcess, int],
    crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    severity: str,
    rotation: dict[str, Any],
) -> None:
    _, port = operator
    declared = plugin(
        crds, namespace, "declare", "Login broken", "--service", "login",
        "--severity", severity, "--name", "login-broken",
    )  # fmt: skip
    assert declared.returncode == 0, declared.stderr

    def escalated(level: int) -> dict[str, Any] | None:
        """The timeline entry and status.response are two writes: wait for both."""
        found = get_custom(api, "Incident", "login-broken", namespace)
        response = (found.get("status") or {}).get("response") or {}
        recorded = len(entries(found, "escalated")) >= level
        return found if recorded and response.get("escalationLevel", 0) >= level else None

    body = wait_for("first escalation", lambda: escalated(1), timeout=60)
    created = datetime.fromisoformat(body["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    declared_at = datetime.fromisoformat(
        body["status"]["timestamps"]["declared"].replace("Z", "+00:00")
    )
    schedule = OnCallRotation.model_validate(rotation).spec.to_domain()
    commander = top(on_call(schedule, created))
    secondary = next(
        la.person
        for la in on_call(schedule, declared_at + timedelta(seconds=10))
        if la.layer == "secondary"
    )
    assert body["status"]["roles"]["commander"] == commander
    (first,) = entries(body, "escalated")
    assert first["key"] == "escalation/1"
    assert f"escalation level 1 to {secondary} (layer/secondary)" in first["message"]
    assert first["at"] == (declared_at + timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%SZ")

    body = wait_for("second escalation", lambda: escalated(2), timeout=60)
    second = entries(body, "escalated")[1]
    assert "escalation level 2 to dave (person/dave)" in second["message"]
    assert body["status"]["response"]["escalatedTo"] == [secondary, "dave"]

    acked = plugin(crds, namespace, "ack", "login-broken")
    assert acked.returncode == 0, acked.stderr
    wait_for(
        "acknowledged",
        lambda: get_custom(api, "Incident", "login-broken", namespace)["status"]["timestamps"].get(
            "acknowledged"
        ),
        timeout=60,
    )
    listed = plugin(crds, namespace, "list")
    assert commander in listed.stdout.splitlines()[1].split()
    shown = plugin(crds, namespace, "show", "login-broken")
    assert f"Escalated: {secondary}, dave" in shown.stdout
    assert "escalated" in shown.stdout

    _, samples = scrape(port)
    count = samples[("incident_operator_escalations_total", frozenset({("severity", severity)}))]
    assert count == 2
    body = get_custom(api, "Incident", "login-broken", namespace)
    assert len(entries(body, "escalated")) == 2  # no more after the acknowledgement
