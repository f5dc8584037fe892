"""Keep each SLO's PrometheusRule in step (only with --manage-prometheus-rules)."""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator import GROUP, VERSION
from incident_operator.services.prometheus_rules import PrometheusRuleSync, SyncResult

from .errors import translated

SLOS = (GROUP, VERSION, "servicelevelobjectives")


@kopf.on.resume(*SLOS, id="prometheus-rule")
@kopf.on.create(*SLOS, id="prometheus-rule")
@kopf.on.update(*SLOS, id="prometheus-rule")
@translated
async def sync_prometheus_rule(
    body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    sync: PrometheusRuleSync | None = memo.get("rule_sync")
    if sync is None:
        return
    if await sync.sync(dict(body)) is SyncResult.UNSUPPORTED:
        logger.debug("PrometheusRule CRD not served: nothing to maintain")
