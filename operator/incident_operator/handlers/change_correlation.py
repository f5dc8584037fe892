"""Change correlation for a new incident: recent changes into its timeline.

A one-shot kopf timer, not a creation handler. kopf stores the body of a cause's *last* pass
as the diff base, so a creation handler run in a pass after the lifecycle's made any spec edit
that arrived between the two passes look handled: the lifecycle never saw it (an incident
resolved right after its declaration stayed open). The timer runs beside the object's handlers,
once the lifecycle has declared the incident, retried until it succeeds, and again after a
restart only while the summary entry is missing.
"""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator import GROUP, VERSION
from incident_operator.api.bookkeeping import CHANGE_CORRELATION
from incident_operator.services.change_correlation import awaits_correlation

from .context import context_of
from .errors import translated


def _awaiting(body: kopf.Body, **_: Any) -> bool:
    return awaits_correlation(body)


@kopf.timer(GROUP, VERSION, "incidents", id=CHANGE_CORRELATION, when=_awaiting)
@translated
async def correlate_changes(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    service = context_of(memo).change_service
    if service is not None:
        await service.correlate(dict(body))
