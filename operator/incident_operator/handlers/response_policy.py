"""Severity response policy on a timer: escalate unacknowledged incidents, remind about updates.

A timer, because the policy is about time passing with *no* change to the object; the domain
places each step at an exact instant and keys it, so the interval only bounds the delay
(≤ INTERVAL seconds late) and never changes what is recorded. Terminal incidents are skipped.
"""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator import GROUP, VERSION
from incident_operator.services.incidents import is_open

from .context import context_of
from .errors import translated
from .status_patch import patch_status

INTERVAL = 10.0
INITIAL_DELAY = 3.0


def _open(body: kopf.Body, **_: Any) -> bool:
    return is_open(body)


@kopf.timer(
    GROUP,
    VERSION,
    "incidents",
    id="response-policy",
    interval=INTERVAL,
    initial_delay=INITIAL_DELAY,
    when=_open,
)
@translated
async def apply_response_policy(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    service = context_of(memo).response_service
    if service is None:
        return
    plan = await service.plan(dict(body))
    await service.record(dict(body), plan)
    if plan.status:
        patch_status(patch, body, plan.status)
