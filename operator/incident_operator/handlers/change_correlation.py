"""Change correlation when an incident is created: recent changes into its timeline."""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator import GROUP, VERSION
from incident_operator.services.change_correlation import ChangeCorrelationService

from .errors import translated


@kopf.on.create(GROUP, VERSION, "incidents", id="change-correlation")
@translated
async def correlate_changes(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    service: ChangeCorrelationService | None = memo.get("change_service")
    if service is not None:
        await service.correlate(dict(body))
