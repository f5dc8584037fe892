"""Every SLO's bookkeeping from one loop: observedGeneration and Ready (services/status.py),
and ServiceResolved (services/catalog.py).

Why not kopf's create, update and resume handlers per SLO: kopf records each change it
handles in an annotation of its own, a write next to the status patch, and on start-up it
runs the handlers for every SLO. At 10,000 SLOs that start-up was 10,000 handler runs at
about 12 a second, 14 minutes of API server time the SLO cycle waited behind (issue 15).
Here an SLO costs dict reads unless it is ``owed`` a write: a generation not yet observed,
no Ready or ServiceResolved condition yet, or, in a cluster with a catalog, a service not
resolved yet (a Service or Team may have appeared). Each write is made onto the version it
was computed from: an SLO that changed meanwhile comes round again with its new version.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from incident_operator.adapters.ports import Body, Clock, ResourceStore
from incident_operator.api.v1alpha1.kinds import KINDS
from incident_operator.domain.catalog import SERVICE_RESOLVED
from incident_operator.domain.status_diff import changed
from incident_operator.errors import IncidentOperatorError

from .catalog import CatalogService
from .status import observed_status

log = logging.getLogger(__name__)
SLO_KIND = next(info for info in KINDS if info.kind == "ServiceLevelObjective")
READY = "Ready"


def owed(body: Mapping[str, Any], *, catalog_in_use: bool) -> bool:
    """Whether the SLO's bookkeeping may need a write (dict reads only: asked for every SLO
    on every watch event and every look)."""
    generation = int((body.get("metadata") or {}).get("generation", 0))
    status = body.get("status") or {}
    if status.get("observedGeneration") != generation:
        return True
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    resolved = conditions.get(SERVICE_RESOLVED)
    if READY not in conditions or resolved is None:
        return True
    if resolved.get("observedGeneration") != generation:
        return True
    return catalog_in_use and resolved.get("status") != "True"


class SloBookkeeping:
    def __init__(
        self, store: ResourceStore, clock: Clock, *, catalog: CatalogService | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._catalog = catalog

    async def status_of(self, body: Body) -> Body:
        """The status fields to write (observedGeneration, Ready, ServiceResolved); empty
        when the SLO says so already."""
        current = body.get("status") or {}
        observed = observed_status(SLO_KIND, body, self._clock.now())
        wanted = changed(current, observed)
        if self._catalog is not None:
            seen = {**body, "status": {**current, **observed}}
            resolved = await self._catalog.slo_status(seen)
            if resolved:
                wanted["conditions"] = resolved["conditions"]
        return wanted

    async def reconcile(self, *, catalog_in_use: bool) -> int:
        """Write what the owed SLOs need; how many were written. The SLOs are the watch's
        (``ResourceStore.list_slos``): a warm operator asks the API server nothing else."""
        written = 0
        for body in await self._store.list_slos():
            if not owed(body, catalog_in_use=catalog_in_use):
                continue
            meta = body["metadata"]
            try:
                status = await self.status_of(body)
                if not status:
                    continue
                await self._store.patch_slo_status(
                    str(meta["namespace"]),
                    str(meta["name"]),
                    status,
                    resource_version=str(meta.get("resourceVersion") or "") or None,
                )
            except IncidentOperatorError as exc:  # a conflict, a busy API server: next time
                log.info("SLO %s/%s: status not written now: %s",
                         meta.get("namespace"), meta.get("name"), exc)  # fmt: skip
                continue
            written += 1
        return written
