"""createFollowUp's write to a Postmortem on the real API server (adapters/postmortem_store):
an item is appended next to a person's items on the version read, and action items a
GitOps tool applied (server-side apply under its own field manager, as Argo CD does) are
refused with the manager named, nothing written."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from incident_operator.adapters.ports import Body
from incident_operator.adapters.postmortem_store import KubernetesPostmortems
from incident_operator.errors import FieldOwnedElsewhere
from tests.kube import Cluster, create_custom, get_custom

MINE = {"title": "Page the DB team sooner", "owner": "carol", "status": "in-progress"}
ADDED = {"title": "Add a load test", "owner": "alice", "due": "2026-12-31"}


def postmortem(name: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "Postmortem",
        "metadata": {"name": name},
        "spec": {"incidentRef": name, "actionItems": list(items)},
    }


def add_once(existing: Sequence[Body]) -> list[Body]:
    return [] if any(i.get("title") == ADDED["title"] for i in existing) else [dict(ADDED)]


def test_an_item_is_appended_once_next_to_a_persons_items(
    crds: Cluster, api: client.ApiClient, namespace: str
) -> None:
    store = KubernetesPostmortems(api)
    create_custom(api, postmortem("edited", MINE), namespace)
    for _ in range(2):  # the second call finds it there and writes nothing
        assert asyncio.run(store.add_action_items(namespace, "edited", add_once))
    items = get_custom(api, "Postmortem", "edited", namespace)["spec"]["actionItems"]
    assert items == [MINE, {**ADDED, "status": "open"}]
    assert not asyncio.run(store.add_action_items(namespace, "missing", add_once))


def test_action_items_git_applied_are_refused_and_left_alone(
    crds: Cluster, api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    store = KubernetesPostmortems(api)
    manifest = postmortem("from-git", {"title": "From Git"})
    manifest["metadata"]["namespace"] = namespace
    path = tmp_path / "pm.json"
    path.write_text(json.dumps(manifest))
    crds.kubectl("apply", "--server-side", "--field-manager=argocd-controller", "-f", str(path))
    before = get_custom(api, "Postmortem", "from-git", namespace)
    with pytest.raises(FieldOwnedElsewhere) as refused:
        asyncio.run(store.add_action_items(namespace, "from-git", add_once))
    assert refused.value.fields == {".spec.actionItems": "argocd-controller"}
    after = get_custom(api, "Postmortem", "from-git", namespace)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
