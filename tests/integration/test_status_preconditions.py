"""The store's conditional status writes on the real API server.

``status.conditions`` is one list shared by two writers per kind; each write names the
resourceVersion it was computed from, and the API server must refuse it (409, our Conflict)
once another writer got there first — on the status subresource, through a merge patch.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kubernetes import client

from incident_operator.adapters.kubernetes import KubernetesStore
from incident_operator.adapters.watch_cache import WatchedCollection
from incident_operator.errors import Conflict
from tests.builders.objects import incident_manifest
from tests.kube import Cluster, create_custom

CONDITION = {
    "status": "True",
    "reason": "Test",
    "message": "written by the test",
    "lastTransitionTime": "2026-11-28T00:00:00Z",
}


def slo() -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "checkout"},
        "spec": {
            "service": "checkout",
            "target": 99.9,
            "indicator": {"ratio": {"errors": "e[{{window}}]", "total": "t[{{window}}]"}},
        },
    }


def test_slo_status_write_on_a_stale_version_is_refused(
    crds: Cluster, api: client.ApiClient, namespace: str
) -> None:
    store = KubernetesStore(api)
    created = create_custom(api, slo(), namespace)
    stale = created["metadata"]["resourceVersion"]
    ready = {"conditions": [{"type": "Ready", **CONDITION}]}
    burning = {"conditions": [{"type": "Burning", **CONDITION}]}
    asyncio.run(store.patch_slo_status(namespace, "checkout", ready, resource_version=stale))
    with pytest.raises(Conflict):
        asyncio.run(store.patch_slo_status(namespace, "checkout", burning, resource_version=stale))
    current = asyncio.run(store.get_slo(namespace, "checkout"))
    assert current is not None
    assert [c["type"] for c in current["status"]["conditions"]] == ["Ready"]
    fresh = current["metadata"]["resourceVersion"]
    asyncio.run(store.patch_slo_status(namespace, "checkout", burning, resource_version=fresh))
    again = asyncio.run(store.get_slo(namespace, "checkout"))
    assert again is not None
    assert [c["type"] for c in again["status"]["conditions"]] == ["Burning"]


def test_incident_status_write_on_a_stale_version_is_refused(
    crds: Cluster, api: client.ApiClient, namespace: str
) -> None:
    store = KubernetesStore(api)
    created = create_custom(api, incident_manifest("inc", title="t", state="triage"), namespace)
    stale = created["metadata"]["resourceVersion"]
    asyncio.run(store.patch_incident(namespace, "inc", status={"phase": "triage"}))
    with pytest.raises(Conflict):
        asyncio.run(
            store.patch_incident(
                namespace,
                "inc",
                status={"conditions": [{"type": "ChatDegraded", **CONDITION}]},
                resource_version=stale,
            )
        )
    current = asyncio.run(store.get_incident(namespace, "inc"))
    assert current is not None
    assert "conditions" not in current["status"]


def test_the_slo_listing_pages_and_keeps_slim_bodies(
    crds: Cluster, api: client.ApiClient, namespace: str
) -> None:
    """A LIST in pages (here of 2), each body slimmed as its page arrives (issue 15)."""
    for i in range(5):
        body = slo()
        body["metadata"] = {"name": f"checkout-{i}", "labels": {"team": "payments"}}
        create_custom(api, body, namespace)
    store = KubernetesStore(api, [namespace], slos=WatchedCollection(), list_page=2)
    listed = asyncio.run(store.list_slos())
    assert sorted(b["metadata"]["name"] for b in listed) == [f"checkout-{i}" for i in range(5)]
    for body in listed:
        assert "managedFields" not in body["metadata"]
        assert body["metadata"]["labels"] == {"team": "payments"}
        assert body["spec"]["service"] == "checkout"
    assert asyncio.run(store.list_slos()) == listed, "then answered from the collection"
