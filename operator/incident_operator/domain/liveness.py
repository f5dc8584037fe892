"""Is the operator alive? The decisions behind its liveness probes: the SLO loop, the watches.

"Completed a cycle" means ``SloEvaluationService.cycle()`` returned: every SLO was loaded,
measured (or found unmeasurable) and its status decided. Prometheus being unreachable, slow
past its timeout or answering errors is NOT a wedge: the cycle handles it, marks the SLOs
``MetricsUnavailable`` and returns, and restarting the operator would not bring Prometheus
back. A cycle that raised did not complete; neither did one that never returns (a call
without a timeout, a deadlock, a dead task). Only those leave the loop without a completion
for ``allowed_misses`` intervals, and a restart is the remedy Kubernetes has for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_ALLOWED_MISSES = 10
"""Intervals without a completed cycle before the probe fails (5 minutes at 30 s)."""


@dataclass(frozen=True)
class LoopProgress:
    started: datetime
    """When the loop was started (the first cycle is due one interval later at most)."""
    interval: timedelta
    last_completed: datetime | None = None
    running: bool = True
    """False: the loop's task has ended (it never should while the operator runs)."""


def wedged(
    progress: LoopProgress, now: datetime, allowed_misses: int = DEFAULT_ALLOWED_MISSES
) -> str | None:
    """Why the loop counts as wedged at ``now``; None while it is alive."""
    if not progress.running:
        return "the SLO evaluation loop has stopped"
    since = progress.last_completed or progress.started
    deadline = since + progress.interval * allowed_misses
    if now <= deadline:
        return None
    what = "last completed" if progress.last_completed is not None else "started"
    return (
        f"no SLO evaluation cycle completed for {(now - since).total_seconds():.0f} s "
        f"({allowed_misses} intervals of {progress.interval.total_seconds():g} s allowed; "
        f"{what} {since.isoformat()})"
    )


# --- kopf's watch streams ----------------------------------------------------------------
#
# kube-apiserver's watch cache sends every watcher that asks for them (kopf does:
# allowWatchBookmarks=true) a BOOKMARK about once a minute and 2 s before the watch request's
# own timeout (k8s.io/apiserver pkg/storage/cacher: defaultBookmarkFrequency, and
# cacheWatcher.nextBookmarkTime). So a healthy stream delivers something — an event, a
# bookmark, or a re-listing — at least every ``heartbeat``, idle or not. Silence longer than
# that is a dead stream; kopf replaces one after its ``inactivity_timeout``.

BOOKMARK_PERIOD = timedelta(seconds=60)
"""kube-apiserver's bookmark frequency (cacher's defaultBookmarkFrequency)."""
PRE_TIMEOUT_BOOKMARK = timedelta(seconds=2)
"""The last bookmark of a request comes this long before its timeoutSeconds."""
DELIVERY_SLACK = timedelta(seconds=10)
"""Jitter of the bookmark timer, transport and kopf's own queueing (kopf uses the same 10 s)."""
STALL_WINDOWS = 3
"""Inactivity windows without any delivery before a stream counts as stalled."""
MIN_SERVER_TIMEOUT = timedelta(seconds=10)
DEFAULT_WATCH_TIMEOUT = timedelta(minutes=5)
"""5 minutes: heartbeat 60 s, kopf inactivity 70 s, liveness bound 210 s."""


@dataclass(frozen=True)
class WatchTimeouts:
    """kopf's watch timeouts and the liveness bound, all derived from one request timeout.

    - ``server``: the API server ends each watch request after this (kopf's
      ``server_timeout``, the request's ``timeoutSeconds``); kopf reconnects at once, from the
      last resource version.
    - ``heartbeat``: the longest gap between deliveries on a healthy stream.
    - ``inactivity``: kopf drops a stream (or a connection attempt) silent for this long and
      opens a new one (kopf's ``inactivity_timeout``; its own default, 70 s, is this value
      for ``server`` >= 62 s).
    - ``client``: the client ends a request the server failed to end (kopf's
      ``client_timeout``).
    - ``stall``: the liveness bound. A stream that breaks once still delivers within
      ``inactivity + heartbeat`` (found dead, replaced, the replacement's first bookmark),
      which is under two windows; three windows without anything mean kopf's own recovery
      failed too — the operator is stalled.
    """

    server: timedelta

    @property
    def heartbeat(self) -> timedelta:
        return min(BOOKMARK_PERIOD, self.server - PRE_TIMEOUT_BOOKMARK)

    @property
    def inactivity(self) -> timedelta:
        return self.heartbeat + DELIVERY_SLACK

    @property
    def client(self) -> timedelta:
        return self.server + self.inactivity

    @property
    def stall(self) -> timedelta:
        return self.inactivity * STALL_WINDOWS


def watch_timeouts(server: timedelta) -> WatchTimeouts:
    """The timeouts for watch requests lasting ``server``; ValueError below 10 s."""
    if server < MIN_SERVER_TIMEOUT:
        raise ValueError(
            f"a watch timeout of {server.total_seconds():g} s is too short "
            f"(at least {MIN_SERVER_TIMEOUT.total_seconds():g} s)"
        )
    return WatchTimeouts(server)


@dataclass(frozen=True)
class WatchStream:
    """One of kopf's watch streams (a resource, in a namespace or cluster-wide), observed."""

    resource: str
    namespace: str
    """"" for a cluster-wide stream."""
    started: datetime
    """When kopf started the stream (it re-lists and reconnects inside it)."""
    last_delivery: datetime | None = None
    """The last event, bookmark or end of a listing kopf consumed from it."""
    paused: bool = False
    """Paused by kopf peering: another replica is active; this one stands by, not stalled."""
    last_paused: datetime | None = None
    """The last time the stream was seen paused (it reconnects and re-lists on resume)."""

    @property
    def name(self) -> str:
        return f"{self.resource} in {self.namespace}" if self.namespace else self.resource


def stalled_watches(
    streams: Iterable[WatchStream], now: datetime, bound: timedelta
) -> tuple[str, ...]:
    """Why each stalled stream counts as stalled at ``now``; empty while all deliver.

    A stream is stalled when nothing came through it for longer than ``bound`` since the
    latest of: its start, its last delivery, the last time it was seen paused.
    """
    reasons = []
    for stream in streams:
        if stream.paused:
            continue
        since = max(
            m for m in (stream.started, stream.last_delivery, stream.last_paused) if m is not None
        )
        if now - since <= bound:
            continue
        what = (
            f"last delivery {stream.last_delivery.isoformat()}"
            if stream.last_delivery is not None
            else f"nothing delivered since its start {stream.started.isoformat()}"
        )
        reasons.append(
            f"watch stream {stream.name} delivered nothing for "
            f"{(now - since).total_seconds():.0f} s ({bound.total_seconds():g} s allowed; {what})"
        )
    return tuple(reasons)
