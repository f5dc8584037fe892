"""Postmortems: drafted when an incident resolves, their generated facts kept current.

Incidents: a timer (status changes do not reach kopf's update handlers) finds resolved
incidents without a postmortem decision and lets the service create and link one.
Postmortems: every create/update (a human edited a section or the state) and a slow timer
(overdue action items, late Events) regenerate the status and the rendered ConfigMap.
"""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator import GROUP, VERSION
from incident_operator.adapters.postmortem_ports import STATE_ANNOTATION
from incident_operator.services.postmortems import PostmortemService

from .errors import translated

INCIDENT_INTERVAL = 5.0
REGENERATE_INTERVAL = 60.0
INITIAL_DELAY = 3.0
DONE_STATES = frozenset({"resolved", "closed"})


def _owes_decision(
    spec: kopf.Spec, status: kopf.Status, annotations: kopf.Annotations, **_: Any
) -> bool:
    """Resolved (or asked to close) and not yet decided: no link and no verdict."""
    ended = status.get("phase") in DONE_STATES or spec.get("state") == "closed"
    return bool(ended and not status.get("postmortemRef") and STATE_ANNOTATION not in annotations)


@kopf.timer(
    GROUP,
    VERSION,
    "incidents",
    id="postmortem",
    interval=INCIDENT_INTERVAL,
    initial_delay=INITIAL_DELAY,
    when=_owes_decision,
)
@translated
async def draft_postmortem(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    service: PostmortemService | None = memo.get("postmortem_service")
    if service is not None:
        await service.ensure(dict(body))


@kopf.on.resume(GROUP, VERSION, "postmortems", id="generate")
@kopf.on.create(GROUP, VERSION, "postmortems", id="generate")
@kopf.on.update(GROUP, VERSION, "postmortems", id="generate")
@kopf.timer(
    GROUP,
    VERSION,
    "postmortems",
    id="regenerate",
    interval=REGENERATE_INTERVAL,
    initial_delay=REGENERATE_INTERVAL,
)
@translated
async def generate_postmortem(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    service: PostmortemService | None = memo.get("postmortem_service")
    if service is None:
        return
    status = await service.regenerate(dict(body))
    if status:
        patch.status.update(status)
