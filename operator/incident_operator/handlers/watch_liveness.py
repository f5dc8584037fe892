"""Fail liveness when kopf's watch streams stall (domain/liveness.py decides).

kopf hands handlers no sign of life from an idle stream (its watcher drops BOOKMARK events
before any handler, kopf/_core/reactor/queueing.py, and an idle resource gets no bookmarks
anyway, domain/liveness.py), so ``kopf.on.event`` cannot tell an idle resource from a stream
that silently stopped (a half-open connection, a reconnect never answered, a watcher blocked
on its workers). Two seams of kopf, both called through their module attributes:

- ``kopf._cogs.clients.watching.infinite_watch``: the generator kopf's watcher consumes, one
  per resource and namespace, re-listing and reconnecting inside. Wrapped: every item that
  comes out (event, bookmark, end of a listing) is stamped, and the stream is made the
  watcher task's current one (a context variable).
- ``kopf._cogs.clients.api.request``: every API request; it returns once the API server
  answered (status checked). A watch request answered in a task whose current stream is set
  is stamped too: the stream was (re)established, which a healthy one is every
  ``--watch-timeout``, idle or not.

Both are installed at start-up, before kopf starts any watcher. kopf is pinned
(constraints.txt) and a unit test checks these seams, so an upgrade that moves them fails the
tests instead of silently disabling the probe.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Callable
from typing import Any

import kopf
from kopf._cogs.clients import api as kopf_api
from kopf._cogs.clients import watching as kopf_watching

from incident_operator.domain.liveness import stalled_watches
from incident_operator.services.watch_activity import StreamHandle, WatchActivity

from .context import context_of

kopf_infinite_watch: Callable[..., AsyncIterator[Any]] = kopf_watching.infinite_watch
"""kopf's own generator, wrapped by ``observed_watch``."""
kopf_request: Callable[..., Any] = kopf_api.request
"""kopf's own API request, wrapped by ``observed_request``."""
current_stream: contextvars.ContextVar[StreamHandle | None] = contextvars.ContextVar(
    "current_stream", default=None
)
"""The stream whose watcher task this is (set by ``observed_watch``; tasks copy it)."""
_installed: dict[str, WatchActivity] = {}
"""The activity the wrapper stamps into ("current"), set by ``install``."""


def resource_name(resource: Any) -> str:
    """``incidents.sre.dev``; core resources by their plural alone (``namespaces``)."""
    plural, group = str(resource.plural), str(resource.group or "")
    return f"{plural}.{group}" if group else plural


async def observed_watch(**kwargs: Any) -> AsyncIterator[Any]:
    """kopf's ``infinite_watch``, each delivered item stamped into the current activity."""
    activity = _installed.get("current")
    if activity is None:
        async for item in kopf_infinite_watch(**kwargs):
            yield item
        return
    paused = kwargs.get("operator_paused")
    handle = activity.started(
        resource_name(kwargs["resource"]),
        str(kwargs.get("namespace") or ""),
        paused=paused.is_on if paused is not None else None,
    )
    current_stream.set(handle)
    try:
        async for item in kopf_infinite_watch(**kwargs):
            activity.delivered(handle)
            yield item
    except (asyncio.CancelledError, GeneratorExit):
        activity.ended(handle)  # stopped by kopf: its resource went away, or shutdown
        raise
    # Any other exception: the stream died; it stays in the activity, silent, and fails the
    # probe once the bound passes unless kopf starts a new one for the resource.
    else:
        activity.ended(handle)


async def observed_request(*args: Any, **kwargs: Any) -> Any:
    """kopf's API request; an answered watch request stamps its stream (re)established."""
    response = await kopf_request(*args, **kwargs)
    activity, handle = _installed.get("current"), current_stream.get()
    if activity is not None and handle is not None and "watch=true" in str(kwargs.get("url")):
        activity.delivered(handle)
    return response


def install(activity: WatchActivity) -> None:
    """Observe every stream kopf starts from now on (idempotent; the last activity wins)."""
    _installed["current"] = activity
    kopf_watching.infinite_watch = observed_watch
    kopf_api.request = observed_request


@kopf.on.startup()
async def observe_watches(memo: kopf.Memo, **_: Any) -> None:
    activity = context_of(memo).watch_activity
    if activity is not None:
        install(activity)


@kopf.on.probe(id="watchStreams", errors=kopf.ErrorsMode.PERMANENT)
async def watch_streams_liveness(memo: kopf.Memo, **_: Any) -> str:
    """Fail kopf's liveness endpoint (HTTP 500) when a watch stream stalled.

    PERMANENT: a failed probe must answer now, not be retried with kopf's backoff.
    """
    context = context_of(memo)
    activity, timeouts = context.watch_activity, context.watch_timeouts
    if activity is None:
        return "watch streams are not observed"
    streams = activity.snapshot()
    reasons = stalled_watches(streams, context.clock.now(), timeouts.stall)
    if reasons:
        raise kopf.PermanentError("; ".join(reasons))
    paused = sum(1 for s in streams if s.paused)
    return (
        f"{len(streams)} watch streams delivering within {timeouts.stall.total_seconds():g} s"
        + (f" ({paused} paused by peering)" if paused else "")
    )
