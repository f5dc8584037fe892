"""Feed every Severity watch event to the store's cache (adapters/watch_cache.py)."""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator import GROUP, VERSION
from incident_operator.adapters.watch_cache import WatchedObjects


@kopf.on.event(GROUP, VERSION, "severities")
async def cache_severities(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    """``type`` None is kopf's (re-)listing: the object as it is."""
    cache: WatchedObjects | None = memo.get("severity_cache")
    if cache is not None and body.metadata.name:
        cache.observe(body.metadata.name, dict(body), deleted=type == "DELETED")
