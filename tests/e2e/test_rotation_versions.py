"""An OnCallRotation edited with a future effectiveFrom keeps the previous person on call.

On the real control plane: the rotation (alice always on call) is recorded in status, then
edited to bob from an instant ~100 s ahead. Until then status.onCall and a new incident's
commander are alice; after it, bob.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kubernetes import client

from incident_operator.domain.times import iso, parse_time
from tests.e2e.test_incident_lifecycle import operator, plugin
from tests.kube import Cluster, create_custom, get_custom, temporary_severity, wait_for

__all__ = ["operator"]

NAME = "versioned-oncall"


def rotation(members: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "OnCallRotation",
        "metadata": {"name": NAME},
        "spec": {
            "timeZone": "Europe/Berlin",
            "participants": [{"name": "alice"}, {"name": "bob"}],
            "layers": [
                {
                    "name": "primary",
                    "members": members,
                    "rotation": {"type": "weekly", "start": "2026-03-02T09:00:00"},
                }
            ],
        },
    }


@pytest.fixture
def severity(crds: Cluster, api: client.ApiClient) -> Iterator[str]:
    with temporary_severity(
        api, "sev-versions", {"level": 3, "displayName": "SEV-3 (versions)", "rotationRef": NAME}
    ) as name:
        yield name


def commander(crds: Cluster, api: client.ApiClient, namespace: str, sev: str, name: str) -> str:
    declared = plugin(
        crds, namespace, "declare", "Versions", "--service", "pay",
        "--severity", sev, "--name", name,
    )  # fmt: skip
    assert declared.returncode == 0, declared.stderr

    def roles() -> dict[str, Any] | None:
        found = get_custom(api, "Incident", name, namespace)
        return found if (found.get("status") or {}).get("roles") else None

    return str(wait_for(f"roles of {name}", roles, timeout=60)["status"]["roles"]["commander"])


def test_a_future_effective_from_keeps_the_previous_person_on_call_until_it_starts(
    operator: Any, crds: Cluster, api: client.ApiClient, namespace: str, severity: str
) -> None:
    objects = client.CustomObjectsApi(api)
    create_custom(api, rotation(["alice"]), namespace)

    def status_with(generations: list[int]) -> dict[str, Any] | None:
        status = get_custom(api, "OnCallRotation", NAME, namespace).get("status") or {}
        found = [v["generation"] for v in status.get("versions") or []]
        return status if found == generations else None

    wait_for("version 1 recorded", lambda: status_with([1]), timeout=120)
    switch = (datetime.now(UTC) + timedelta(seconds=100)).replace(microsecond=0)
    objects.patch_namespaced_custom_object(
        "sre.dev", "v1alpha1", namespace, "oncallrotations", NAME,
        {"spec": {"effectiveFrom": iso(switch), "layers": rotation(["bob"])["spec"]["layers"]}},
    )  # fmt: skip
    status = wait_for("version 2 recorded", lambda: status_with([1, 2]), timeout=120)
    assert datetime.now(UTC) < switch, "the machine was too slow for this test's margin"
    assert [s["person"] for s in status["onCall"]] == ["alice"]
    assert commander(crds, api, namespace, severity, "before-switch") == "alice"

    def bob_on_call() -> dict[str, Any] | None:
        status = get_custom(api, "OnCallRotation", NAME, namespace).get("status") or {}
        on_call = status.get("onCall") or []
        return status if [s["person"] for s in on_call] == ["bob"] else None

    after = wait_for("bob on call", bob_on_call, timeout=240)
    assert parse_time(after["onCall"][0]["start"]) == switch, "switches at the instant"
    assert commander(crds, api, namespace, severity, "after-switch") == "bob"
