"""One reconcile handler per kind: record observedGeneration and the Ready condition.

Incident is left to incident_lifecycle.py, its only status writer (phase, conditions);
Postmortem to postmortems.py (its generated facts and conditions); ServiceLevelObjective to
slo_bookkeeping.py (one loop for all of them). Teams are only read.
"""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator import GROUP, VERSION
from incident_operator.api.v1alpha1.kinds import KINDS, KindInfo
from incident_operator.domain.status_diff import changed
from incident_operator.services.status import observed_status

from .context import context_of
from .errors import translated
from .status_patch import patch_status

OWN_STATUS_HANDLER = frozenset({"Incident", "Postmortem"})
"""Kinds whose status another handler writes in full (including Ready)."""
READ_ONLY = frozenset({"Team"})
"""Kinds the operator only reads (its RBAC grants no patch): no status handler at all."""
OWN_LOOP = frozenset({"ServiceLevelObjective"})
"""Kinds whose Ready a loop over all of them writes (services/slo_bookkeeping.py): no kopf
handler per object, whose bookkeeping annotation and start-up run cost a write per SLO."""


def _make_handler(info: KindInfo) -> Any:
    async def reconcile_status(
        body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
    ) -> None:
        context = context_of(memo)
        observed = observed_status(info, body, context.clock.now(), expressions=context.expressions)
        current = body.get("status") or {}
        # On resume most objects are already up to date: no PATCH for nothing.
        if changed(current, observed):
            patch_status(patch, body, observed)

    reconcile_status.__name__ = f"reconcile_{info.singular}_status"
    return translated(reconcile_status)


def register() -> None:
    """Register create/update/resume handlers for every kind on kopf's default registry."""
    for info in KINDS:
        if info.kind in OWN_STATUS_HANDLER | READ_ONLY | OWN_LOOP:
            continue
        handler = _make_handler(info)
        resource = (GROUP, VERSION, info.plural)
        kopf.on.resume(*resource, id="status")(handler)
        kopf.on.create(*resource, id="status")(handler)
        kopf.on.update(*resource, id="status")(handler)


register()
