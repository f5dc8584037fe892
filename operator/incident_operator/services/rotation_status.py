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
    OnCallRotation,
    OnCallRotationSpec,
    OnCallRotationStatus,
    Shift,
)
from incident_operator.domain import rotation as schedule
from incident_operator.domain.readiness import observe

UPCOMING = 10
"""How many upcoming shifts the status lists (enough for a glance, small for the object)."""

STATUS_KEYS = ("observedGeneration", "conditions", "onCall", "nextHandoff", "upcomingShifts")


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
    try:
        model = OnCallRotation.model_validate({k: v for k, v in body.items() if k != "status"})
    except ValidationError as exc:
        problems = tuple(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
    else:
        problems = schedule_problems(model.spec)
        if not problems:
            rotation = model.spec.to_domain()
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
        on_call=on_call,
        next_handoff=next_handoff,
        upcoming_shifts=upcoming_shifts,
    )
    dumped: dict[str, Any] = status.model_dump(by_alias=True, mode="json", exclude_none=True)
    return {key: dumped.get(key) for key in STATUS_KEYS}


def changed(current: Mapping[str, Any], observed: Mapping[str, Any]) -> dict[str, Any]:
    """Only the keys whose value differs (a missing key equals None): no PATCH for nothing."""
    return {k: v for k, v in observed.items() if current.get(k) != v}
