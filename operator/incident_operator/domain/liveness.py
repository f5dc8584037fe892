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
# What a healthy stream shows: kopf asks the API server to end each watch request after
# ``server`` seconds (timeoutSeconds) and opens the next one at once, so a new request is
# answered (HTTP 200) at least every ``server`` seconds, idle or not; events, bookmarks and
# listings come on top. Bookmarks alone are no heartbeat: kube-apiserver's watch cache sends
# one only when the resource version moved past the watcher's (k8s.io/apiserver
# pkg/storage/cacher/cache_watcher.go, process()), which for an idle resource waits on etcd's
# progress notifications — seen on the local 1.37 API server: 20 s watches of an idle
# resource delivered nothing at all, a 75 s one a single bookmark after 61 s.

DELIVERY_SLACK = timedelta(seconds=10)
"""Reconnecting, the API server's answer and kopf's own queueing (kopf uses the same 10 s)."""
STALL_WINDOWS = 3
"""Inactivity windows without any delivery before a stream counts as stalled."""
MIN_SERVER_TIMEOUT = timedelta(seconds=10)
DEFAULT_WATCH_TIMEOUT = timedelta(minutes=1)
"""1 minute: kopf inactivity 70 s (kopf's own default), liveness bound 210 s."""


@dataclass(frozen=True)
class WatchTimeouts:
    """kopf's watch timeouts and the liveness bound, all derived from one request timeout.

    - ``server``: the API server ends each watch request after this (kopf's
      ``server_timeout``, the request's ``timeoutSeconds``); kopf reconnects at once, from the
      last resource version. So a healthy stream is answered anew at least this often.
    - ``inactivity``: kopf drops a request (or a connection attempt) silent for this long —
      longer than the server lets a request live — and opens a new one (kopf's
      ``inactivity_timeout``); also the client's cap on one request (``client_timeout``).
    - ``stall``: the liveness bound. A stream that breaks once is replaced after
      ``inactivity`` and its replacement answered right after; three windows without
      anything mean kopf's own recovery failed too — the operator is stalled.
    """

    server: timedelta

    @property
    def heartbeat(self) -> timedelta:
        """The longest gap between deliveries (answers included) on a healthy stream."""
        return self.server

    @property
    def inactivity(self) -> timedelta:
        return self.server + DELIVERY_SLACK

    @property
    def client(self) -> timedelta:
        return self.inactivity

    @property
    def stall(self) -> timedelta:
        return self.inactivity * STALL_WINDOWS


def watch_timeouts(server: timedelta) -> WatchTimeouts:
    """The timeouts for watch requests lasting ``server`` (whole seconds: the API server's
    timeoutSeconds is an integer); ValueError below 10 s."""
    server = timedelta(seconds=int(server.total_seconds()))
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
    """The last answered watch request, event, bookmark or end of a listing."""
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
