"""Service catalog: resolve incidents' and SLOs' services and Services' owners; cache Teams
and Services.

Incidents are resolved when their spec changes, and again every RETRY_INTERVAL while their
ServiceResolved condition is not True and they are open: a Service or Team created later is
picked up. SLOs are resolved by their bookkeeping loop (handlers/slo_bookkeeping.py), which a
Team or Service change wakes.
Services are checked on change and every RETRY_INTERVAL (a Team's change shows within it).
"""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator import GROUP, VERSION
from incident_operator.adapters.catalog import service_key
from incident_operator.api.bookkeeping import CATALOG
from incident_operator.domain.lifecycle import ACTIVE

from .context import OperatorContext, context_of
from .errors import translated
from .status_patch import patch_status

RETRY_INTERVAL = 60.0
INCIDENTS = (GROUP, VERSION, "incidents")
SERVICES = (GROUP, VERSION, "services")
OPEN = frozenset(phase.value for phase in ACTIVE)


@kopf.on.event(GROUP, VERSION, "teams")
async def cache_teams(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    """``type`` None is kopf's (re-)listing: the object as it is."""
    context = context_of(memo)
    cache = context.team_cache
    if cache is not None and body.metadata.name:
        cache.observe(body.metadata.name, dict(body), deleted=type == "DELETED")
        context.state.slos_owed.set()  # an SLO's service may resolve now


@kopf.on.event(GROUP, VERSION, "services")
async def cache_services(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    context = context_of(memo)
    cache = context.service_cache
    namespace, name = body.metadata.namespace, body.metadata.name
    if cache is not None and namespace and name:
        cache.observe(service_key(namespace, name), dict(body), deleted=type == "DELETED")
        context.state.slos_owed.set()  # an SLO's service may resolve now


def _catalog_in_use(memo: kopf.Memo) -> bool:
    return catalog_in_use(context_of(memo))


def catalog_in_use(context: OperatorContext) -> bool:
    """Some Team or Service exists: only then can an unresolved service resolve later."""
    return any(
        cache is not None and len(cache) for cache in (context.team_cache, context.service_cache)
    )


def _unresolved(status: kopf.Status, memo: kopf.Memo, **_: Any) -> bool:
    """Not resolved, in a cluster with a catalog. Without one, every SLO and incident is
    unresolved, and a retry timer each (kopf runs one task per object) held ~15 MB more at
    1,000 SLOs (230.6 vs 215.2 MB, ``benchmarks.scale --mode raw --slos 1000``, issue 15) for
    an answer that cannot change until a Team or a Service exists; the first one turns the
    retries on."""
    conditions = status.get("conditions") or []
    return _catalog_in_use(memo) and any(
        c.get("type") == "ServiceResolved" and c.get("status") != "True" for c in conditions
    )


def _open_and_unresolved(status: kopf.Status, memo: kopf.Memo, **kwargs: Any) -> bool:
    """Only open incidents are looked at again: a closed one's routing no longer matters."""
    return status.get("phase") in OPEN and _unresolved(status, memo, **kwargs)


@kopf.on.resume(*INCIDENTS, id=CATALOG)
@kopf.on.create(*INCIDENTS, id=CATALOG)
@kopf.on.update(*INCIDENTS, id=CATALOG, field="spec")
@kopf.timer(*INCIDENTS, id="catalog-retry", interval=RETRY_INTERVAL, when=_open_and_unresolved)
@translated
async def resolve_incident_services(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    service = context_of(memo).catalog_service
    if service is None:
        return
    _resolution, status = await service.incident_status(dict(body))
    patch_status(patch, body, status)


@kopf.on.resume(*SERVICES, id=CATALOG)
@kopf.on.create(*SERVICES, id=CATALOG)
@kopf.on.update(*SERVICES, id=CATALOG)
@kopf.timer(*SERVICES, id="catalog-owner", interval=RETRY_INTERVAL)
@translated
async def resolve_service_owner(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    service = context_of(memo).catalog_service
    if service is None:
        return
    patch_status(patch, body, await service.service_status(dict(body)))
