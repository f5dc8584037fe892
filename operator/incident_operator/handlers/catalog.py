"""Service catalog: resolve incidents' and SLOs' services and Services' owners; cache Teams
and Services.

Incidents and SLOs are resolved when their spec changes, and again while their
ServiceResolved condition is not True, so a Service or Team created later is picked up:
open incidents by a kopf timer every RETRY_INTERVAL, SLOs by one loop for all of them, a
second after any Team or Service changes and every RETRY_INTERVAL.
Services are checked on change and every RETRY_INTERVAL (a Team's change shows within it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf

from incident_operator import GROUP, VERSION
from incident_operator.adapters.catalog import service_key
from incident_operator.domain.lifecycle import ACTIVE
from incident_operator.errors import IncidentOperatorError

from .context import OperatorContext, context_of
from .errors import translated
from .status_patch import patch_status

RETRY_INTERVAL = 60.0
CATALOG_DEBOUNCE = 1.0
"""Seconds to wait after a Team or Service change before resolving SLOs again."""
log = logging.getLogger(__name__)
INCIDENTS = (GROUP, VERSION, "incidents")
SERVICES = (GROUP, VERSION, "services")
SLOS = (GROUP, VERSION, "servicelevelobjectives")
OPEN = frozenset(phase.value for phase in ACTIVE)


@kopf.on.event(GROUP, VERSION, "teams")
async def cache_teams(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    """``type`` None is kopf's (re-)listing: the object as it is."""
    context = context_of(memo)
    cache = context.team_cache
    if cache is not None and body.metadata.name:
        cache.observe(body.metadata.name, dict(body), deleted=type == "DELETED")
        context.state.catalog_changed.set()


@kopf.on.event(GROUP, VERSION, "services")
async def cache_services(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    context = context_of(memo)
    cache = context.service_cache
    namespace, name = body.metadata.namespace, body.metadata.name
    if cache is not None and namespace and name:
        cache.observe(service_key(namespace, name), dict(body), deleted=type == "DELETED")
        context.state.catalog_changed.set()


def _catalog_in_use(memo: kopf.Memo) -> bool:
    """Some Team or Service exists: only then can an unresolved service resolve later."""
    return _catalog_in_use_by(context_of(memo))


def _catalog_in_use_by(context: OperatorContext) -> bool:
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


@kopf.on.resume(*INCIDENTS, id="catalog")
@kopf.on.create(*INCIDENTS, id="catalog")
@kopf.on.update(*INCIDENTS, id="catalog", field="spec")
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


@kopf.on.resume(*SERVICES, id="catalog")
@kopf.on.create(*SERVICES, id="catalog")
@kopf.on.update(*SERVICES, id="catalog")
@kopf.timer(*SERVICES, id="catalog-owner", interval=RETRY_INTERVAL)
@translated
async def resolve_service_owner(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    service = context_of(memo).catalog_service
    if service is None:
        return
    patch_status(patch, body, await service.service_status(dict(body)))


@kopf.on.resume(*SLOS, id="catalog")
@kopf.on.create(*SLOS, id="catalog")
@kopf.on.update(*SLOS, id="catalog", field="spec.service")
@translated
async def resolve_slo_service(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    service = context_of(memo).catalog_service
    if service is None:
        return
    patch_status(patch, body, await service.slo_status(dict(body)))


async def retry_slos_loop(context: OperatorContext) -> None:
    """Resolve unresolved SLOs again soon after a Team or Service changes (a second's
    debounce gathers a GitOps apply of many), and every RETRY_INTERVAL anyway.

    One loop for every SLO instead of a kopf timer per SLO: any timer or daemon on a
    resource makes kopf keep each object's full last body (``DaemonsMemory.live_fresh_body``,
    managedFields and all) for the object's lifetime, ~33 MB at 1,000 SLOs (issue 15)."""
    service = context.catalog_service
    changed = context.state.catalog_changed
    while service is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout=RETRY_INTERVAL)
        await asyncio.sleep(CATALOG_DEBOUNCE)
        changed.clear()
        if not _catalog_in_use_by(context):
            continue
        try:
            await service.retry_slos()
        except IncidentOperatorError as exc:
            log.warning("resolving unresolved SLOs again failed: %s", exc)


@kopf.on.startup()
async def start_slo_catalog_retries(memo: kopf.Memo, **_: Any) -> None:
    context = context_of(memo)
    if context.catalog_service is not None:
        context.state.catalog_task = asyncio.create_task(retry_slos_loop(context))


@kopf.on.cleanup()
async def stop_slo_catalog_retries(memo: kopf.Memo, **_: Any) -> None:
    task = context_of(memo).state.catalog_task
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
