"""Operator-wide kopf settings, applied at start-up."""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, TypeVar, cast

import kopf

from incident_operator import GROUP
from incident_operator.api.bookkeeping import DIFF_BASE, DIFF_BASE_FIELD, KOPF_PREFIX
from incident_operator.domain.liveness import (
    DEFAULT_WATCH_TIMEOUT,
    WatchTimeouts,
    watch_timeouts,
)

from .context import context_of

FINALIZER = f"{GROUP}/finalizer"
H = TypeVar("H")
WORKER_LIMIT = 64


class DiffBaseInStatus(kopf.StatusDiffBaseStorage):
    """kopf's diff base in ``status.lastHandledConfiguration`` (``CommonStatus``), written in
    the same JSON patch as the handlers' status.

    In an annotation it cost every handled change a PATCH of the object itself before kopf's
    status PATCH, and a watch event of its own: with 100 incidents changing at once, 100 of
    the ~540 writes, and a round trip in front of every status (``benchmarks.comms
    --unlimited``, issue 15). kopf writes its merge-patch part and its patch functions in two
    requests, so the diff base is a patch function too: one status request per change.

    A patch function is guarded by the resourceVersion kopf read; when another writer got
    there first, kopf sends it with the next event instead. Until then the diff base it
    carries is remembered here (``_sent``), so that event is not taken for the same change
    again and handled twice (a transition counted twice in the metrics). After a restart the
    status is the record, as the annotation was: a change handled but not recorded is
    handled again.

    An object last handled by an earlier version has its diff base in the ``DIFF_BASE``
    annotation: read from there, and the annotation removed when the diff base is next
    written.
    """

    KEPT = 4096
    """Objects whose diff base is on its way at most; an object deleted meanwhile is
    forgotten with the oldest."""

    def __init__(self) -> None:
        super().__init__(field=("status", DIFF_BASE_FIELD))
        self._sent: OrderedDict[str, str] = OrderedDict()
        self._seen: OrderedDict[str, str] = OrderedDict()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        written = (body.get("status") or {}).get(DIFF_BASE_FIELD)
        uid = body.metadata.uid or ""
        sent = self._sent.get(uid)
        if sent is not None and sent == written:
            del self._sent[uid]  # on the object now: the status is the record again
        for encoded in (sent, written, body.metadata.annotations.get(DIFF_BASE)):
            essence = _decoded(encoded)
            if essence is not None:
                return essence
        return None

    def lifecycle(self, handlers: Sequence[H], *, state: Any, **kwargs: Any) -> Sequence[H]:
        """kopf's lifecycle for our handlers: every handler due runs in one pass, so their
        status and kopf's bookkeeping go out in one patch and one watch event.

        kopf's default (``asap``) runs one handler per pass and writes its progress before
        the next: an Incident's state change ran the lifecycle, patched, waited for the watch
        event, then ran the catalog's resolution and patched again (two PATCHes per incident
        per change, ``benchmarks.comms --unlimited``, issue 15).

        A cause still takes more than one pass when a handler fails and waits for its retry,
        and kopf then stores the *last* pass's body as the diff base: a spec edit made in
        between would count as handled although the handlers done earlier never saw it (an
        incident resolved then would stay open). So the body a cause's first finished
        handlers saw is noted here, and ``store`` records that one instead; the edit is then
        a change of its own, handled by every handler. Nothing is deferred to a later pass on
        purpose for the same reason: slow work runs beside the handlers (change correlation
        is a timer, ``handlers/change_correlation.py``).
        """
        body, new = kwargs.get("body"), kwargs.get("new")
        changing = kwargs.get("reason") in (kopf.Reason.CREATE, kopf.Reason.UPDATE)
        done_before = any(state[h].active and state[h].finished for h in state)
        if changing and not done_before and isinstance(body, kopf.Body) and new is not None:
            encoded = json.dumps(new, separators=(",", ":"))
            _remember(self._seen, body.metadata.uid or "", encoded, self.KEPT)
        return list(handlers)

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        seen = self._seen.pop(body.metadata.uid or "", None)
        # The earliest body a finished handler of this cause saw: a later edit stays a change.
        encoded = seen or json.dumps(essence, separators=(",", ":"))

        def record(fresh: kopf.RawBody) -> None:
            status = fresh.get("status")
            fresh["status"] = {
                **(status if isinstance(status, dict) else {}),
                DIFF_BASE_FIELD: encoded,
            }

        patch.fns.append(record)
        _remember(self._sent, body.metadata.uid or "", encoded, self.KEPT)
        if DIFF_BASE in body.metadata.annotations:
            patch.metadata.annotations[DIFF_BASE] = None


def _decoded(encoded: object) -> kopf.BodyEssence | None:
    """A diff base as stored, or None when there is none or it is no JSON object: a value
    written by hand that kopf could not read would fail every event of the object; as
    absent, the object is handled as new once and the diff base written again."""
    if not isinstance(encoded, str) or not encoded:
        return None
    try:
        essence = json.loads(encoded)
    except ValueError:
        return None
    return cast(kopf.BodyEssence, essence) if isinstance(essence, dict) else None


def _remember(kept: OrderedDict[str, str], uid: str, encoded: str, bound: int) -> None:
    kept[uid] = encoded
    kept.move_to_end(uid)
    while len(kept) > bound:
        kept.popitem(last=False)


DIFF_BASE_STORAGE = DiffBaseInStatus()
"""The one storage of the process: kopf's persistence setting (``apply``) and its lifecycle
(``DIFF_BASE_STORAGE.lifecycle``, handlers/runner.py) share what it notes."""
LIFECYCLE = DIFF_BASE_STORAGE.lifecycle


def apply(settings: kopf.OperatorSettings, watch: WatchTimeouts | None = None) -> None:
    """kopf's bookkeeping: handler progress in annotations under our own `sre.dev` prefix,
    the diff base in the status field our schemas define for it (``DiffBaseInStatus``).

    kopf keeps handler progress in `status.kopf` by default, which our strict status schemas
    would prune silently; annotations under our prefix survive and are easy to recognise.
    """
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    settings.persistence.diffbase_storage = DIFF_BASE_STORAGE
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
