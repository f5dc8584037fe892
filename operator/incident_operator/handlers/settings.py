"""Operator-wide kopf settings, applied at start-up."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from incident_operator import GROUP
from incident_operator.api.bookkeeping import DIFF_BASE_KEY, KOPF_PREFIX
from incident_operator.domain.liveness import (
    DEFAULT_WATCH_TIMEOUT,
    WatchTimeouts,
    watch_timeouts,
)

from .context import context_of

FINALIZER = f"{GROUP}/finalizer"
WORKER_LIMIT = 64
LIFECYCLE = kopf.lifecycles.all_at_once
"""kopf's lifecycle for our handlers: every handler due runs in one pass, so their status and
kopf's bookkeeping go out in one patch and one watch event.

kopf's default (``asap``) runs one handler per pass and writes its progress before the next:
an Incident's state change ran the lifecycle, patched, waited for the watch event, then ran the
catalog's resolution and patched again (two main-resource PATCHes per incident per change,
``benchmarks.comms --unlimited``, issue 15). A handler that fails still retries on its own:
kopf records each handler's outcome.

Nothing may wait for a later pass either: kopf stores the last pass's body as the diff base, so
a spec edit that arrives between two passes of one cause is never seen by the handlers that ran
in the first. Slow work that must not delay the status runs beside the handlers instead (change
correlation is a timer, ``handlers/change_correlation.py``).
"""


def apply(settings: kopf.OperatorSettings, watch: WatchTimeouts | None = None) -> None:
    """Our own `sre.dev` prefix for kopf's bookkeeping; nothing stored under status.

    kopf keeps handler progress in `status.kopf` by default, which our strict status schemas
    would prune silently; annotations under our prefix survive and are easy to recognise.
    """
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=KOPF_PREFIX, key=DIFF_BASE_KEY
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
