"""Feed every Severity and SLO watch event to the store's caches (adapters/watch_cache.py)."""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator import GROUP, VERSION
from incident_operator.adapters.kubernetes import slo_key
from incident_operator.services.slo_bookkeeping import owed

from .catalog import catalog_in_use
from .context import context_of


@kopf.on.event(GROUP, VERSION, "severities")
async def cache_severities(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    """``type`` None is kopf's (re-)listing: the object as it is."""
    cache = context_of(memo).severity_cache
    if cache is not None and body.metadata.name:
        cache.observe(body.metadata.name, dict(body), deleted=type == "DELETED")


@kopf.on.event(GROUP, VERSION, "servicelevelobjectives")
async def cache_slos(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    """Every SLO as the watch delivers it: the SLO cycle lists from here when warm, and an
    SLO owed a bookkeeping write wakes that loop (handlers/slo_bookkeeping.py)."""
    context = context_of(memo)
    cache = context.slo_cache
    if cache is not None and body.metadata.name:
        cache.observe(slo_key(dict(body)), dict(body), deleted=type == "DELETED")
    if type != "DELETED" and owed(body, catalog_in_use=catalog_in_use(context)):
        context.state.slos_owed.set()
