"""The lifecycle planner: one incident's status patch, timeline entries and Event (no I/O).

``plan_lifecycle`` asks the domain (``domain/lifecycle``) whether the requested state may be
taken, and turns its decision into what the lifecycle service writes: phase, milestones,
MTTx figures, roles (the rotation's, asked once at declaration: ``wants_rotation``),
severity and the Ready/TransitionRefused conditions — only the keys that changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from incident_operator.adapters.ports import Body
from incident_operator.api.v1alpha1.convert import existing_conditions
from incident_operator.api.v1alpha1.incident import Incident, SourceType
from incident_operator.api.v1alpha1.severity import Severity
from incident_operator.domain import conclusions, lifecycle
from incident_operator.domain import roles as domain_roles
from incident_operator.domain.conditions import Condition, Status, set_condition
from incident_operator.domain.readiness import READY, observe
from incident_operator.domain.times import iso, parse_time

from .field_ownership import FIELD_CONFLICT
from .incidents import conclusion_of, intent_of, requested_state, severity_of
from .lifecycle_status import common_fields, entry, only_changes, stored_phase, stored_timestamps
from .response_policy import cadence_with_entries
from .roles import UNFILLED, RotationAnswer
from .status import _problems

TRANSITION_REFUSED = "TransitionRefused"
"""Condition type and Event reason when a requested state was not applied."""


# Sources whose own writer stamps declared/detected (with its own, better-known instant).
SELF_DECLARING = frozenset({SourceType.SLO, SourceType.ALERTMANAGER})


@dataclass(frozen=True)
class LifecyclePlan:
    """Everything one reconcile writes; empty fields mean nothing to write."""

    status: Body
    """JSON merge patch for the status subresource (only changed keys)."""
    timeline: tuple[Body, ...]
    event: str | None
    """Message of a Warning Event ``TransitionRefused`` to post, or None."""
    decision: lifecycle.Decision | None
    """None when the spec itself is invalid (then only Ready=False is written)."""


def required_roles(severity: Body | None) -> tuple[str, ...] | None:
    """The Severity's required roles; None when it is missing or unreadable (policy unknown)."""
    if severity is None:
        return None
    try:
        model = Severity.model_validate(severity)
    except ValidationError:
        return None
    return tuple(role.value for role in model.spec.response.required_roles)


def transition_time(
    status: Mapping[str, Any], milestones: Mapping[lifecycle.Milestone, datetime], now: datetime
) -> datetime:
    """The instant a transition is stamped at: ``now``, but never before what is recorded.

    A node's clock that stepped back (NTP correction, a restarted VM) would otherwise stamp
    ``resolved`` before ``mitigated`` and order the timeline backwards; the milestones and
    the state-changed entries already written are the lower bound.
    """
    latest = list(milestones.values())
    for item in status.get("timeline") or []:
        if (
            isinstance(item, dict)
            and item.get("type") == "state-changed"
            and (at := parse_time(item.get("at"))) is not None
        ):
            latest.append(at)
    return max([now, *latest])


def plan_lifecycle(
    body: Mapping[str, Any],
    severity: Body | None,
    now: datetime,
    rotation: RotationAnswer | None = None,
    *,
    merge_target_exists: bool = True,
    postmortem_blocking: str | None = None,
) -> LifecyclePlan:
    """Decide the status patch, timeline entries and Event for one incident (no I/O).

    ``rotation``: the rotation's answer at the declaration instant, given only the first time
    (``wants_rotation``); afterwards the answer kept in ``status.rotationRoles`` is used.
    """
    meta = body.get("metadata") or {}
    generation = int(meta.get("generation", 0))
    status: Mapping[str, Any] = body.get("status") or {}
    conditions = existing_conditions(body)
    try:
        incident = Incident.model_validate({k: v for k, v in body.items() if k != "status"})
    except ValidationError as exc:
        observation = observe(
            generation=generation, existing=conditions, problems=_problems(exc), now=now
        )
        patch = only_changes(status, common_fields(observation.observed_generation, observation))
        return LifecyclePlan(patch, (), None, None)

    spec = incident.spec
    stamped = stored_timestamps(status)
    created = parse_time(meta.get("creationTimestamp")) or now
    patch_stamps: dict[str, str | None] = {}
    declared = stamped.declared
    detected = stamped.detected
    if spec.source.type not in SELF_DECLARING:
        # A human declared it: the object's creation is the declaration.
        if declared is None:
            declared = created
            patch_stamps["declared"] = iso(created)
        if detected is None and spec.source.detected_at is not None:
            detected = spec.source.detected_at
            patch_stamps["detected"] = iso(detected)
    origin = declared or created
    assignment, rotation_patch, role_timeline = _roles(
        spec.roles.model_dump(), status, rotation, generation, now
    )
    milestones = {
        m: at for m in lifecycle.Milestone if (at := getattr(stamped, m.value)) is not None
    }
    moment = transition_time(status, milestones, now)
    requested, severity_name, kept = _effective(body, spec.state.value)
    decision = lifecycle.decide_transition(
        stored_phase(status),
        requested,
        moment,
        roles=assignment.roles,
        required_roles=required_roles(severity),
        timestamps=milestones,
        declared=origin,
        detected=detected,
        severity=severity_name,
        merged_into=spec.merged_into,
        name=str(meta.get("name", "")),
        merge_target_exists=merge_target_exists,
        postmortem_blocking=postmortem_blocking,
    )
    observation = observe(generation=generation, existing=conditions, problems=(), now=now)
    known_keys = {e.get("key") for e in status.get("timeline") or [] if isinstance(e, dict)}
    if isinstance(decision, lifecycle.Refused):
        outcome = _refused(decision, observation.conditions, known_keys, generation, now)
    else:
        outcome = _accepted(
            decision, observation.conditions, (milestones, origin, detected), generation, moment
        )
    settled = _superseded(outcome.conditions, generation, now)
    full: Body = common_fields(generation, observation, settled)
    full["phase"] = decision.phase.value
    full["severity"] = severity_name
    if kept:
        full["conclusions"] = kept
    full["roles"] = {role: assignment.roles.get(role) for role in domain_roles.ROLES}
    full.update(rotation_patch)
    stamps = {**patch_stamps, **outcome.stamps}
    if stamps:
        full["timestamps"] = stamps
    if outcome.durations:
        full["durations"] = outcome.durations
    timeline = tuple(
        e
        for e in role_timeline
        + outcome.timeline
        + _severity_change(status, severity_name, severity, generation, now)
        if e["key"] not in known_keys
    )
    # A state change is a status update: "Updated" (status.response) moves with it.
    cadence = cadence_with_entries(status, severity, decision.phase, timeline)
    return LifecyclePlan(only_changes(status, full | cadence), timeline, outcome.event, decision)


def _superseded(
    conditions: tuple[Condition, ...], generation: int, now: datetime
) -> tuple[Condition, ...]:
    """A FieldConflict about an older spec is over: the spec has changed since."""
    for c in conditions:
        if (
            c.type == FIELD_CONFLICT
            and c.status is Status.TRUE
            and (c.observed_generation or 0) < generation
        ):
            conditions = set_condition(
                conditions,
                Condition(
                    FIELD_CONFLICT,
                    Status.FALSE,
                    "Superseded",
                    "the spec changed since",
                    now,
                    generation,
                ),
            )
    return conditions


def _effective(body: Mapping[str, Any], state: str) -> tuple[lifecycle.Phase, str, dict[str, None]]:
    """The state and severity in force, and the superseded conclusions to drop.

    A conclusion holds while the spec still says what it was drawn over; once a human (or
    Git) changed that field, their value wins and the conclusion is removed from status.
    """
    superseded: dict[str, None] = {}
    for subject in conclusions.Subject:
        found = conclusion_of(body, subject)
        if found is not None and not conclusions.holds(intent_of(body, subject), found):
            superseded[subject.value] = None
    try:
        requested = lifecycle.Phase(requested_state(body))
    except ValueError:  # an unreadable conclusion: the human's state stands
        requested = lifecycle.Phase(state)
    return requested, severity_of(body), superseded


def policy_text(severity: Body | None) -> str:
    """The response policy a Severity imposes, in one line for the timeline."""
    if severity is None:
        return "severity not found: no policy applies until it exists"
    try:
        spec = Severity.model_validate(severity).spec
    except ValidationError:
        return "severity unreadable: no policy applies until it is fixed"
    response = spec.response
    roles = ", ".join(r.value for r in response.required_roles) or "none"
    return (
        f"ack within {response.ack_within}, update every {response.update_every}, "
        f"required roles {roles}, {'pages' if spec.paging.page else 'no paging'}, "
        f"postmortem {'required' if spec.postmortem.required else 'optional'}"
    )


def _severity_change(
    status: Mapping[str, Any],
    requested: str,
    severity: Body | None,
    generation: int,
    now: datetime,
) -> tuple[Body, ...]:
    """A ``severity-changed`` entry when the accepted severity moves (the policy re-applies)."""
    before = status.get("severity")
    if stored_phase(status) is None or not before or before == requested:
        return ()
    message = f"Severity {before} -> {requested}: {policy_text(severity)}"
    return (entry(now, "severity-changed", message, f"severity/{requested}/{generation}"),)


def wants_rotation(body: Mapping[str, Any], severity: Body | None) -> str | None:
    """The rotation to ask, once: at the first reconcile of an incident with no commander.

    Once, because roles come from who was on call at *declaration*; asking again later would
    hand the incident to whoever is on call now. SLO-declared incidents are skipped: the SLO
    engine already asked (its roles are in the spec, or its timeline says why not).
    """
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    if stored_phase(status) is not None or "rotationRoles" in status:
        return None
    if (spec.get("roles") or {}).get("commander"):
        return None
    if (spec.get("source") or {}).get("type") == SourceType.SLO.value:
        return None
    ref = spec.get("rotationRef") or ((severity or {}).get("spec") or {}).get("rotationRef")
    return ref if isinstance(ref, str) and ref else None


def _roles(
    spec_roles: Mapping[str, str | None],
    status: Mapping[str, Any],
    rotation: RotationAnswer | None,
    generation: int,
    now: datetime,
) -> tuple[domain_roles.RoleAssignment, Body, tuple[Body, ...]]:
    """Effective roles, the ``rotationRoles`` patch (first time only) and role entries."""
    patch: Body = {}
    entries: list[Body] = []
    if rotation is not None:
        offered = rotation.roles
        patch["rotationRoles"] = {
            "commander": offered.commander if offered else None,
            "operations": offered.operations if offered else None,
        }
        if rotation.problem is not None:
            entries.append(entry(now, UNFILLED, rotation.problem, "roles-unfilled"))
    else:
        kept = status.get("rotationRoles") or {}
        offered = domain_roles.RotationRoles(
            kept.get("commander"), kept.get("operations"), None, None
        )
    assignment = domain_roles.effective_roles(spec_roles, offered)
    # At the first reconcile the spec's roles are part of the declaration itself (already in
    # the object a human wrote), so only what the rotation added there is news.
    if stored_phase(status) is None:
        old: Mapping[str, Any] = {r: v for r, v in spec_roles.items() if v}
    else:
        kept_roles = status.get("roles")
        old = kept_roles if isinstance(kept_roles, dict) else {}
    for change in domain_roles.role_entries(
        old,
        assignment.roles,
        from_rotation=assignment.from_rotation,
        version=str(generation),
    ):
        entries.append(entry(now, change.type, change.message, change.key))
    return assignment, patch, tuple(entries)


@dataclass(frozen=True)
class _Outcome:
    conditions: tuple[Condition, ...]
    timeline: tuple[Body, ...] = ()
    event: str | None = None
    stamps: dict[str, str | None] = field(default_factory=dict)
    durations: dict[str, float | None] = field(default_factory=dict)


def _refused(
    decision: lifecycle.Refused,
    conditions: tuple[Condition, ...],
    known_keys: set[Any],
    generation: int,
    now: datetime,
) -> _Outcome:
    """Ready=False and TransitionRefused=True; the Event only the first time (keyed)."""
    for condition in (
        Condition(READY, Status.FALSE, TRANSITION_REFUSED, decision.message, now, generation),
        Condition(
            TRANSITION_REFUSED,
            Status.TRUE,
            decision.reason.value,
            decision.message,
            now,
            generation,
        ),
    ):
        conditions = set_condition(conditions, condition)
    key = f"refused/{decision.requested}/{generation}"
    if key in known_keys:
        return _Outcome(conditions)
    refusal = entry(now, "transition-refused", f"Refused: {decision.message}", key)
    return _Outcome(conditions, (refusal,), decision.message)


def _accepted(
    decision: lifecycle.Accepted,
    conditions: tuple[Condition, ...],
    clock: tuple[Mapping[lifecycle.Milestone, datetime], datetime, datetime | None],
    generation: int,
    now: datetime,
) -> _Outcome:
    """Stamps, every MTTx figure, a timeline entry for a real move; an old refusal turns False.

    ``clock`` is (milestones already stamped, origin of the figures, detected instant).
    """
    milestones, origin, detected = clock
    if any(c.type == TRANSITION_REFUSED for c in conditions):
        conditions = set_condition(
            conditions,
            Condition(
                TRANSITION_REFUSED,
                Status.FALSE,
                "Accepted",
                f"state {decision.phase} accepted",
                now,
                generation,
            ),
        )
    stamps = {m.value: None if at is None else iso(at) for m, at in decision.stamps.items()}
    after = {m: at for m, at in {**milestones, **decision.stamps}.items() if at is not None}
    durations: dict[str, float | None] = {
        figure.value: value for figure, value in lifecycle.figures(after, origin, detected).items()
    }
    durations.update({f.value: v for f, v in decision.durations.items() if v is None})
    timeline: tuple[Body, ...] = ()
    phase = decision.phase
    if decision.changed and not (decision.previous is None and phase is lifecycle.Phase.TRIAGE):
        start = decision.previous or lifecycle.Phase.TRIAGE
        reached = [m.value for m, at in decision.stamps.items() if at is not None]
        message = f"State {start} -> {phase}" + (
            f" (stamped {', '.join(reached)})" if reached else ""
        )
        timeline = (entry(now, "state-changed", message, f"state/{phase}/{generation}"),)
    return _Outcome(conditions, timeline, None, stamps, durations)
