"""Roles from the example on-call rotation, on the real control plane.

An incident declared with the plugin and no commander, at a Severity whose ``rotationRef`` is
the example rotation, gets as commander the person the schedule engine computes for the
declaration instant; a human's ``assign`` then overrides it, and both land in the timeline.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from incident_operator.api.v1alpha1.rotation import OnCallRotation
from incident_operator.domain.rotation import on_call, top
from tests.e2e.test_incident_lifecycle import operator, plugin
from tests.kube import Cluster, create_custom, get_custom, temporary_severity, wait_for
from tests.operator_process import OperatorProcess

__all__ = ["operator"]  # the fixture, shared with the lifecycle test

EXAMPLE = Path(__file__).parents[2] / "examples" / "20-oncallrotation.yaml"


@pytest.fixture
def rotation(api: client.ApiClient, namespace: str) -> dict[str, Any]:
    body = yaml.safe_load(EXAMPLE.read_text())
    body["metadata"]["namespace"] = namespace
    create_custom(api, body, namespace)
    return dict(body)


@pytest.fixture
def severity(crds: Cluster, api: client.ApiClient, rotation: dict[str, Any]) -> Iterator[str]:
    with temporary_severity(
        api,
        "sev-roles",
        {
            "level": 2,
            "displayName": "SEV-2 (roles test)",
            "rotationRef": rotation["metadata"]["name"],
        },
    ) as name:
        yield name


def test_the_commander_comes_from_the_example_rotation_and_a_human_overrides_it(
    operator: OperatorProcess,
    crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    severity: str,
    rotation: dict[str, Any],
) -> None:
    declared = plugin(
        crds, namespace, "declare", "Payments slow", "--service", "payments",
        "--severity", severity, "--name", "payments-slow",
    )  # fmt: skip
    assert declared.returncode == 0, declared.stderr

    def roles() -> dict[str, Any] | None:
        found = get_custom(api, "Incident", "payments-slow", namespace)
        return found if (found.get("status") or {}).get("roles") else None

    body = wait_for("roles filled from the rotation", roles, timeout=60)
    created = datetime.fromisoformat(body["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    schedule = OnCallRotation.model_validate(rotation).spec.to_domain()
    expected = top(on_call(schedule, created))
    assert expected is not None, "the example rotation always has someone on call"
    assert body["status"]["roles"] == {"commander": expected}
    assert body["status"]["rotationRoles"] == {"commander": expected}
    (entry,) = [e for e in body["status"]["timeline"] if e["type"] == "role-assigned"]
    assert entry["message"] == f"commander: {expected} (from the on-call rotation)"

    human = "dave" if expected != "dave" else "alice"
    assigned = plugin(crds, namespace, "assign", "payments-slow", "commander", human)
    assert assigned.returncode == 0, assigned.stderr

    def overridden() -> dict[str, Any] | None:
        found = get_custom(api, "Incident", "payments-slow", namespace)
        return found if found["status"]["roles"].get("commander") == human else None

    body = wait_for("the human's commander", overridden, timeout=60)
    changed = [e["message"] for e in body["status"]["timeline"] if e["type"] == "role-changed"]
    assert changed == [f"commander: {expected} -> {human}"]
