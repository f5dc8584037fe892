"""Deletion winds down: the finalizer only while a side effect is open; close them, let go."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import kopf
import pytest

from incident_operator.domain import deletion, freeze, outbox
from incident_operator.domain.lifecycle import Phase
from incident_operator.domain.mitigation import Target
from incident_operator.handlers import deletion as deletion_handlers
from incident_operator.handlers.context import context_of
from incident_operator.services.deletion import DeletionService
from incident_operator.services.freeze import FreezeService
from tests.builders import objects
from tests.fakes.context import operator_memo
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.store import FakeStore
from tests.fakes.ports.workloads import FakeWorkloads

NS = "shop"
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
OURS = deletion.FINALIZER


@pytest.mark.parametrize(
    ("status", "archive_on_close", "expected"),
    [
        ({}, True, deletion.OpenEffects()),
        ({"pager": {"state": "triggered"}}, True, deletion.OpenEffects(page=True)),
        ({"pager": {"state": "acknowledged"}}, True, deletion.OpenEffects(page=True)),
        ({"pager": {"state": "resolved"}}, True, deletion.OpenEffects()),
        ({"chat": {"channelId": "C1"}}, True, deletion.OpenEffects(channel=True)),
        ({"chat": {"channelId": "C1", "archived": True}}, True, deletion.OpenEffects()),
        # Channels kept after close: a closed incident's channel is the humans' to keep.
        ({"phase": "closed", "chat": {"channelId": "C1"}}, False, deletion.OpenEffects()),
        (
            {"phase": "resolved", "chat": {"channelId": "C1"}},
            False,
            deletion.OpenEffects(channel=True),
        ),
        (
            {"freezes": [{"kind": "Kustomization"}, {"kind": "X", "restoredAt": "2026-12-05"}]},
            True,
            deletion.OpenEffects(freezes=1),
        ),
    ],
)
def test_open_effects(
    status: dict[str, Any], archive_on_close: bool, expected: deletion.OpenEffects
) -> None:
    assert deletion.open_effects(status, archive_on_close=archive_on_close) == expected


OPEN = deletion.OpenEffects(page=True)
NONE = deletion.OpenEffects()


@pytest.mark.parametrize(
    ("finalizers", "effects", "deleting", "expected"),
    [
        ([], NONE, False, None),  # nothing open: no finalizer at all
        ([], OPEN, False, [OURS]),
        (["other"], OPEN, False, ["other", OURS]),  # others' finalizers are kept
        ([OURS], OPEN, False, None),
        ([OURS, "other"], NONE, False, ["other"]),
        ([OURS], OPEN, True, None),  # being deleted with a page open: wait for the wind-down
        ([OURS], NONE, True, []),  # wound down: let go
        ([], OPEN, True, None),  # never added during deletion (the API server refuses)
    ],
)
def test_finalizer_decisions(
    finalizers: list[str],
    effects: deletion.OpenEffects,
    deleting: bool,
    expected: list[str] | None,
) -> None:
    assert deletion.finalizers_after(finalizers, effects, deleting=deleting) == expected


def body(
    *, finalizers: list[str] | None = None, deleting: bool = False, **status: Any
) -> dict[str, Any]:
    meta: dict[str, Any] = {"uid": "i-uid", "generation": 1}
    if finalizers is not None:
        meta["finalizers"] = finalizers
    if deleting:
        meta["deletionTimestamp"] = "2026-12-05T09:00:00Z"
    return objects.incident(
        "inc",
        NS,
        created=None,
        metadata=meta,
        title="t",
        service="s",
        state="triage",
        status=status,
    )


@pytest.mark.parametrize(
    ("incident", "expected"),
    [
        (body(), False),
        (body(pager={"state": "triggered"}), True),
        (body(finalizers=[OURS], pager={"state": "triggered"}), False),
        (body(finalizers=[OURS]), True),
        (body(finalizers=[OURS], deleting=True, pager={"state": "triggered"}), True),
        (body(deleting=True, pager={"state": "triggered"}), False),  # not ours to hold
    ],
)
def test_needs_attention(incident: dict[str, Any], expected: bool) -> None:
    assert deletion.needs_attention(incident) is expected


def test_a_deleted_incident_owes_only_closing_operations() -> None:
    wanted = outbox.Wanted(
        phase=Phase.INVESTIGATING,
        acknowledged=True,
        chat=True,
        channel_name="inc-1",
        announce=("#incidents",),
        invite=frozenset({"U1"}),
        topic="t",
        status_render="s",
        entries=(),
        archive_on_close=False,
        page=True,
        notifiers=("webhook",),
    )
    opened = outbox.Delivered(
        channel_id="C1",
        status_ts="1.0",
        status_digest=outbox.digest("s"),
        topic_digest=outbox.digest("t"),
        invited=frozenset({"U1"}),
        pinned=True,
        announced=frozenset({"#incidents"}),
        page_state="acknowledged",
    )
    kinds = {op.kind for op in outbox.owed(outbox.winding_down(wanted), opened)}
    assert kinds == {outbox.OpKind.ARCHIVE, outbox.OpKind.PAGE_RESOLVE}
    never_opened = outbox.owed(outbox.winding_down(wanted), outbox.Delivered())
    assert never_opened == ()  # nothing is created, announced or paged for a deleted incident


class World:
    def __init__(self, incident: dict[str, Any]) -> None:
        self.store = FakeStore()
        self.store.incidents[(NS, "inc")] = incident
        incident["metadata"]["resourceVersion"] = "1"
        self.workloads = FakeWorkloads()
        self.clock = FakeClock(NOW)
        self.freezes = FreezeService(self.store, self.workloads, self.clock)
        self.synced: list[tuple[str, str]] = []
        self.service = DeletionService(self.store, self.freezes, comms_sync=self.comms_sync)
        self.freezes.before_side_effect = self.service.hold

    async def comms_sync(self, namespace: str, name: str) -> None:
        """Stands in for CommsService.sync on a deleted incident: the page gets resolved."""
        self.synced.append((namespace, name))
        incident = self.store.incidents[(namespace, name)]
        if (incident["status"].get("pager") or {}).get("state") == "triggered":
            incident["status"]["pager"]["state"] = "resolved"

    @property
    def finalizers(self) -> list[str]:
        return list(self.store.incidents[(NS, "inc")]["metadata"].get("finalizers") or [])


async def test_hold_adds_the_finalizer_once_and_keeps_others() -> None:
    world = World(body(finalizers=["example.com/other"]))
    await world.service.hold(NS, "inc")
    await world.service.hold(NS, "inc")
    assert world.finalizers == ["example.com/other", OURS]


async def test_no_open_side_effect_no_finalizer() -> None:
    world = World(body(finalizers=[OURS, deletion.KOPF_FINALIZER], pager={"state": "resolved"}))
    assert await world.service.reconcile(NS, "inc")
    assert world.finalizers == [deletion.KOPF_FINALIZER]  # kopf removes its own itself


async def test_deleting_resolves_the_page_then_lets_go() -> None:
    world = World(body(finalizers=[OURS], deleting=True, pager={"state": "triggered"}))
    assert await world.service.reconcile(NS, "inc")
    assert world.synced == [(NS, "inc")]
    assert world.finalizers == []


async def test_deleting_a_frozen_incident_lifts_its_freeze() -> None:
    world = World(body())
    owner = Target(*freeze.FLUX_KUSTOMIZATION, NS, "apps")
    world.workloads.add(
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": NS},
            "spec": {"interval": "5m"},
            "status": {"inventory": {"entries": [{"id": "shop_checkout_apps_Deployment"}]}},
        }
    )
    deployment = {
        "metadata": {
            "name": "checkout",
            "namespace": NS,
            "labels": {"kustomize.toolkit.fluxcd.io/name": "apps"},
        }
    }
    outcome = await world.freezes.hold_for(
        copy.deepcopy(world.store.incidents[(NS, "inc")]),
        Target("apps/v1", "Deployment", NS, "checkout"),
        deployment,
        allowed=frozenset(),
        dry_run=False,
    )
    assert outcome.frozen
    assert world.finalizers == [OURS]  # held before the freeze was taken
    assert world.workloads.object("Kustomization", NS, "apps")["spec"]["suspend"] is True

    world.store.incidents[(NS, "inc")]["metadata"]["deletionTimestamp"] = "2026-12-05T09:01:00Z"
    assert await world.service.reconcile(NS, "inc")
    assert world.workloads.object("Kustomization", NS, "apps")["spec"] == {"interval": "5m"}
    assert world.finalizers == []
    assert freeze.read_hold(world.workloads.object("Kustomization", NS, "apps")) is None
    assert owner == freeze.candidates(deployment)[0]


async def test_a_deletion_waits_while_something_cannot_be_closed() -> None:
    world = World(body(finalizers=[OURS], deleting=True, chat={"channelId": "C1"}))
    assert not await world.service.reconcile(NS, "inc")  # chat did not archive (yet)
    assert world.finalizers == [OURS]


def test_timers_add_no_kopf_finalizer_and_stop_when_their_object_is_gone() -> None:
    registry = kopf.OperatorRegistry()

    @kopf.timer("sre.dev", "v1alpha1", "oncallrotations", interval=1, registry=registry)
    async def tick(**_: Any) -> None:
        return None

    @kopf.timer(
        "sre.dev", "v1alpha1", "incidents", interval=1, registry=registry, when=lambda **_: False
    )
    async def filtered(**_: Any) -> None:
        return None

    deletion_handlers.disown_timers(registry)
    handlers = registry._spawning.get_all_handlers()
    assert [h.requires_finalizer for h in handlers] == [False, False]
    memo = operator_memo()
    alive: dict[str, Any] = {"memo": memo, "meta": {"uid": "u1"}}
    assert [bool(h.when and h.when(**alive)) for h in handlers] == [True, False]  # own filter kept
    deletion_handlers.forget_deleted(memo, "u1", 0.0)
    assert not any(h.when and h.when(**alive) for h in handlers)
    deletion_handlers.forget_deleted(memo, "u2", deletion_handlers.GONE_KEEP + 1)
    assert "u1" not in context_of(memo).state.gone_uids  # remembered for a while only


def test_what_no_configured_client_can_close_does_not_hold_the_finalizer() -> None:
    """Pager or chat removed from the operator's configuration: an open page or channel it
    cannot close would hold the incident (and its namespace) for ever."""
    status = {"pager": {"state": "triggered"}, "chat": {"channelId": "C1"}}
    assert deletion.open_effects(status) == deletion.OpenEffects(page=True, channel=True)
    assert deletion.open_effects(status, pager=False) == deletion.OpenEffects(channel=True)
    assert not deletion.open_effects(status, pager=False, chat=False).any
    body = {"metadata": {"finalizers": []}, "status": status}
    assert deletion.needs_attention(body)
    assert not deletion.needs_attention(body, pager=False, chat=False)


def test_an_open_workflow_page_holds_the_finalizer_until_resolved() -> None:
    def status(state: str) -> dict[str, Any]:
        page = {"dedupKey": "k", "team": "search", "state": state}
        return {"pager": {"state": "resolved", "workflowPages": {"p1": page}}}

    assert deletion.open_effects(status("triggered")) == deletion.OpenEffects(page=True)
    assert not deletion.open_effects(status("resolved")).any
    assert not deletion.open_effects(status("triggered"), pager=False).any
