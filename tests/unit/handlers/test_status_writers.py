"""Two writers of one ``status.conditions`` list never drop each other's conditions.

The SLO engine writes Burning/Healthy/NoData/PrometheusUnavailable, the Ready handler writes
Ready; the lifecycle handler and the comms layer share an Incident's list the same way. Both
sides are tested here: the kopf-side patch (a three-way merge replayed on the freshest body)
and the store-side write (a resourceVersion precondition, re-read and recomputed on conflict).
"""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator.api.v1alpha1.convert import rebase_conditions
from incident_operator.errors import Conflict
from incident_operator.handlers.status_patch import patch_status
from tests.fakes.ports.store import FakeStore
from tests.unit.services.test_slo_evaluation_service import NS, SLO, World


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


def test_kopf_patch_replays_the_whole_status_on_the_fresh_body_in_one_json_patch() -> None:
    stale: kopf.RawBody = {
        "metadata": {"resourceVersion": "1"},
        "status": {"conditions": [c("Ready", "False")]},
    }
    fresh: kopf.RawBody = {
        "metadata": {"resourceVersion": "2"},
        "status": {"conditions": [c("Ready", "False"), c("Burning")], "activeIncident": "inc-1"},
    }
    patch = kopf.Patch(body=kopf.Body(stale))
    patch_status(
        patch,
        stale,
        {"observedGeneration": 3, "impact": [{"slo": "a"}], "conditions": [c("Ready", "True")]},
    )
    assert dict(patch) == {}, "nothing as a merge patch: fields and conditions land together"
    ops = patch.as_json_patch(fresh)
    assert {"op": "replace", "path": "/status/conditions/0/status", "value": "True"} in ops
    assert {"op": "add", "path": "/status/observedGeneration", "value": 3} in ops
    assert {"op": "add", "path": "/status/impact", "value": [{"slo": "a"}]} in ops
    assert all("Burning" not in str(op) and "activeIncident" not in str(op) for op in ops), ops


def test_kopf_patch_keeps_merge_patch_semantics_for_the_other_fields() -> None:
    body: kopf.RawBody = {"status": {"outbox": {"a": {"n": 1}, "b": {"n": 2}}, "phase": "triage"}}
    patch = kopf.Patch(body=kopf.Body(body))
    patch_status(patch, body, {"outbox": {"a": None, "c": {"n": 3, "gone": None}}})
    fresh: kopf.RawBody = {
        "status": {"outbox": {"a": {"n": 1}, "b": {"n": 2}}, "phase": "mitigated"}
    }
    for fn in patch.fns:
        fn(fresh)
    assert fresh == {"status": {"outbox": {"b": {"n": 2}, "c": {"n": 3}}, "phase": "mitigated"}}


def test_timeline_entries_land_with_the_status_merged_by_key_on_the_fresh_body() -> None:
    """The entry that explains a phase goes in the same JSON patch as the phase (issue 15):
    appended after what others added meanwhile, never twice, never replacing the list."""
    entry = {"at": "2026-11-27T14:04:00Z", "type": "state-changed", "key": "state/investigating/2"}
    other = {"at": "2026-11-27T14:03:00Z", "type": "note", "key": "note/1"}
    stale: kopf.RawBody = {"metadata": {"resourceVersion": "1"}, "status": {"phase": "triage"}}
    fresh: kopf.RawBody = {
        "metadata": {"resourceVersion": "2"},
        "status": {"phase": "triage", "timeline": [other]},
    }
    patch = kopf.Patch(body=kopf.Body(stale))
    patch_status(patch, stale, {"phase": "investigating"}, [entry])
    ops = patch.as_json_patch(fresh)
    assert {"op": "replace", "path": "/status/phase", "value": "investigating"} in ops
    assert {"op": "add", "path": "/status/timeline/1", "value": entry} in ops
    assert len(ops) == 2, ops
    again: kopf.RawBody = {**fresh, "status": {"phase": "triage", "timeline": [other, entry]}}
    assert patch.as_json_patch(again) == [
        {"op": "replace", "path": "/status/phase", "value": "investigating"}
    ]


def test_timeline_entries_alone_make_a_patch() -> None:
    entry = {"at": "2026-11-27T14:04:00Z", "type": "role-assigned", "key": "role/commander"}
    patch = kopf.Patch(body=kopf.Body({"status": {}}))
    patch_status(patch, {"status": {}}, {}, [entry])
    assert patch.as_json_patch({"status": {}}) == [
        {"op": "add", "path": "/status/timeline", "value": [entry]}
    ]


def test_an_empty_status_adds_nothing_to_the_patch() -> None:
    patch = kopf.Patch(body=kopf.Body({}))
    patch_status(patch, {}, {})
    assert not patch


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
