"""The operator's conclusions live in status beside the human's spec; the human's change wins.

Issue 16: a GitOps tool re-applying the same manifest must find nothing to undo, and a Git
commit that changes ``spec.state`` or ``spec.severityRef`` must win over the operator.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incident_operator.domain import conclusions, lifecycle
from incident_operator.domain.conclusions import Subject
from incident_operator.services.incident_lifecycle import IncidentLifecycleService
from incident_operator.services.incidents import is_active, is_open, requested_state, severity_of
from tests.builders.objects import incident, severity
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.store import FakeStore

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
NS, NAME = "shop", "checkout-burn"
INVESTIGATING = incident(
    NAME,
    created="2026-12-06T10:00:00Z",
    severityRef="sev-3",
    roles={"commander": "alice"},
    state="investigating",
)


World = tuple[FakeStore, FakeClock, IncidentLifecycleService]


@pytest.fixture
def world() -> World:
    store = FakeStore()
    for name, level in (("sev-1", 1), ("sev-2", 2), ("sev-3", 3)):
        store.severities[name] = severity(name, level, response={"requiredRoles": []})
    clock = FakeClock(T0)
    return store, clock, IncidentLifecycleService(store, clock)


async def reconcile(world: World, minutes: int, **spec: Any) -> dict[str, Any]:
    """What the kopf handler does on a spec change (``spec`` given) or a resume."""
    store, clock, service = world
    clock.current = T0 + timedelta(minutes=minutes)
    if spec:
        await store.patch_incident(NS, NAME, spec=spec)
    body = await store.get_incident(NS, NAME)
    assert body is not None
    await service.reconcile(body)
    after = await store.get_incident(NS, NAME)
    assert after is not None
    return after


async def conclude(world: World, minutes: int, subject: Subject, value: str) -> dict[str, Any]:
    store, clock, service = world
    clock.current = T0 + timedelta(minutes=minutes)
    assert await service.conclude(NS, NAME, subject, value, reason="Test", message="because")
    after = await store.get_incident(NS, NAME)
    assert after is not None
    return after


def test_a_conclusion_holds_only_over_the_value_it_was_drawn_over() -> None:
    drawn = conclusions.draw("investigating", "mitigated", "MitigationVerified", "m", T0)
    assert drawn is not None
    assert conclusions.effective("investigating", drawn) == "mitigated"
    assert conclusions.effective("resolved", drawn) == "resolved", "the human's change wins"
    assert conclusions.draw("mitigated", "mitigated", "R", "m", T0) is None, "nothing to add"
    assert conclusions.parse(conclusions.to_status(drawn)) == drawn
    assert conclusions.parse({"value": 3}) is None
    assert conclusions.human_chose("sev-2", "sev-3")
    assert not conclusions.human_chose("sev-3", "sev-3")
    assert not conclusions.human_chose("sev-3", None)


async def test_the_operator_concludes_in_status_and_never_writes_the_spec(world: World) -> None:
    store, _, _ = world
    await store.create_incident(NS, INVESTIGATING)
    await reconcile(world, 0)
    spec_before = (await store.get_incident(NS, NAME) or {})["spec"]
    generation = (await store.get_incident(NS, NAME) or {})["metadata"]["generation"]

    body = await conclude(world, 5, Subject.STATE, "mitigated")
    assert body["spec"] == spec_before
    assert body["metadata"]["generation"] == generation
    assert body["status"]["phase"] == "mitigated"
    assert body["status"]["timestamps"]["mitigated"] == "2026-12-06T10:05:00Z"
    assert body["status"]["conclusions"]["state"]["over"] == "investigating"
    assert requested_state(body) == "mitigated"

    body = await conclude(world, 6, Subject.SEVERITY, "sev-1")
    assert body["spec"]["severityRef"] == "sev-3"
    assert body["status"]["severity"] == "sev-1"
    assert severity_of(body) == "sev-1"
    entries = [e["type"] for e in store.timeline(NS, NAME)]
    assert entries.count("state-changed") == 2  # triage -> investigating -> mitigated
    assert entries.count("severity-changed") == 1


async def test_re_applying_the_same_manifest_changes_nothing(world: World) -> None:
    """What a GitOps tool does every few minutes: the same spec, again and again."""
    store, _, _ = world
    await store.create_incident(NS, INVESTIGATING)
    await reconcile(world, 0)
    await conclude(world, 5, Subject.STATE, "mitigated")
    await conclude(world, 6, Subject.SEVERITY, "sev-1")
    settled = await store.get_incident(NS, NAME)
    assert settled is not None
    for minute in range(10, 40, 3):  # a resume, a re-sync, an unchanged apply
        body = await reconcile(world, minute)
        assert body["status"] == settled["status"], f"status churned at +{minute} min"
    # Concluding the same again (the next evaluation cycle) writes nothing either.
    version = settled["metadata"]["resourceVersion"]
    await conclude(world, 41, Subject.STATE, "mitigated")
    assert (await store.get_incident(NS, NAME) or {})["metadata"]["resourceVersion"] == version


async def test_a_git_commit_that_changes_the_state_wins_over_the_conclusion(
    world: World,
) -> None:
    store, _, _ = world
    await store.create_incident(NS, INVESTIGATING)
    await reconcile(world, 0)
    await conclude(world, 5, Subject.STATE, "resolved")
    body = await reconcile(world, 10)
    assert body["status"]["phase"] == "resolved"

    # Git says the incident is still being investigated (a reopen): the human wins.
    body = await reconcile(world, 20, state="triage")  # an illegal move is still refused
    assert body["status"]["phase"] == "resolved"
    assert "conclusions" not in body["status"] or not body["status"]["conclusions"].get("state")
    body = await reconcile(world, 21, state="investigating")
    assert body["status"]["phase"] == "investigating"
    assert "resolved" not in body["status"]["timestamps"]

    # ... and a later commit resolving it is accepted like any human request.
    body = await reconcile(world, 30, state="resolved")
    assert body["status"]["phase"] == "resolved"
    assert body["spec"]["state"] == "resolved"


async def test_a_severity_chosen_in_git_supersedes_the_operators(world: World) -> None:
    store, _, _ = world
    await store.create_incident(NS, INVESTIGATING)
    await reconcile(world, 0)
    await conclude(world, 5, Subject.SEVERITY, "sev-1")
    body = await reconcile(world, 10, severityRef="sev-2")
    assert body["status"]["severity"] == "sev-2"
    assert severity_of(body) == "sev-2"
    assert not (body["status"].get("conclusions") or {}).get("severity")


async def test_a_conclusion_loses_to_a_concurrent_human_change(world: World) -> None:
    """The conclusion is written on the version it was drawn from; a change in between wins."""
    store, clock, service = world
    await store.create_incident(NS, INVESTIGATING)
    await reconcile(world, 0)
    real_get = store.get_incident
    raced = False

    async def get_then_human_resolves(namespace: str, name: str) -> dict[str, Any] | None:
        nonlocal raced
        seen = await real_get(namespace, name)
        if not raced:
            raced = True
            await store.patch_incident(NS, NAME, spec={"state": "resolved"})
        return seen

    store.get_incident = get_then_human_resolves  # type: ignore[method-assign]
    clock.current = T0 + timedelta(minutes=5)
    assert await service.conclude(
        NS, NAME, Subject.STATE, "mitigated", reason="Test", message="because"
    )
    body = await real_get(NS, NAME)
    assert body is not None
    # Read again after the conflict: the human's resolved is past mitigated, so the
    # operator concludes nothing and the human's request is what the lifecycle judges.
    assert not (body["status"].get("conclusions") or {}).get("state")
    assert body["spec"]["state"] == "resolved"
    assert requested_state(body) == "resolved"


def test_the_operator_concludes_only_forward() -> None:
    assert lifecycle.is_past("resolved", lifecycle.Phase.MITIGATED)
    assert lifecycle.is_past("mitigated", lifecycle.Phase.MITIGATED)
    assert lifecycle.is_past("declined", lifecycle.Phase.RESOLVED)
    assert not lifecycle.is_past("investigating", lifecycle.Phase.MITIGATED)
    assert not lifecycle.is_past("triage", lifecycle.Phase.RESOLVED)


@pytest.mark.parametrize(
    ("spec_state", "phase", "active", "open_"),
    [
        ("triage", None, True, True),
        ("mitigated", "mitigated", True, True),
        ("resolved", "resolved", False, True),  # owes its postmortem decision
        ("closed", "resolved", False, True),  # a close the lifecycle refused
        ("closed", "closed", False, False),
        ("declined", "declined", False, False),
        ("resolved", "nonsense", True, True),  # unreadable phase: triage, never "done"
    ],
)
def test_open_and_active_are_decided_on_the_accepted_phase(
    spec_state: str, phase: str | None, active: bool, open_: bool
) -> None:
    body: dict[str, Any] = {"spec": {"state": spec_state}, "status": {"phase": phase}}
    assert (is_active(body), is_open(body)) == (active, open_)
