"""OnCallRotation status refresh: who is on call now, the next handoff, upcoming shifts.

A timer rather than a daemon: kopf applies a timer's status patch itself, and a minute's
interval keeps every rotation's status at most a minute behind a handoff without one
sleeping task per object. ``initial_delay`` keeps a restart with many rotations from
computing them all in the same instant.
"""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator import GROUP, VERSION
from incident_operator.domain.status_diff import changed
from incident_operator.services.rotation_status import rotation_status

from .context import context_of
from .errors import translated
from .status_patch import patch_status

INTERVAL = 60.0
INITIAL_DELAY = 2.0


@kopf.timer(
    GROUP,
    VERSION,
    "oncallrotations",
    id="rotation-status",
    interval=INTERVAL,
    initial_delay=INITIAL_DELAY,
)
@translated
async def refresh_rotation_status(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    observed = rotation_status(body, context_of(memo).clock.now())
    update = changed(body.get("status") or {}, observed)
    if update:
        patch_status(patch, body, update)
