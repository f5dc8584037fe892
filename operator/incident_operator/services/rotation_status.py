"""Use case: an OnCallRotation's observed status — who is on call now, next handoff, upcoming.

The same Ready rule as every kind (services/status.py) plus what only a computed schedule can
reveal: a time zone the tz database does not know passes the schema's pattern, so it is
found here and reported as Ready=False instead of crashing the refresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from incident_operator.api.v1alpha1.convert import condition_from_domain, existing_conditions
from incident_operator.api.v1alpha1.rotation import (
    MAX_VERSIONS,
    OnCallRotation,
    OnCallRotationSpec,
    OnCallRotationStatus,
    RotationVersion,
    Shift,
)
from incident_operator.domain import rotation as schedule
from incident_operator.domain.readiness import observe

UPCOMING = 10
"""How many upcoming shifts the status lists (enough for a glance, small for the object)."""

STATUS_KEYS = (
    "observedGeneration",
    "conditions",
    "versions",
    "onCall",
    "nextHandoff",
    "upcomingShifts",
)


def recorded_versions(body: Mapping[str, Any]) -> list[RotationVersion]:
    """``status.versions`` as stored (unreadable entries skipped)."""
    out = []
    for raw in (body.get("status") or {}).get("versions") or []:
        try:
            out.append(RotationVersion.model_validate(raw))
        except ValidationError:
            continue
    return out


def with_current(
    recorded: list[RotationVersion], model: OnCallRotation, generation: int
) -> list[RotationVersion]:
    """The recorded versions plus the current spec (replacing an entry of its generation),
    at most ``MAX_VERSIONS``, oldest dropped first."""
    current = RotationVersion(
        generation=generation,
        effective_from=model.spec.effective_from,
        spec=model.spec.model_dump(by_alias=True, mode="json", exclude_none=True),
    )
    kept = [v for v in recorded if v.generation < generation]
    return [*kept, current][-MAX_VERSIONS:]


def schedule_versions(versions: list[RotationVersion]) -> list[schedule.Rotation]:
    """The versions as the engine's values (unreadable ones skipped)."""
    out = []
    for version in versions:
        try:
            out.append(OnCallRotationSpec.model_validate(version.spec).to_domain())
        except (ValidationError, ValueError):
            continue
    return out


def all_versions(body: Mapping[str, Any], spec: OnCallRotationSpec) -> list[schedule.Rotation]:
    """The versions recorded before the object's current generation, then its current spec:
    what ``schedule.on_call_across`` needs to answer for any instant."""
    generation = int((body.get("metadata") or {}).get("generation", 0))
    earlier = [v for v in recorded_versions(body) if v.generation < generation]
    return [*schedule_versions(earlier), spec.to_domain()]


def schedule_problems(spec: OnCallRotationSpec) -> tuple[str, ...]:
    """Problems the schema cannot see; empty when the schedule can be computed."""
    try:
        schedule.zone_of(spec.to_domain())
    except schedule.UnknownTimeZone as exc:
        return (f"spec.timeZone: {exc}",)
    return ()


def _shift(shift: schedule.Shift) -> Shift | None:
    if shift.person is None:
        return None
    return Shift(layer=shift.layer, person=shift.person, start=shift.start, end=shift.end)


def rotation_status(
    body: Mapping[str, Any], now: datetime, upcoming: int = UPCOMING
) -> dict[str, Any]:
    """The complete status to merge: every key in ``STATUS_KEYS`` is present (None deletes),
    so a schedule that became uncomputable never leaves a stale on-call person behind."""
    generation = int(body.get("metadata", {}).get("generation", 0))
    on_call: list[Shift] = []
    upcoming_shifts: list[Shift] = []
    next_handoff: datetime | None = None
    versions = recorded_versions(body)
    try:
        model = OnCallRotation.model_validate({k: v for k, v in body.items() if k != "status"})
    except ValidationError as exc:
        problems = tuple(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
    else:
        problems = schedule_problems(model.spec)
        versions = with_current(versions, model, generation)
        if not problems:
            # The version in force now: an edit with a future effectiveFrom leaves the previous
            # one on call until then.
            rotation = schedule.version_at(schedule_versions(versions), now) or (
                model.spec.to_domain()
            )
            current = schedule.current_shifts(rotation, now)
            on_call = [s for s in map(_shift, current) if s is not None]
            ends = [s.end for s in current if s.end is not None]
            next_handoff = min(ends) if ends else None
            upcoming_shifts = [
                s
                for s in map(_shift, schedule.upcoming_shifts(rotation, now, upcoming))
                if s is not None
            ]
    observation = observe(
        generation=generation, existing=existing_conditions(body), problems=problems, now=now
    )
    status = OnCallRotationStatus(
        observed_generation=observation.observed_generation,
        conditions=[condition_from_domain(c) for c in observation.conditions],
        versions=versions,
        on_call=on_call,
        next_handoff=next_handoff,
        upcoming_shifts=upcoming_shifts,
    )
    dumped: dict[str, Any] = status.model_dump(by_alias=True, mode="json", exclude_none=True)
    return {key: dumped.get(key) for key in STATUS_KEYS}
