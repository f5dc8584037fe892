"""Incident lifecycle: the one handler that writes an Incident's status.

The generic Ready handler (status.py) skips Incident so two writers never race on the same
conditions; the lifecycle service writes Ready and observedGeneration itself.
"""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator import GROUP, VERSION
from incident_operator.api.bookkeeping import LIFECYCLE

from .context import context_of
from .errors import translated
from .status_patch import patch_status

RESOURCE = (GROUP, VERSION, "incidents")


@kopf.on.resume(*RESOURCE, id=LIFECYCLE)
@kopf.on.create(*RESOURCE, id=LIFECYCLE)
@kopf.on.update(*RESOURCE, id=LIFECYCLE)
@translated
async def reconcile_incident_lifecycle(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    service = context_of(memo).lifecycle_service
    if service is None:
        return
    plan = await service.plan(dict(body))
    await service.record(dict(body), plan)
    # Through kopf's patch, so the status lands together with kopf's bookkeeping annotations,
    # and the timeline entries with the status they explain: one write, one watch event.
    patch_status(patch, body, plan.status, plan.timeline)
