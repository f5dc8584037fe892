"""Guarded mitigations on a timer: run, hold or verify each open incident's mitigations;
freeze GitOps while it is open and lift the freeze when it ends.

A timer, because verification is about time passing (the SLO's burn falling, verifyWithin
running out) with no change to the incident itself; the service records every step with
keys, so a second tick or a restart repeats nothing.
"""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator import GROUP, VERSION
from incident_operator.domain.lifecycle import ACTIVE, accepted
from incident_operator.services.mitigation import asks_for_mitigation

from .context import context_of
from .errors import translated

INTERVAL = 2.0
INITIAL_DELAY = 1.0


def _open(spec: kopf.Spec, status: kopf.Status, **_: Any) -> bool:
    """Being worked, or ended with a change freeze still to lift; and something may be asked
    of its mitigations. Every open incident ticked every 2 s before: with 100 open, half of
    kopf's timer invocations, most of them with nothing to do (issue 15)."""
    if not asks_for_mitigation(spec, status):
        return False
    if accepted(status.get("phase")) in ACTIVE:
        return True
    return any(not f.get("restoredAt") for f in status.get("freezes") or [])


@kopf.timer(
    GROUP,
    VERSION,
    "incidents",
    id="mitigation",
    interval=INTERVAL,
    initial_delay=INITIAL_DELAY,
    when=_open,
)
@translated
async def run_mitigations(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    service = context_of(memo).mitigation_service
    if service is not None:
        await service.reconcile(dict(body))
