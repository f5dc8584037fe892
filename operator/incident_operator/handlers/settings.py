"""Operator-wide kopf settings, applied at start-up."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from incident_operator import GROUP
from incident_operator.domain.liveness import (
    DEFAULT_WATCH_TIMEOUT,
    WatchTimeouts,
    watch_timeouts,
)

from .context import context_of

FINALIZER = f"{GROUP}/finalizer"
WORKER_LIMIT = 64


def apply(settings: kopf.OperatorSettings, watch: WatchTimeouts | None = None) -> None:
    """Our own `sre.dev` prefix for kopf's bookkeeping; nothing stored under status.

    kopf keeps handler progress in `status.kopf` by default, which our strict status schemas
    would prune silently; annotations under our prefix survive and are easy to recognise.
    """
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = FINALIZER
    # Unbounded per-object workers made a restart with 1,000 SLOs peak at ~425 MB RSS
    # (every object handled at once); a bounded pool keeps the peak, and so the RSS, low.
    settings.queueing.worker_limit = WORKER_LIMIT
    # An idle worker keeps its slot until this timeout: short, so the pool turns over fast.
    settings.queueing.idle_timeout = 0.5
    settings.posting.level = logging.WARNING
    # Watch requests end every `server` seconds and are renewed at once; a request silent
    # past `inactivity` is replaced; the liveness bound derives from these too
    # (domain/liveness.py, docs/liveness.md).
    watch = watch or watch_timeouts(DEFAULT_WATCH_TIMEOUT)
    # timeoutSeconds must be an integer: the API server answers "10.0" with 400.
    settings.watching.server_timeout = int(watch.server.total_seconds())
    settings.watching.inactivity_timeout = watch.inactivity.total_seconds()
    settings.watching.client_timeout = watch.client.total_seconds()
    settings.networking.request_timeout = 60


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    apply(settings, context_of(memo).watch_timeouts)
