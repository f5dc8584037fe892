"""The lifecycle's own status fields: read back (phase, timestamps) and written (timeline
entries, observedGeneration and conditions, and only the keys that changed).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from incident_operator.adapters.ports import Body
from incident_operator.api.v1alpha1.convert import conditions_status
from incident_operator.api.v1alpha1.incident import Timestamps
from incident_operator.domain import lifecycle, timeline
from incident_operator.domain.conditions import Condition
from incident_operator.domain.readiness import Observation
from incident_operator.domain.times import parse_time

SOURCE = "operator"


def stored_timestamps(status: Mapping[str, Any]) -> Timestamps:
    """Our earlier observation; unreadable counts as empty (it is rewritten, never fatal)."""
    try:
        return Timestamps.model_validate(status.get("timestamps") or {})
    except ValidationError:
        return Timestamps()


def stored_phase(status: Mapping[str, Any]) -> lifecycle.Phase | None:
    value = status.get("phase")
    try:
        return lifecycle.Phase(str(value)) if value else None
    except ValueError:
        return None


def entry(at: datetime, type_: str, message: str, key: str) -> Body:
    """A lifecycle entry (source ``operator``, no author)."""
    return timeline.entry(at, type_, message, source=SOURCE, key=key)


def common_fields(
    generation: int,
    observation: Observation,
    conditions: tuple[Condition, ...] | None = None,
) -> Body:
    chosen = observation.conditions if conditions is None else conditions
    return {
        "observedGeneration": generation,
        "conditions": conditions_status(chosen),
    }


def only_changes(current: Mapping[str, Any], wanted: Body) -> Body:
    """The keys of ``wanted`` that differ from ``current`` (nested dicts compared per key).

    On resume nearly every incident is already up to date: no PATCH for nothing.
    """
    out: Body = {}
    for key, value in wanted.items():
        have = current.get(key)
        if isinstance(value, dict):
            nested = only_changes(have if isinstance(have, dict) else {}, value)
            if nested:
                out[key] = nested
        elif value is None:
            if have is not None:
                out[key] = None
        elif _normal(have) != _normal(value):
            out[key] = value
    return out


def _normal(value: Any) -> Any:
    """Equal instants written in different shapes compare equal (``Z`` vs ``+00:00``)."""
    if isinstance(value, str) and (at := parse_time(value)) is not None and "T" in value:
        return at
    return value
