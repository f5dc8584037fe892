"""Use case: apply the Severity's response policy to one open incident, now.

Runs on a timer (handlers/response_policy.py) and is idempotent: every escalation and
reminder is a timeline entry with a deterministic key, so a second tick, a restart or two
operators looking at once add nothing twice. Reads the Severity every tick, so changing an
incident's ``severityRef`` re-applies the new policy at once (shorter ackWithin → earlier
escalation; the new cadence for reminders); what already ran stays in the timeline.

Who is notified is decided at the step's due instant (the person on call in that layer
*then*), not when the operator happens to look, so a late tick never pages the next shift.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from incident_operator.adapters.ports import (
    Body,
    Clock,
    NoOperatorMetrics,
    OperatorMetrics,
    ResourceStore,
)
from incident_operator.api.v1alpha1.incident import Incident
from incident_operator.api.v1alpha1.rotation import OnCallRotation
from incident_operator.api.v1alpha1.severity import Severity
from incident_operator.domain import lifecycle, response, status_diff
from incident_operator.domain.durations import parse_duration
from incident_operator.domain.rotation import UnknownTimeZone, on_call_across
from incident_operator.domain.times import iso, parse_time
from incident_operator.services.incidents import severity_of

from .lifecycle_status import entry
from .rotation_status import all_versions

ESCALATED = "escalated"
REMINDER = "update-reminder"


@dataclass(frozen=True)
class ResponsePlan:
    status: Body
    """Merge patch for ``status.response`` (empty: nothing changed)."""
    timeline: tuple[Body, ...]
    escalations: tuple[response.Escalation, ...]
    """Escalations that are new in this plan (for the metrics)."""


def needs_rotation(body: Mapping[str, Any]) -> bool:
    """Only an unacknowledged incident can still escalate (and so needs its rotation), or
    one acknowledged after a step fell due that no tick has recorded yet."""
    status = body.get("status") or {}
    acknowledged = parse_time((status.get("timestamps") or {}).get("acknowledged"))
    if acknowledged is not None:
        upcoming = parse_time((status.get("response") or {}).get("nextEscalationAt"))
        return upcoming is not None and upcoming < acknowledged
    return (status.get("phase") or "triage") == lifecycle.Phase.TRIAGE.value


def plan_response(
    body: Mapping[str, Any],
    severity_body: Body | None,
    rotation_body: Body | None,
    now: datetime,
) -> ResponsePlan:
    """Decide escalations, the reminder and ``status.response`` for one incident (no I/O)."""
    status: Mapping[str, Any] = body.get("status") or {}
    try:
        Incident.model_validate({k: v for k, v in body.items() if k != "status"})
        severity = Severity.model_validate(severity_body) if severity_body else None
    except ValidationError:
        return ResponsePlan({}, (), ())
    phase_text = status.get("phase")
    stamps = status.get("timestamps") or {}
    declared = parse_time(stamps.get("declared"))
    if severity is None or not phase_text or declared is None:
        return ResponsePlan({}, (), ())  # the lifecycle has not accepted it yet
    phase = lifecycle.Phase(str(phase_text))
    if phase in lifecycle.TERMINAL:
        return ResponsePlan({"response": None} if status.get("response") else {}, (), ())
    policy = severity.spec.response
    severity_name = severity_of(body)
    acknowledged = parse_time(stamps.get("acknowledged"))
    timeline = [e for e in status.get("timeline") or [] if isinstance(e, dict)]
    known = {e.get("key") for e in timeline}
    entries: list[Body] = []

    steps, layers, rotation = _chain(rotation_body)
    planned = response.schedule(
        steps,
        layers,
        declared=declared,
        ack_within=parse_duration(policy.ack_within),
        repeats=rotation.spec.escalation_repeats if rotation else 0,
    )
    ran = response.due_escalations(planned, acknowledged=acknowledged, now=now)
    notified: list[str] = []
    records: list[Body] = []
    new: list[response.Escalation] = []
    for escalation in ran:
        person = _person(escalation, rotation, rotation_body)
        if person and person not in notified:
            notified.append(person)
        records.append(_record(escalation, person))
        if escalation.key in known:
            continue
        message = response.escalation_message(escalation, person, severity_name)
        entries.append(entry(escalation.due, ESCALATED, message, escalation.key))
        new.append(escalation)
    upcoming = response.next_escalation(planned, acknowledged=acknowledged, now=now)

    every = parse_duration(policy.update_every)
    last, cadence = update_cadence(phase, declared, timeline, every)
    reminder = response.reminder_due(phase, last=last, update_every=every, now=now)
    if reminder is not None and reminder.key not in known:
        entries.append(
            entry(reminder.due, REMINDER, response.reminder_message(reminder), reminder.key)
        )

    wanted = {
        "ackDue": iso(planned[0].due) if planned and acknowledged is None else None,
        "escalationLevel": len(ran),
        "escalatedTo": notified,
        "escalations": records,
        "nextEscalationAt": iso(upcoming.due) if upcoming else None,
        **cadence,
    }
    have = status.get("response") or {}
    if rotation_body is None and acknowledged is not None:
        # The chain is over and its rotation was not read: what ran stays as recorded.
        for key in ("escalationLevel", "escalatedTo", "escalations"):
            wanted.pop(key)
    patch = status_diff.changed(have, wanted, same=status_diff.same_instant)
    return ResponsePlan({"response": patch} if patch else {}, tuple(entries), tuple(new))


def _record(escalation: response.Escalation, person: str | None) -> Body:
    """``status.response.escalations[]``: what comms pages and messages for this step."""
    record: Body = {"level": escalation.level, "target": str(escalation.target)}
    if person:
        record["person"] = person
    record["at"] = iso(escalation.due)
    return record


def update_cadence(
    phase: lifecycle.Phase,
    declared: datetime,
    timeline: Iterable[Mapping[str, Any]],
    update_every: timedelta,
) -> tuple[datetime, Body]:
    """The latest status update in ``timeline`` (at least the declaration) and the
    ``lastUpdate``/``updateDue`` of ``status.response`` it makes."""
    updates = [(str(e.get("type")), at) for e in timeline if (at := parse_time(e.get("at")))]
    last = response.last_update(declared, updates)
    due = response.next_update_due(phase, last=last, update_every=update_every)
    return last, {"lastUpdate": iso(last), "updateDue": _iso_or_none(due)}


def cadence_with_entries(
    status: Mapping[str, Any],
    severity_body: Body | None,
    phase: lifecycle.Phase,
    entries: Iterable[Mapping[str, Any]],
) -> Body:
    """``{"response": ...}``: the cadence once ``entries`` are in the timeline at ``phase``, for a
    writer other than the timer (the lifecycle, whose state change is itself an update).

    Without it the "Updated" column and ``updateDue`` lagged a state change by up to the
    timer's interval, and the timer spent a status write of its own on catching up. Empty
    unless the timer already keeps a ``status.response`` (it owns the rest of the block), the
    phase still has one, and the cadence moved.
    """
    have = status.get("response")
    declared = parse_time((status.get("timestamps") or {}).get("declared"))
    if not isinstance(have, dict) or declared is None or phase in lifecycle.TERMINAL:
        return {}
    entries = list(entries)
    if not any(e.get("type") in response.UPDATE_TYPES for e in entries):
        return {}  # nothing new that counts as an update: spare the Severity's parse
    try:
        severity = Severity.model_validate(severity_body) if severity_body else None
    except ValidationError:
        return {}
    if severity is None:
        return {}
    timeline = [e for e in status.get("timeline") or [] if isinstance(e, dict)]
    _, cadence = update_cadence(
        phase, declared, [*timeline, *entries], parse_duration(severity.spec.response.update_every)
    )
    moved = status_diff.changed(have, cadence, same=status_diff.same_instant)
    return {"response": moved} if moved else {}


def _iso_or_none(at: datetime | None) -> str | None:
    return iso(at) if at is not None else None


def _chain(
    rotation_body: Body | None,
) -> tuple[tuple[response.Step, ...], tuple[str, ...], OnCallRotation | None]:
    """Steps, layer names and the model; an unreadable rotation escalates to nobody (named)."""
    if rotation_body is None:
        return (), (), None
    try:
        model = OnCallRotation.model_validate(
            {k: v for k, v in rotation_body.items() if k != "status"}
        )
    except ValidationError:
        return (), (), None
    return model.spec.escalation_chain(), tuple(la.name for la in model.spec.layers), model


def _person(
    escalation: response.Escalation, rotation: OnCallRotation | None, body: Body | None
) -> str | None:
    """Who the step reaches at its due instant (under the schedule version in force then)."""
    target = escalation.target
    if target.kind is response.TargetKind.PERSON:
        return target.name
    if rotation is None or target.kind is response.TargetKind.TEAM:
        return None
    try:
        layers = on_call_across(all_versions(body or {}, rotation.spec), escalation.due)
    except (UnknownTimeZone, ValueError):
        return None
    return next((la.person for la in layers if la.layer == target.name), None)


class ResponsePolicyService:
    """Reads the Severity (and the rotation while escalation is possible), plans, records."""

    def __init__(
        self, store: ResourceStore, clock: Clock, *, metrics: OperatorMetrics | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._metrics: OperatorMetrics = metrics if metrics is not None else NoOperatorMetrics()

    async def plan(self, body: Mapping[str, Any]) -> ResponsePlan:
        spec = body.get("spec") or {}
        ref = severity_of(body)
        severity = await self._store.get_severity(ref) if ref else None
        rotation = None
        if severity is not None and needs_rotation(body):
            name = spec.get("rotationRef") or (severity.get("spec") or {}).get("rotationRef")
            if isinstance(name, str) and name:
                namespace = str((body.get("metadata") or {}).get("namespace", ""))
                rotation = await self._store.get_rotation(namespace, name)
        return plan_response(body, severity, rotation, self._clock.now())

    async def record(self, body: Mapping[str, Any], plan: ResponsePlan) -> None:
        """Timeline entries and metrics; the status patch is the caller's (kopf's patch)."""
        if plan.timeline:
            meta = body["metadata"]
            await self._store.append_timeline(meta["namespace"], meta["name"], plan.timeline)
        severity = severity_of(body)
        for _ in plan.escalations:
            self._metrics.escalation(severity)
