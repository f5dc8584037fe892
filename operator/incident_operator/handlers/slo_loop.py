"""The periodic SLO evaluation: one loop for all SLOs (batched queries), started with kopf."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import kopf

from incident_operator.services.slo_evaluation import SloEvaluationService


async def run_loop(
    service: SloEvaluationService,
    interval: float,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> None:
    """Evaluate every ``interval`` seconds; a failed cycle is logged, never fatal."""
    while True:
        started = time.monotonic()
        try:
            report = await service.cycle()
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
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))


@kopf.on.startup()
async def start_slo_evaluation(
    memo: kopf.Memo, logger: logging.Logger | logging.LoggerAdapter[Any], **_: Any
) -> None:
    service: SloEvaluationService | None = memo.get("slo_service")
    if service is None:
        logger.warning("No Prometheus URL configured: SLOs are not evaluated.")
        return
    memo.slo_task = asyncio.create_task(run_loop(service, memo.evaluation_interval, logger))


@kopf.on.cleanup()
async def stop_slo_evaluation(memo: kopf.Memo, **_: Any) -> None:
    task: asyncio.Task[None] | None = memo.get("slo_task")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
