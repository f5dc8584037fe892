"""Change correlation when an incident is created: recent changes into its timeline."""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator import GROUP, VERSION
from incident_operator.api.bookkeeping import CHANGE_CORRELATION

from .context import context_of
from .errors import translated


@kopf.on.create(GROUP, VERSION, "incidents", id=CHANGE_CORRELATION)
@translated
async def correlate_changes(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    service = context_of(memo).change_service
    if service is not None:
        await service.correlate(dict(body))
