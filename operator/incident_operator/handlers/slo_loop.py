"""The periodic SLO evaluation: one loop for all SLOs (batched queries), started with kopf."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from datetime import timedelta
from typing import Any

import kopf

from incident_operator.adapters.native_memory import release_free_memory
from incident_operator.domain.liveness import DEFAULT_ALLOWED_MISSES, LoopProgress, wedged
from incident_operator.services.slo_evaluation import SloEvaluationService

from .context import OperatorContext, context_of


async def run_loop(
    service: SloEvaluationService,
    interval: float,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    context: OperatorContext | None = None,
) -> None:
    """Evaluate every ``interval`` seconds; a failed cycle is logged, never fatal.

    Each completed cycle is stamped into ``context.state.slo_progress`` for the liveness probe.
    """
    while True:
        started = time.monotonic()
        try:
            report = await service.cycle()
            if context is not None and context.state.slo_progress is not None:
                context.state.slo_progress = dataclasses.replace(
                    context.state.slo_progress, last_completed=context.clock.now()
                )
            logger.info(
                "SLO cycle: %d SLOs, %d queries, %.3f s (Prometheus %.3f s)%s%s",
                report.slos,
                report.queries,
                report.seconds,
                report.measure_seconds,
                f", declared {', '.join(report.declared)}" if report.declared else "",
                f", Prometheus unavailable: {report.unavailable}" if report.unavailable else "",
            )
        except Exception:
            logger.exception("SLO evaluation cycle failed")
        # What a cycle and the watch freed since (kopf's start-up backlog holds every object's
        # body until a worker takes it: 326 MB at 10,000 SLOs) goes back to the system
        # instead of staying resident as the peak (adapters/native_memory.py).
        release_free_memory()
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))


@kopf.on.startup()
async def start_slo_evaluation(
    memo: kopf.Memo, logger: logging.Logger | logging.LoggerAdapter[Any], **_: Any
) -> None:
    context = context_of(memo)
    service = context.slo_service
    if service is None:
        logger.warning("No Prometheus URL configured: SLOs are not evaluated.")
        return
    interval = context.evaluation_interval
    state = context.state
    state.slo_progress = LoopProgress(context.clock.now(), timedelta(seconds=interval))
    state.slo_task = asyncio.create_task(run_loop(service, interval, logger, context))


@kopf.on.probe(id="sloLoop", errors=kopf.ErrorsMode.PERMANENT)
async def slo_loop_liveness(memo: kopf.Memo, **_: Any) -> str:
    """Fail kopf's liveness endpoint (HTTP 500) when the SLO loop is wedged (domain/liveness.py).

    PERMANENT: a failed probe must answer now, not be retried with kopf's backoff.
    """
    context = context_of(memo)
    progress = context.state.slo_progress
    if progress is None:
        return "SLOs are not evaluated (no Prometheus configured)"
    task = context.state.slo_task
    if task is not None and task.done():
        progress = dataclasses.replace(progress, running=False)
    misses = context.liveness_allowed_misses or DEFAULT_ALLOWED_MISSES
    reason = wedged(progress, context.clock.now(), misses)
    if reason is not None:
        raise kopf.PermanentError(reason)
    last = progress.last_completed
    return f"last cycle completed {last.isoformat()}" if last else "first cycle running"


@kopf.on.cleanup()
async def stop_slo_evaluation(memo: kopf.Memo, **_: Any) -> None:
    task = context_of(memo).state.slo_task
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
