"""Keep each SLO's PrometheusRule in step (only with --manage-prometheus-rules).

The handlers are registered by ``register`` when the option is on, not on import: without
it they did nothing, yet kopf ran them for every SLO on start and on every spec change and
recorded their progress on the object (at 10,000 SLOs, half of the 20,000 start-up handler
runs; docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator import GROUP, VERSION
from incident_operator.services.prometheus_rules import SyncResult

from .context import context_of
from .errors import translated

SLOS = (GROUP, VERSION, "servicelevelobjectives")


def register(registry: kopf.OperatorRegistry) -> None:
    """Watch SLOs and keep their rules: on resume, create and update."""
    for on in (kopf.on.resume, kopf.on.create, kopf.on.update):
        on(*SLOS, id="prometheus-rule", registry=registry)(sync_prometheus_rule)


@translated
async def sync_prometheus_rule(
    body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    sync = context_of(memo).rule_sync
    if sync is None:
        return
    if await sync.sync(dict(body)) is SyncResult.UNSUPPORTED:
        logger.debug("PrometheusRule CRD not served: nothing to maintain")
