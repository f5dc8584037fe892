"""Severity response policy: escalation schedule, acknowledgement, reminders, re-application."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from incident_operator.api.merge_patch import merge_patch
from incident_operator.api.v1alpha1.convert import merge_timeline
from incident_operator.domain import response
from incident_operator.domain.lifecycle import Phase
from incident_operator.domain.times import iso
from incident_operator.services.lifecycle_plan import plan_lifecycle
from incident_operator.services.response_policy import (
    ResponsePolicyService,
    needs_rotation,
    plan_response,
)
from tests.builders.objects import incident, severity
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.operator_metrics import RecordingMetrics
from tests.fakes.ports.store import FakeStore

DECLARED = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # a Thursday, 11:00 in Berlin
MIN = timedelta(minutes=1)
LAYER = response.TargetKind.LAYER
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def rotation_body() -> dict[str, Any]:
    docs = yaml.safe_load_all((EXAMPLES / "20-oncallrotation.yaml").read_text())
    return next(d for d in docs if d and d["kind"] == "OnCallRotation")


def severity_body(ack: str = "10m", every: str = "30m", name: str = "sev-2") -> dict[str, Any]:
    return severity(
        name,
        displayName=name,
        response={"ackWithin": ack, "updateEvery": every},
        rotationRef="checkout-oncall",
    )


def incident_body(phase: str = "triage", **status: Any) -> dict[str, Any]:
    return incident(
        "inc",
        created=None,
        title="t",
        status={"phase": phase, "timestamps": {"declared": "2026-11-26T10:00:00Z"}, **status},
    )


# --- domain ---------------------------------------------------------------------------------


def test_configured_steps_never_run_before_ack_within() -> None:
    steps = [
        response.Step(5 * MIN, response.Target(LAYER, "secondary")),
        response.Step(15 * MIN, response.Target.parse("person/dave")),
    ]
    planned = response.schedule(steps, (), declared=DECLARED, ack_within=10 * MIN)
    assert [(e.level, e.due - DECLARED, str(e.target)) for e in planned] == [
        (1, 10 * MIN, "layer/secondary"),
        (2, 15 * MIN, "person/dave"),
    ]


def test_without_steps_the_chain_walks_down_the_layers() -> None:
    planned = response.schedule(
        (), ("primary", "secondary", "third"), declared=DECLARED, ack_within=5 * MIN
    )
    assert [(e.due - DECLARED, e.target.name) for e in planned] == [
        (5 * MIN, "secondary"),
        (10 * MIN, "third"),
    ]


def test_acknowledgement_stops_the_chain_even_when_looked_at_late() -> None:
    planned = response.schedule((), ("a", "b", "c"), declared=DECLARED, ack_within=5 * MIN)
    late = DECLARED + 60 * MIN
    ran = response.due_escalations(planned, acknowledged=DECLARED + 7 * MIN, now=late)
    assert [e.level for e in ran] == [1]
    assert response.next_escalation(planned, acknowledged=DECLARED + 7 * MIN, now=late) is None
    assert response.due_escalations(planned, acknowledged=None, now=DECLARED + 4 * MIN) == ()
    upcoming = response.next_escalation(planned, acknowledged=None, now=DECLARED + 4 * MIN)
    assert upcoming is not None
    assert upcoming.level == 1


def test_repeats_run_the_chain_again_after_its_last_step() -> None:
    steps = [
        response.Step(10 * MIN, response.Target.parse("layer/secondary")),
        response.Step(25 * MIN, response.Target.parse("team/payments")),
    ]
    planned = response.schedule(steps, (), declared=DECLARED, ack_within=10 * MIN, repeats=2)
    # Round r: each step at its first-round time + r * 25 min (the last step's time).
    assert [(e.level, (e.due - DECLARED) // MIN, str(e.target)) for e in planned] == [
        (1, 10, "layer/secondary"),
        (2, 25, "team/payments"),
        (3, 35, "layer/secondary"),
        (4, 50, "team/payments"),
        (5, 60, "layer/secondary"),
        (6, 75, "team/payments"),
    ]
    assert len({e.key for e in planned}) == 6
    walked = response.schedule((), ("a", "b"), declared=DECLARED, ack_within=5 * MIN, repeats=1)
    assert [((e.due - DECLARED) // MIN, e.target.name) for e in walked] == [(5, "b"), (10, "b")]
    assert response.schedule((), ("a",), declared=DECLARED, ack_within=5 * MIN, repeats=3) == ()


def test_an_acknowledgement_mid_round_stops_the_repeats() -> None:
    steps = [response.Step(10 * MIN, response.Target.parse("person/dave"))]
    planned = response.schedule(steps, (), declared=DECLARED, ack_within=10 * MIN, repeats=5)
    ran = response.due_escalations(planned, acknowledged=DECLARED + 25 * MIN, now=DECLARED)
    assert ran == ()
    late = DECLARED + 600 * MIN
    ran = response.due_escalations(planned, acknowledged=DECLARED + 25 * MIN, now=late)
    assert [e.level for e in ran] == [1, 2]


@pytest.mark.parametrize(
    ("phase", "minutes", "expected"),
    [
        (Phase.INVESTIGATING, 29, None),
        (Phase.INVESTIGATING, 30, (1, 30)),
        (Phase.INVESTIGATING, 95, (3, 90)),  # only the latest lapse, no backlog
        (Phase.MITIGATED, 31, (1, 30)),
        (Phase.RESOLVED, 300, None),
    ],
)
def test_reminder_due(phase: Phase, minutes: int, expected: tuple[int, int] | None) -> None:
    found = response.reminder_due(
        phase, last=DECLARED, update_every=30 * MIN, now=DECLARED + minutes * MIN
    )
    if expected is None:
        assert found is None
    else:
        assert found is not None
        assert (found.periods, (found.due - DECLARED) // MIN) == expected


def test_last_update_counts_only_updates() -> None:
    updates = [("escalated", DECLARED + 50 * MIN), ("note", DECLARED + 20 * MIN)]
    assert response.last_update(DECLARED, updates) == DECLARED + 20 * MIN
    assert response.last_update(DECLARED, []) == DECLARED


# --- plan (pure service part) ---------------------------------------------------------------


def test_plan_escalates_to_the_person_on_call_in_the_layer_at_the_due_instant() -> None:
    plan = plan_response(incident_body(), severity_body(), rotation_body(), DECLARED + 11 * MIN)
    # Week of 2026-11-23: primary/secondary rotate weekly from 2026-03-02 (alice, bob, carol).
    weeks = (DECLARED - datetime(2026, 3, 2, 8, 0, tzinfo=UTC)).days // 7
    secondary = ["bob", "carol", "alice"][weeks % 3]
    assert [e["type"] for e in plan.timeline] == ["escalated"]
    assert secondary in plan.timeline[0]["message"]
    assert plan.timeline[0]["key"] == "escalation/1"
    assert plan.timeline[0]["at"] == "2026-11-26T10:10:00Z"
    assert plan.status["response"]["escalatedTo"] == [secondary]
    assert plan.status["response"]["escalationLevel"] == 1
    assert plan.status["response"]["nextEscalationAt"] == "2026-11-26T10:15:00Z"


def test_plan_records_each_step_that_ran_with_its_target_and_person() -> None:
    rotation = rotation_body()
    rotation["spec"]["escalation"] = [
        {"after": "10m", "notify": "person/dave"},
        {"after": "20m", "notify": "team/payments"},
    ]
    rotation["spec"]["escalationRepeats"] = 1
    plan = plan_response(incident_body(), severity_body(), rotation, DECLARED + 31 * MIN)
    assert plan.status["response"]["escalations"] == [
        {"level": 1, "target": "person/dave", "person": "dave", "at": "2026-11-26T10:10:00Z"},
        {"level": 2, "target": "team/payments", "at": "2026-11-26T10:20:00Z"},
        {"level": 3, "target": "person/dave", "person": "dave", "at": "2026-11-26T10:30:00Z"},
    ]
    assert plan.status["response"]["escalatedTo"] == ["dave"]
    assert plan.status["response"]["nextEscalationAt"] == "2026-11-26T10:40:00Z"
    assert "team payments (team/payments)" in plan.timeline[1]["message"]
    escalated = [e["key"] for e in plan.timeline if e["type"] == "escalated"]
    assert escalated == [f"escalation/{n}" for n in (1, 2, 3)]


def test_plan_is_idempotent_and_acknowledged_incidents_do_not_escalate() -> None:
    first = plan_response(incident_body(), severity_body(), rotation_body(), DECLARED + 16 * MIN)
    assert [e["key"] for e in first.timeline] == ["escalation/1", "escalation/2"]
    assert "dave (person/dave)" in first.timeline[1]["message"]
    again = plan_response(
        incident_body(timeline=list(first.timeline), response=first.status["response"]),
        severity_body(),
        rotation_body(),
        DECLARED + 17 * MIN,
    )
    assert again.timeline == ()
    acked = incident_body(
        "investigating",
        timestamps={"declared": "2026-11-26T10:00:00Z", "acknowledged": "2026-11-26T10:09:00Z"},
    )
    plan = plan_response(acked, severity_body(), rotation_body(), DECLARED + 16 * MIN)
    assert [e["type"] for e in plan.timeline] == []
    assert plan.status["response"]["escalationLevel"] == 0


def test_a_shorter_ack_within_after_a_severity_change_applies_at_once() -> None:
    at = DECLARED + 6 * MIN
    assert plan_response(incident_body(), severity_body("10m"), rotation_body(), at).timeline == ()
    tighter = plan_response(incident_body(), severity_body("5m"), rotation_body(), at)
    assert [e["key"] for e in tighter.timeline] == ["escalation/1"]


def test_reminder_when_the_update_cadence_lapses() -> None:
    body = incident_body(
        "investigating",
        timestamps={"declared": "2026-11-26T10:00:00Z", "acknowledged": "2026-11-26T10:01:00Z"},
        timeline=[{"at": "2026-11-26T10:20:00Z", "type": "note", "message": "m", "key": "n1"}],
    )
    quiet = plan_response(body, severity_body(), None, DECLARED + 49 * MIN)
    assert quiet.timeline == ()
    assert quiet.status["response"]["updateDue"] == "2026-11-26T10:50:00Z"
    due = plan_response(body, severity_body(), None, DECLARED + 51 * MIN)
    assert [e["type"] for e in due.timeline] == ["update-reminder"]
    assert due.timeline[0]["key"] == "reminder/2026-11-26T10:20:00Z/1"


def test_terminal_and_unaccepted_incidents_get_nothing() -> None:
    now = DECLARED + 60 * MIN
    assert plan_response(incident_body("closed"), severity_body(), None, now).timeline == ()
    unaccepted = incident_body()
    del unaccepted["status"]["phase"]
    assert plan_response(unaccepted, severity_body(), None, now).status == {}


# --- service with the in-memory store ---------------------------------------------------------


async def test_service_appends_once_and_counts_escalations() -> None:
    store = FakeStore()
    store.severities["sev-2"] = severity_body("5m")
    store.rotations[("shop", "checkout-oncall")] = rotation_body()
    body = incident_body()
    await store.create_incident("shop", body)
    await store.patch_incident("shop", "inc", status=body["status"])
    metrics = RecordingMetrics()
    clock = FakeClock(DECLARED + 6 * MIN)
    service = ResponsePolicyService(store, clock, metrics=metrics)
    for _ in range(2):
        current = await store.get_incident("shop", "inc")
        assert current is not None
        plan = await service.plan(current)
        await service.record(current, plan)
    assert [e["key"] for e in store.timeline("shop", "inc")] == ["escalation/1"]
    assert metrics.calls.count(("escalation", "sev-2")) == 1


def test_what_ran_stays_recorded_after_the_acknowledgement() -> None:
    ran = plan_response(incident_body(), severity_body(), rotation_body(), DECLARED + 16 * MIN)
    recorded = ran.status["response"]
    assert recorded["escalationLevel"] == 2
    acked = incident_body(
        "investigating",
        timestamps={"declared": "2026-11-26T10:00:00Z", "acknowledged": "2026-11-26T10:17:00Z"},
        timeline=list(ran.timeline),
        response=recorded,
    )
    assert not needs_rotation(acked), "the next step was due after the acknowledgement"
    plan = plan_response(acked, severity_body(), None, DECLARED + 30 * MIN)
    assert plan.status == {"response": {"ackDue": None}}, "only the due instant goes"


def test_a_step_due_before_a_late_acknowledgement_is_still_recorded() -> None:
    ran = plan_response(incident_body(), severity_body(), rotation_body(), DECLARED + 11 * MIN)
    # Step 2 fell due at 10:15; the acknowledgement came at 10:16, before any tick saw it.
    acked = incident_body(
        "investigating",
        timestamps={"declared": "2026-11-26T10:00:00Z", "acknowledged": "2026-11-26T10:16:00Z"},
        timeline=list(ran.timeline),
        response=ran.status["response"],
    )
    assert needs_rotation(acked)
    plan = plan_response(acked, severity_body(), rotation_body(), DECLARED + 20 * MIN)
    assert [e["key"] for e in plan.timeline if e["type"] == "escalated"] == ["escalation/2"]
    assert plan.status["response"]["escalationLevel"] == 2


# --- the cadence written with a state change --------------------------------------------------


def written(body: dict[str, Any], status: dict[str, Any], entries: Any = ()) -> dict[str, Any]:
    """``body`` as the API server keeps it after a status write (merge patch, then entries)."""
    merged = merge_patch(body.get("status") or {}, status)
    merged.update(merge_timeline(merged, list(entries)) or {})
    return {**body, "status": merged}


def run_by_the_timer(every: str = "30m") -> tuple[dict[str, Any], dict[str, Any]]:
    """An incident declared at DECLARED whose response the timer has kept since."""
    sev = severity_body(every=every)
    body = incident(
        "inc", created="2026-11-26T10:00:00Z", title="t", state="triage", roles={"commander": "al"}
    )
    body["metadata"]["generation"] = 1
    declared = plan_lifecycle(body, sev, DECLARED)
    assert "response" not in declared.status, "the timer's block: the lifecycle never starts it"
    body = written(body, declared.status, declared.timeline)
    ticked = plan_response(body, sev, rotation_body(), DECLARED + MIN)
    body = written(body, ticked.status, ticked.timeline)
    assert body["status"]["response"]["lastUpdate"] == "2026-11-26T10:00:00Z"
    return body, sev


def with_state(body: dict[str, Any], state: str) -> dict[str, Any]:
    meta = {**body["metadata"], "generation": body["metadata"]["generation"] + 1}
    return {**body, "metadata": meta, "spec": {**body["spec"], "state": state}}


def test_a_state_change_moves_updated_in_its_own_write_and_the_timer_agrees() -> None:
    body, sev = run_by_the_timer()
    at = DECLARED + 20 * MIN
    plan = plan_lifecycle(with_state(body, "investigating"), sev, at)
    assert plan.status["response"] == {"lastUpdate": iso(at), "updateDue": iso(at + 30 * MIN)}
    assert [e["type"] for e in plan.timeline] == ["state-changed"]
    after = written(with_state(body, "investigating"), plan.status, plan.timeline)
    # The timer reads the same cadence off the timeline: it has nothing to catch up.
    ticked = plan_response(after, sev, rotation_body(), at + MIN)
    assert {"lastUpdate", "updateDue"}.isdisjoint(ticked.status.get("response") or {})


def test_a_resolution_ends_the_update_cadence_with_the_phase() -> None:
    body, sev = run_by_the_timer()
    at = DECLARED + 45 * MIN
    plan = plan_lifecycle(with_state(body, "resolved"), sev, at)
    assert plan.status["phase"] == "resolved"
    assert plan.status["response"] == {"lastUpdate": iso(at), "updateDue": None}


def test_no_cadence_without_a_state_change_or_once_terminal() -> None:
    body, sev = run_by_the_timer()
    again = plan_lifecycle(body, sev, DECLARED + 5 * MIN)
    assert "response" not in again.status  # nothing new in the timeline
    declined = plan_lifecycle(with_state(body, "declined"), sev, DECLARED + 5 * MIN)
    assert declined.status["phase"] == "declined"
    assert "response" not in declined.status  # the timer removes the block: not ours to touch
