"""What came through each of kopf's watch streams, and when: the input of the watch probe.

Fed by ``handlers/watch_liveness.py`` (the one place that sees kopf's streams) with every item
kopf's watcher consumes — events, BOOKMARKs, ends of listings — and read by the liveness probe
through ``snapshot()``, which ``domain.liveness.stalled_watches`` judges. Each delivery also
moves the stream's ``incident_operator_watch_last_activity_timestamp_seconds`` sample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from incident_operator.adapters.ports import Clock, NoOperatorMetrics, OperatorMetrics
from incident_operator.domain.liveness import WatchStream


@dataclass(eq=False)
class StreamHandle:
    """One running stream; a restarted stream of the same resource gets a new handle."""

    resource: str
    namespace: str
    started: datetime
    paused: Callable[[], bool] | None = None
    last_delivery: datetime | None = None
    last_paused: datetime | None = None


class WatchActivity:
    def __init__(self, clock: Clock, metrics: OperatorMetrics | None = None) -> None:
        self._clock = clock
        self._metrics: OperatorMetrics = metrics if metrics is not None else NoOperatorMetrics()
        self._streams: dict[tuple[str, str], StreamHandle] = {}

    def started(
        self, resource: str, namespace: str, paused: Callable[[], bool] | None = None
    ) -> StreamHandle:
        """A stream began (``paused`` says whether kopf peering holds it now)."""
        handle = StreamHandle(resource, namespace, self._clock.now(), paused)
        self._streams[resource, namespace] = handle
        return handle

    def delivered(self, handle: StreamHandle) -> None:
        handle.last_delivery = now = self._clock.now()
        self._metrics.watch_delivery(handle.resource, handle.namespace, now.timestamp())

    def ended(self, handle: StreamHandle) -> None:
        """kopf stopped the stream on purpose (its resource went away, or shutdown)."""
        if self._streams.get((handle.resource, handle.namespace)) is handle:
            del self._streams[handle.resource, handle.namespace]
            self._metrics.watch_ended(handle.resource, handle.namespace)

    def snapshot(self) -> list[WatchStream]:
        """Every running stream as of now (a stream that died by an error stays, silent)."""
        now = self._clock.now()
        streams = []
        for handle in self._streams.values():
            paused = handle.paused is not None and handle.paused()
            if paused:
                handle.last_paused = now
            streams.append(
                WatchStream(
                    resource=handle.resource,
                    namespace=handle.namespace,
                    started=handle.started,
                    last_delivery=handle.last_delivery,
                    paused=paused,
                    last_paused=handle.last_paused,
                )
            )
        return streams
