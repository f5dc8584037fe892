"""The SLOs' bookkeeping loop (services/slo_bookkeeping.py), started with kopf.

It runs at start-up (kopf's resume), a second after an SLO's watch event says the SLO is
owed a write or a Team or Service changes (a second gathers a GitOps apply of many), and
every RETRY_INTERVAL anyway (a missed wake, a conflict to try again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf

from incident_operator.errors import IncidentOperatorError

from .catalog import RETRY_INTERVAL, catalog_in_use
from .context import OperatorContext, context_of

DEBOUNCE = 1.0
log = logging.getLogger(__name__)


async def bookkeeping_loop(context: OperatorContext) -> None:
    service = context.slo_bookkeeping
    wake = context.state.slos_owed
    wake.set()  # the first look is kopf's resume: every SLO as the operator finds it
    while service is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=RETRY_INTERVAL)
        await asyncio.sleep(DEBOUNCE)
        wake.clear()
        try:
            await service.reconcile(catalog_in_use=catalog_in_use(context))
        except IncidentOperatorError as exc:
            log.warning("SLO bookkeeping failed, tried again within %.0f s: %s",
                        RETRY_INTERVAL, exc)  # fmt: skip


@kopf.on.startup()
async def start_slo_bookkeeping(memo: kopf.Memo, **_: Any) -> None:
    context = context_of(memo)
    if context.slo_bookkeeping is not None:
        context.state.slo_bookkeeping_task = asyncio.create_task(bookkeeping_loop(context))


@kopf.on.cleanup()
async def stop_slo_bookkeeping(memo: kopf.Memo, **_: Any) -> None:
    task = context_of(memo).state.slo_bookkeeping_task
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
