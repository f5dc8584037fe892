"""Workflows: index the workflow objects as they change; run them for open incidents.

The index is fed by the watch of both kinds (the Ready condition is the generic status
handler's, with the CEL compiled). A timer, like the response policy, because a workflow
also acts on time passing with no change (noUpdate) and because a change the operator
missed while down is still seen: triggers compare against the snapshot in the incident's
status, not against a watch event. The interval bounds the delay (≤ INTERVAL seconds).
The same timer keeps the incident's checklist tasks (status.tasks) in line with the
Severity's and the workflows' checklists and with the ticks in spec.tasksDone.
"""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator import GROUP, VERSION
from incident_operator.services.incidents import is_open

from .context import context_of
from .errors import translated

INTERVAL = 5.0
INITIAL_DELAY = 4.0


@kopf.on.event(GROUP, VERSION, "incidentworkflows")
@kopf.on.event(GROUP, VERSION, "clusterincidentworkflows")
async def index_workflows(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    index = context_of(memo).workflow_index
    if index is not None:
        index.observe(dict(body), deleted=type == "DELETED")


def _open(body: kopf.Body, **_: Any) -> bool:
    return is_open(body)


@kopf.timer(
    GROUP,
    VERSION,
    "incidents",
    id="workflows",
    interval=INTERVAL,
    initial_delay=INITIAL_DELAY,
    when=_open,
)
@translated
async def run_workflows(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    context = context_of(memo)
    if context.workflow_service is not None:
        await context.workflow_service.run(dict(body))
    if context.checklist_service is not None:  # after the runs: their checklists are recorded
        await context.checklist_service.reconcile(dict(body))
