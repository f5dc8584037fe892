"""Feed every Incident watch event to the open-incident index (services/open_incidents.py)."""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator import GROUP, VERSION

from .context import context_of


@kopf.on.event(GROUP, VERSION, "incidents")
async def count_open_incidents(
    body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any
) -> None:
    """``type`` None is kopf's initial listing; DELETED removes the incident from the counts."""
    index = context_of(memo).open_incidents
    if index is not None:
        index.observe(dict(body), deleted=type == "DELETED")
