"""The liveness decision: a loop that completes cycles is alive, whatever Prometheus does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incident_operator.domain.liveness import (
    LoopProgress,
    WatchStream,
    stalled_watches,
    watch_timeouts,
    wedged,
)

T = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("progress", "now", "misses", "reason"),
    [
        # never completed: counted from the start
        (LoopProgress(T, 30 * S), T + 299 * S, 10, None),
        (LoopProgress(T, 30 * S), T + 300 * S, 10, None),
        (LoopProgress(T, 30 * S), T + 301 * S, 10, "no SLO evaluation cycle completed for 301 s"),
        # completed recently (a cycle with Prometheus unavailable completes too)
        (LoopProgress(T, 30 * S, T + 3600 * S), T + 3650 * S, 10, None),
        (LoopProgress(T, 30 * S, T + 3600 * S), T + 3601 * S + 300 * S, 10, "for 301 s"),
        # the number of intervals is configurable
        (LoopProgress(T, 30 * S, T), T + 61 * S, 2, "(2 intervals of 30 s allowed;"),
        (LoopProgress(T, 30 * S, T), T + 60 * S, 2, None),
        # a dead loop is wedged at once
        (LoopProgress(T, 30 * S, T, running=False), T + 1 * S, 10, "loop has stopped"),
    ],
)
def test_wedged(progress: LoopProgress, now: datetime, misses: int, reason: str | None) -> None:
    found = wedged(progress, now, misses)
    if reason is None:
        assert found is None
    else:
        assert found is not None
        assert reason in found


# --- kopf's watch streams ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "inactivity", "stall"),
    [
        # the default: kopf's own inactivity default (70 s)
        (60, 70, 210),
        (300, 310, 930),
        (20, 30, 90),
        (10, 20, 60),
        (10.9, 20, 60),  # whole seconds: timeoutSeconds is an integer
    ],
)
def test_watch_timeouts(server: float, inactivity: int, stall: int) -> None:
    t = watch_timeouts(server * S)
    assert (t.heartbeat, t.inactivity, t.client, t.stall) == (
        int(server) * S,
        inactivity * S,
        inactivity * S,
        stall * S,
    )
    # kopf never drops a healthy request (the server ends it first), and a stream that breaks
    # once (found dead after `inactivity`, replaced at once) is never mistaken for a stalled one
    assert t.heartbeat < t.inactivity
    assert t.inactivity + t.heartbeat < t.stall


@pytest.mark.parametrize("server", [0, 2, 9])
def test_watch_timeouts_too_short(server: int) -> None:
    with pytest.raises(ValueError, match="too short"):
        watch_timeouts(server * S)


def stream(resource: str = "incidents.sre.dev", namespace: str = "", **kw: Any) -> WatchStream:
    return WatchStream(resource, namespace, T, **kw)


B = 210 * S


@pytest.mark.parametrize(
    ("streams", "now", "expected"),
    [
        # nothing watched yet (kopf starts its watchers after the start-up handlers)
        ((), T + 3600 * S, ()),
        # a fresh stream that has not delivered yet: counted from its start
        ((stream(),), T + 210 * S, ()),
        ((stream(),), T + 211 * S, ("incidents.sre.dev delivered nothing for 211 s",)),
        ((stream(),), T + 211 * S, ("nothing delivered since its start",)),
        # idle but healthy: bookmarks keep coming though no object changed
        ((stream(last_delivery=T + 3000 * S),), T + 3059 * S, ()),
        ((stream(last_delivery=T + 3000 * S),), T + 3210 * S, ()),
        ((stream(last_delivery=T + 3000 * S),), T + 3211 * S, ("(210 s allowed; last delivery",)),
        # one stalled stream among live ones fails the probe, and is named
        (
            (
                stream(last_delivery=T + 3600 * S),
                stream(resource="severities.sre.dev", last_delivery=T + 100 * S),
            ),
            T + 3601 * S,
            ("watch stream severities.sre.dev delivered nothing for 3501 s",),
        ),
        # namespaced streams are told apart
        (
            (stream(namespace="shop", last_delivery=T),),
            T + 300 * S,
            ("incidents.sre.dev in shop delivered nothing for 300 s",),
        ),
        # paused by peering (a hot standby): never stalled ...
        ((stream(paused=True, last_delivery=T),), T + 86400 * S, ()),
        # ... and counted from the last time it was seen paused once resumed
        ((stream(last_delivery=T, last_paused=T + 1000 * S),), T + 1210 * S, ()),
        ((stream(last_delivery=T, last_paused=T + 1000 * S),), T + 1211 * S, ("for 211 s",)),
    ],
)
def test_stalled_watches(
    streams: tuple[WatchStream, ...], now: datetime, expected: tuple[str, ...]
) -> None:
    found = stalled_watches(streams, now, B)
    assert len(found) == len(expected), found
    for reason, fragment in zip(found, expected, strict=True):
        assert fragment in reason
