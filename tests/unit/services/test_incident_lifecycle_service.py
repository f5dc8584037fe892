"""The lifecycle service against the in-memory store: status, timeline, Event, merge-only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incident_operator.services.incident_lifecycle import IncidentLifecycleService
from tests.builders.objects import incident, severity
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.store import FakeStore

CREATED = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
NS, NAME = "shop", "checkout-errors"


@pytest.fixture
def world() -> tuple[FakeStore, FakeClock, IncidentLifecycleService]:
    store = FakeStore()
    store.severities["sev-2"] = severity(
        response={"requiredRoles": ["commander", "communications"]}
    )
    clock = FakeClock(CREATED)
    return store, clock, IncidentLifecycleService(store, clock)


async def step(
    world: tuple[FakeStore, FakeClock, IncidentLifecycleService], minutes: int, **spec: Any
) -> dict[str, Any]:
    store, clock, service = world
    clock.current = CREATED + timedelta(minutes=minutes)
    if spec:
        await store.patch_incident(NS, NAME, spec=spec)
    body = await store.get_incident(NS, NAME)
    assert body is not None
    await service.reconcile(body)
    after = await store.get_incident(NS, NAME)
    assert after is not None
    return after


def conditions(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in body["status"]["conditions"]}


async def test_lifecycle_from_declaration_to_resolution(
    world: tuple[FakeStore, FakeClock, IncidentLifecycleService],
) -> None:
    store, _, _ = world
    await store.create_incident(NS, incident(roles={"commander": "alice"}))
    body = await step(world, 0)
    assert body["status"]["phase"] == "triage"
    assert body["status"]["timestamps"] == {"declared": "2026-11-27T14:00:00Z"}
    assert list(conditions(body)) == ["Ready"]
    assert conditions(body)["Ready"]["status"] == "True"
    assert body["status"]["observedGeneration"] == 1

    body = await step(world, 4, state="investigating")
    assert body["status"]["phase"] == "investigating"
    assert body["status"]["timestamps"]["acknowledged"] == "2026-11-27T14:04:00Z"
    assert body["status"]["durations"] == {"timeToAcknowledge": 240.0}
    assert [e["key"] for e in store.timeline(NS, NAME)] == ["state/investigating/2"]

    body = await step(world, 30, state="resolved")
    assert body["status"]["phase"] == "investigating"
    refused = conditions(body)["TransitionRefused"]
    assert refused["status"] == "True"
    assert refused["reason"] == "RequiredRolesUnfilled"
    assert "communications" in refused["message"]
    assert conditions(body)["Ready"]["status"] == "False"
    assert "resolved" not in body["status"]["timestamps"]
    assert store.events == [(NAME, "TransitionRefused", refused["message"], True)]

    # The same refusal seen again (resume, a status-only change) is not announced twice.
    await step(world, 31)
    assert len(store.events) == 1

    body = await step(world, 40, roles={"commander": "alice", "communications": "bob"})
    assert body["status"]["phase"] == "resolved"
    assert body["status"]["timestamps"]["mitigated"] == "2026-11-27T14:40:00Z"
    assert body["status"]["timestamps"]["resolved"] == "2026-11-27T14:40:00Z"
    assert body["status"]["durations"] == {
        "timeToAcknowledge": 240.0,
        "timeToMitigate": 2400.0,
        "timeToResolve": 2400.0,
    }
    assert conditions(body)["TransitionRefused"]["status"] == "False"
    assert conditions(body)["Ready"]["status"] == "True"
    # Filling the missing role is itself recorded (issue 4: role changes go to the timeline).
    assert [e["type"] for e in store.timeline(NS, NAME)] == [
        "state-changed",
        "transition-refused",
        "role-assigned",
        "state-changed",
    ]


async def test_an_slo_declared_incident_keeps_its_timestamps_and_timeline(
    world: tuple[FakeStore, FakeClock, IncidentLifecycleService],
) -> None:
    store, _, _ = world
    detected = "2026-11-27T13:50:00Z"
    await store.create_incident(
        NS, incident(source={"type": "slo", "ref": "checkout", "detectedAt": detected})
    )
    # What the SLO engine writes right after creating it.
    await store.patch_incident(
        NS,
        NAME,
        status={
            "timestamps": {"detected": detected, "declared": "2026-11-27T14:00:00Z"},
            "durations": {"timeToDetect": 600.0},
        },
    )
    await store.append_timeline(
        NS,
        NAME,
        [{"at": detected, "type": "burn-began", "message": "m", "key": "burn-began/x"}],
    )
    await step(world, 0)
    body = await step(world, 10, state="investigating")
    assert body["status"]["timestamps"] == {
        "detected": detected,
        "declared": "2026-11-27T14:00:00Z",
        "acknowledged": "2026-11-27T14:10:00Z",
    }
    assert body["status"]["durations"] == {"timeToDetect": 600.0, "timeToAcknowledge": 600.0}
    assert [e["type"] for e in store.timeline(NS, NAME)] == ["burn-began", "state-changed"]


async def test_a_missing_severity_refuses_resolution(
    world: tuple[FakeStore, FakeClock, IncidentLifecycleService],
) -> None:
    store, _, _ = world
    store.severities.clear()
    await store.create_incident(NS, incident(state="resolved", roles={"commander": "a"}))
    body = await step(world, 1)
    assert body["status"]["phase"] == "triage"
    refused = conditions(body)["TransitionRefused"]
    assert refused["reason"] == "SeverityNotFound"
    assert refused["message"].startswith("severity sev-2 not found")


async def test_an_invalid_spec_only_says_not_ready(
    world: tuple[FakeStore, FakeClock, IncidentLifecycleService],
) -> None:
    store, _, _ = world
    await store.create_incident(NS, incident(state="bogus"))
    body = await step(world, 1)
    assert "phase" not in body["status"]
    ready = conditions(body)["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")


async def test_an_up_to_date_incident_is_not_patched_again(
    world: tuple[FakeStore, FakeClock, IncidentLifecycleService],
) -> None:
    store, clock, service = world
    await store.create_incident(NS, incident(state="investigating"))
    body = await step(world, 1)
    clock.current += timedelta(minutes=5)
    plan = await service.reconcile(body)
    assert plan.status == {}
    assert plan.timeline == ()
    assert plan.event is None


async def test_merge_moves_the_timeline_to_the_survivor_once(
    world: tuple[FakeStore, FakeClock, IncidentLifecycleService],
) -> None:
    store, _, _ = world
    survivor = incident(roles={"commander": "alice"})
    survivor["metadata"]["name"] = "survivor"
    await store.create_incident(NS, survivor)
    await store.create_incident(NS, incident(roles={"commander": "bob"}))
    await step(world, 0)
    await store.append_timeline(
        NS, NAME, [{"at": "2026-11-27T14:01:00Z", "type": "note", "message": "db?", "key": "n1"}]
    )
    body = await step(world, 5, state="merged", mergedInto="survivor")
    assert body["status"]["phase"] == "merged"
    moved = store.timeline(NS, "survivor")
    assert [e["key"] for e in moved] == [
        "merged/checkout-errors/n1",
        "merged/checkout-errors/state/merged/2",
        "merged-from/checkout-errors",
    ]
    assert moved[0]["message"] == "[checkout-errors] db?"
    assert moved[0]["at"] == "2026-11-27T14:01:00Z"
    await step(world, 6)  # a later reconcile moves nothing again
    assert len(store.timeline(NS, "survivor")) == 3


async def test_merge_into_a_missing_incident_is_refused(
    world: tuple[FakeStore, FakeClock, IncidentLifecycleService],
) -> None:
    store, _, _ = world
    await store.create_incident(NS, incident(roles={"commander": "bob"}))
    await step(world, 0)
    body = await step(world, 1, state="merged", mergedInto="nope")
    assert body["status"]["phase"] == "triage"
    refused = conditions(body)["TransitionRefused"]
    assert refused["reason"] == "MergeTargetInvalid"
    assert "cannot merge into nope" in refused["message"]


async def test_severity_change_is_recorded_with_the_new_policy(
    world: tuple[FakeStore, FakeClock, IncidentLifecycleService],
) -> None:
    store, _, _ = world
    store.severities["sev-1"] = severity(
        "sev-1", 1, response={"ackWithin": "5m", "updateEvery": "15m"}, paging={"page": True}
    )
    await store.create_incident(NS, incident(roles={"commander": "bob"}))
    await step(world, 0)
    body = await step(world, 2, severityRef="sev-1")
    assert body["status"]["severity"] == "sev-1"
    changed = [e for e in store.timeline(NS, NAME) if e["type"] == "severity-changed"]
    assert len(changed) == 1
    assert changed[0]["message"].startswith("Severity sev-2 -> sev-1: ack within 5m")
    assert "update every 15m" in changed[0]["message"]
    assert "pages" in changed[0]["message"]


async def test_a_clock_stepped_back_never_stamps_a_transition_before_the_last(
    world: tuple[FakeStore, FakeClock, IncidentLifecycleService],
) -> None:
    """The chaos run's clock jump: resolved was stamped before mitigated, the figures went
    negative and the timeline ran backwards. The recorded milestones are the lower bound."""
    store, _, _ = world
    await store.create_incident(NS, incident(roles={"commander": "a", "communications": "b"}))
    await step(world, 0)
    body = await step(world, 30, state="mitigated")
    assert body["status"]["timestamps"]["mitigated"] == "2026-11-27T14:30:00Z"
    body = await step(world, 10, state="resolved")  # the node's clock went 20 minutes back
    stamps = body["status"]["timestamps"]
    assert stamps["resolved"] == "2026-11-27T14:30:00Z"
    assert body["status"]["durations"]["timeToResolve"] == 1800.0
    moves = [e["at"] for e in store.timeline(NS, NAME) if e["type"] == "state-changed"]
    assert moves == sorted(moves)
    assert len(moves) == 2
