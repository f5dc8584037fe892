"""Wait steps in the incident's status: reading ``status.workflows.waits`` for the domain
(domain/workflow_wait.py) and writing a reached or finished wait with the done keys."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from incident_operator.adapters.ports import Body
from incident_operator.domain import workflow_wait as waiting
from incident_operator.domain import workflows as wf
from incident_operator.domain.times import iso, parse_time


def waits_of(body: Mapping[str, Any]) -> dict[str, waiting.Wait]:
    """The paused runs recorded on the incident, by step key."""
    raw = ((body.get("status") or {}).get("workflows") or {}).get("waits") or {}
    found = {}
    for record in raw.values():
        if not isinstance(record, Mapping):
            continue
        at = parse_time(record.get("resumeAt"))
        key = str(record.get("key") or "")
        if at is None or not key:
            continue
        try:
            event = wf.Event(str(record.get("event") or "declared"))
        except ValueError:
            event = wf.Event.DECLARED
        found[key] = waiting.Wait(
            key=key,
            resume_at=at,
            event=event,
            detail=str(record.get("detail") or ""),
            occurrences=tuple(str(o) for o in record.get("occurrences") or ()),
        )
    return found


def wait_status(wait: waiting.Wait, workflow: str) -> Body:
    """One ``status.workflows.waits`` entry."""
    return {
        "key": wait.key,
        "resumeAt": iso(wait.resume_at),
        "event": wait.event.value,
        "detail": wait.detail[:512],
        "occurrences": [o[:64] for o in wait.occurrences[:8]],
        "workflow": workflow[:256],
    }


def waits_patch(
    body: Mapping[str, Any], reached: Mapping[str, Body], done: Iterable[str]
) -> Body | None:
    """The merge patch of ``status.workflows.waits``: the waits reached now added, those
    whose step is done (the run resumed past them) removed; None when nothing changes."""
    recorded = {waiting.wait_id(k): w for k, w in waits_of(body).items()}
    patch: Body = dict.fromkeys(waiting.finished(recorded, done))
    patch.update(reached)
    return patch or None


def room_for(body: Mapping[str, Any], reached: int) -> bool:
    """Whether one more wait fits in the incident's status (``reached`` added this look)."""
    return len(waits_of(body)) + reached < waiting.MAX_WAITS
