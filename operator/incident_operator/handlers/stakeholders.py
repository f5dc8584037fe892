"""Stakeholder updates on a timer: each open incident's Severity cadence, looked at often.

A timer, because an update falls due with no change to the object. The domain places every
update at an exact instant and numbers it, so the interval only bounds the delay (at most
INTERVAL seconds late) and a second tick, a restart or a late one sends nothing twice
(services/stakeholders.py). Incidents of a Severity without ``spec.stakeholders`` cost one
cached Severity read per tick.
"""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator import GROUP, VERSION
from incident_operator.services.incidents import is_open

from .context import context_of
from .errors import translated

INTERVAL = 5.0
INITIAL_DELAY = 3.0


def _open(body: kopf.Body, **_: Any) -> bool:
    """Open incidents (resolved ones too: their final update)."""
    return is_open(body)


@kopf.timer(
    GROUP,
    VERSION,
    "incidents",
    id="stakeholder-updates",
    interval=INTERVAL,
    initial_delay=INITIAL_DELAY,
    when=_open,
)
@translated
async def stakeholder_updates(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    service = context_of(memo).stakeholder_service
    if service is None:
        return
    meta = body["metadata"]
    await service.tick(str(meta["namespace"]), str(meta["name"]), dict(body))
