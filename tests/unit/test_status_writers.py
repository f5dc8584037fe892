"""Two writers of one ``status.conditions`` list never drop each other's conditions.

The SLO engine writes Burning/Healthy/NoData/PrometheusUnavailable, the Ready handler writes
Ready; the lifecycle handler and the comms layer share an Incident's list the same way. Both
sides are tested here: the kopf-side patch (a three-way merge replayed on the freshest body)
and the store-side write (a resourceVersion precondition, re-read and recomputed on conflict).
"""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator.adapters.fake_store import FakeStore
from incident_operator.api.v1alpha1.convert import rebase_conditions
from incident_operator.errors import Conflict
from incident_operator.handlers.status_patch import patch_status

from .test_slo_evaluation_service import NS, SLO, World


def c(type_: str, status: str = "True", reason: str = "R") -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": "m"}


def test_rebase_keeps_conditions_another_writer_added_since_the_read() -> None:
    base = [c("Ready", "False")]
    wanted = [c("Ready", "True")]
    fresh = [c("Ready", "False"), c("Burning")]
    assert rebase_conditions(base, wanted, fresh) == [c("Ready", "True"), c("Burning")]


def test_rebase_applies_only_what_the_writer_changed_or_dropped() -> None:
    base = [c("Ready"), c("TransitionRefused"), c("ChatDegraded", "False")]
    wanted = [c("Ready"), c("ChatDegraded", "False")]  # the refusal was cleared
    fresh = [c("Ready"), c("TransitionRefused"), c("ChatDegraded", "True"), c("Burning")]
    # ChatDegraded turned True meanwhile and this writer did not touch it: it stays True.
    assert rebase_conditions(base, wanted, fresh) == [
        c("Ready"),
        c("ChatDegraded", "True"),
        c("Burning"),
    ]


def test_rebase_appends_new_types_and_reintroduces_a_vanished_changed_one() -> None:
    assert rebase_conditions([], [c("Ready")], []) == [c("Ready")]
    assert rebase_conditions([c("Ready", "False")], [c("Ready")], [c("X")]) == [
        c("X"),
        c("Ready"),
    ]


def test_kopf_patch_carries_conditions_as_a_function_replayed_on_the_fresh_body() -> None:
    stale = {"metadata": {"resourceVersion": "1"}, "status": {"conditions": [c("Ready", "False")]}}
    fresh = {
        "metadata": {"resourceVersion": "2"},
        "status": {"conditions": [c("Ready", "False"), c("Burning")], "activeIncident": "inc-1"},
    }
    patch = kopf.Patch(body=kopf.Body(stale))
    patch_status(patch, stale, {"observedGeneration": 3, "conditions": [c("Ready", "True")]})
    assert dict(patch)["status"] == {"observedGeneration": 3}, "conditions are not merge-patched"
    ops = patch.as_json_patch(fresh)
    assert {"op": "replace", "path": "/status/conditions/0/status", "value": "True"} in ops
    assert all("Burning" not in str(op) for op in ops), ops


def test_kopf_patch_without_conditions_is_a_plain_merge_patch() -> None:
    body = {"status": {}}
    patch = kopf.Patch(body=kopf.Body(body))
    patch_status(patch, body, {"response": {"escalationLevel": 1}})
    assert dict(patch) == {"status": {"response": {"escalationLevel": 1}}}
    assert not patch.fns


class ConcurrentReady(FakeStore):
    """The Ready handler writes between the engine's list and its status write, once."""

    def __init__(self) -> None:
        super().__init__()
        self.conflicts = 0
        self.raced = False

    async def patch_slo_status(
        self,
        namespace: str,
        name: str,
        status: dict[str, Any],
        *,
        resource_version: str | None = None,
    ) -> None:
        if not self.raced:
            self.raced = True
            ready = {**c("Ready"), "lastTransitionTime": "2026-11-27T14:00:10Z"}
            await super().patch_slo_status(namespace, name, {"conditions": [ready]})
        try:
            await super().patch_slo_status(
                namespace, name, status, resource_version=resource_version
            )
        except Conflict:
            self.conflicts += 1
            raise


async def test_slo_engine_rereads_on_conflict_and_keeps_the_ready_condition() -> None:
    world = World()
    store = ConcurrentReady()
    store.slos = world.store.slos
    world.store = store
    world.restart()
    await world.cycle(ratio=1.0)
    assert store.conflicts == 1
    types = {cond["type"]: cond["status"] for cond in world.status["conditions"]}
    assert types["Ready"] == "True", "the handler's write survived"
    assert types["Burning"] == "True", "and so did the engine's"
    assert world.status["activeIncident"]


async def test_fake_store_refuses_a_stale_precondition_like_the_api_server() -> None:
    store = FakeStore()
    store.add_slo({"metadata": {"name": SLO, "namespace": NS}, "spec": {}})
    version = store.slos[(NS, SLO)]["metadata"]["resourceVersion"]
    await store.patch_slo_status(NS, SLO, {"x": 1}, resource_version=version)
    try:
        await store.patch_slo_status(NS, SLO, {"x": 2}, resource_version=version)
    except Conflict:
        pass
    else:
        raise AssertionError("a stale resourceVersion was accepted")
    assert store.slos[(NS, SLO)]["status"] == {"x": 1}
