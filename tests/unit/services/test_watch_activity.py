"""What came through kopf's watch streams: the record the watch liveness probe judges.

The seam into kopf (handlers/watch_liveness.py wraps kopf's ``infinite_watch``) is checked
against the pinned kopf here, so an upgrade that moves it fails instead of silently turning
the probe into "no streams, healthy".
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import kopf
import pytest
from kopf._cogs.clients import api as kopf_api
from kopf._cogs.clients import watching as kopf_watching
from kopf._core.reactor import queueing as kopf_queueing

from incident_operator.adapters.operator_metrics import PrometheusOperatorMetrics
from incident_operator.domain.liveness import stalled_watches
from incident_operator.handlers import watch_liveness
from incident_operator.services.watch_activity import WatchActivity
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.operator_metrics import RecordingMetrics

S = timedelta(seconds=1)
INCIDENTS = kopf.Resource("sre.dev", "v1alpha1", "incidents", namespaced=True)


def test_deliveries_move_the_stream_and_its_metric() -> None:
    clock, metrics = FakeClock(), RecordingMetrics()
    activity = WatchActivity(clock, metrics)
    handle = activity.started("incidents.sre.dev", "")
    start = clock.now()
    clock.advance(5 * S)
    activity.delivered(handle)
    [stream] = activity.snapshot()
    assert (stream.started, stream.last_delivery) == (start, start + 5 * S)
    assert metrics.named("watch_delivery") == [
        ("incidents.sre.dev", "", (start + 5 * S).timestamp())
    ]


def test_a_stream_stopped_on_purpose_is_forgotten_a_replaced_one_is_not() -> None:
    metrics = RecordingMetrics()
    activity = WatchActivity(FakeClock(), metrics)
    first = activity.started("incidents.sre.dev", "")
    second = activity.started("incidents.sre.dev", "")  # kopf restarted the stream
    activity.ended(first)  # the old one's end does not remove the new one
    assert len(activity.snapshot()) == 1
    activity.ended(second)
    assert activity.snapshot() == []
    assert metrics.named("watch_ended") == [("incidents.sre.dev", "")]


def test_paused_streams_are_seen_paused_and_remembered() -> None:
    clock = FakeClock()
    activity = WatchActivity(clock)
    standing_by = [True]
    activity.started("incidents.sre.dev", "", paused=lambda: standing_by[0])
    clock.advance(3600 * S)
    [stream] = activity.snapshot()
    assert stream.paused
    assert stream.last_paused == clock.now()
    assert stalled_watches([stream], clock.now(), 210 * S) == ()
    standing_by[0] = False  # this replica took over: counted from the last pause seen
    clock.advance(200 * S)
    assert stalled_watches(activity.snapshot(), clock.now(), 210 * S) == ()
    clock.advance(11 * S)
    assert stalled_watches(activity.snapshot(), clock.now(), 210 * S) != ()


def test_the_metric_carries_each_stream_until_it_ends() -> None:
    metrics = PrometheusOperatorMetrics()
    metrics.watch_delivery("incidents.sre.dev", "", 1700000000.0)
    metrics.watch_delivery("severities.sre.dev", "", 1700000001.0)
    body = metrics.exposition()[0].decode()
    assert (
        'incident_operator_watch_last_activity_timestamp_seconds{namespace="",'
        'resource="incidents.sre.dev"} 1.7e+09' in body
    )
    metrics.watch_ended("incidents.sre.dev", "")
    metrics.watch_ended("incidents.sre.dev", "")  # twice: no error
    body = metrics.exposition()[0].decode()
    assert 'resource="incidents.sre.dev"' not in body
    assert 'resource="severities.sre.dev"' in body


# --- the seam into kopf -------------------------------------------------------------------


def test_kopf_still_has_the_seam_we_wrap() -> None:
    """queueing.watcher calls ``watching.infinite_watch`` through the module, by keyword."""
    parameters = inspect.signature(watch_liveness.kopf_infinite_watch).parameters
    assert {"settings", "resource", "namespace", "operator_paused"} <= set(parameters)
    assert vars(kopf_queueing)["watching"] is kopf_watching
    assert "watching.infinite_watch(" in inspect.getsource(kopf_queueing.watcher)
    assert inspect.isasyncgenfunction(watch_liveness.kopf_infinite_watch)
    # api.stream (the watch request) calls the module's request() by keyword, url included
    stream_source = inspect.getsource(kopf_api.stream)
    assert "response = await request(" in stream_source
    assert "url=url," in stream_source
    assert "url" in inspect.signature(watch_liveness.kopf_request).parameters


def test_an_answered_watch_request_stamps_the_watcher_tasks_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answered: list[str] = []

    async def fake_request(**kwargs: Any) -> str:
        answered.append(kwargs["url"])
        return "response"

    monkeypatch.setattr(watch_liveness, "kopf_request", fake_request)
    monkeypatch.setattr(kopf_api, "request", kopf_api.request)
    monkeypatch.setattr(watch_liveness, "_installed", {})
    metrics = RecordingMetrics()
    activity = WatchActivity(FakeClock(), metrics)
    watch_liveness.install(activity)
    assert kopf_api.request is watch_liveness.observed_request
    handle = activity.started("incidents.sre.dev", "")

    # kopf's request() as installed, called with only what the fake above reads.
    def request() -> Callable[..., Awaitable[Any]]:
        return kopf_api.request

    async def watcher_task() -> None:
        watch_liveness.current_stream.set(handle)
        await request()(method="get", url="/apis/sre.dev/v1alpha1/incidents?watch=true")
        await request()(method="patch", url="/apis/sre.dev/v1alpha1/incidents/x")

    async def other_task() -> None:
        await request()(method="get", url="/api/v1/namespaces?watch=true")

    async def both() -> None:
        await asyncio.gather(watcher_task(), other_task())

    asyncio.run(both())
    assert len(answered) == 3  # every request goes through
    assert len(metrics.named("watch_delivery")) == 1  # only the stream's own watch request


def infinite_watch() -> Callable[..., AsyncIterator[Any]]:
    """kopf's infinite_watch as installed, to call with only what the fakes read (no real
    settings, a stand-in for the pause toggle)."""
    return kopf_watching.infinite_watch


class Paused:
    def __init__(self, on: bool) -> None:
        self.on = on

    def is_on(self) -> bool:
        return self.on


def test_the_wrapper_stamps_every_item_and_forgets_a_cancelled_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    items: list[Any] = [
        {"type": None, "object": {}},
        kopf_watching.Bookmark.LISTED,
        {"type": "BOOKMARK", "object": {}},
    ]

    async def fake_kopf_watch(**kwargs: Any) -> AsyncIterator[Any]:
        for item in items:
            yield item
        await asyncio.Event().wait()  # then silence, until cancelled

    monkeypatch.setattr(watch_liveness, "kopf_infinite_watch", fake_kopf_watch)
    monkeypatch.setattr(kopf_watching, "infinite_watch", kopf_watching.infinite_watch)
    monkeypatch.setattr(watch_liveness, "_installed", {})
    metrics = RecordingMetrics()
    activity = WatchActivity(FakeClock(), metrics)
    watch_liveness.install(activity)
    assert kopf_watching.infinite_watch is watch_liveness.observed_watch

    async def consume() -> list[Any]:
        seen: list[Any] = []
        stream = infinite_watch()(
            settings=None, resource=INCIDENTS, namespace="shop", operator_paused=Paused(True)
        )

        async def pull() -> None:
            async for item in stream:
                seen.append(item)

        task = asyncio.create_task(pull())
        while len(seen) < len(items):
            await asyncio.sleep(0)
        [running] = activity.snapshot()
        assert (running.resource, running.namespace, running.paused) == (
            "incidents.sre.dev",
            "shop",
            True,
        )
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return seen

    assert asyncio.run(consume()) == items
    assert len(metrics.named("watch_delivery")) == len(items)  # the bookmark included
    assert metrics.named("watch_ended") == [("incidents.sre.dev", "shop")]
    assert activity.snapshot() == []


def test_a_stream_that_died_by_an_error_stays_to_fail_the_probe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def failing(**kwargs: Any) -> AsyncIterator[Any]:
        yield {"type": "ADDED", "object": {}}
        raise kopf_watching.WatchingError("Error in the watch-stream")

    monkeypatch.setattr(watch_liveness, "kopf_infinite_watch", failing)
    monkeypatch.setattr(kopf_watching, "infinite_watch", kopf_watching.infinite_watch)
    monkeypatch.setattr(watch_liveness, "_installed", {})
    clock = FakeClock()
    activity = WatchActivity(clock)
    watch_liveness.install(activity)

    async def consume() -> None:
        async for _ in infinite_watch()(settings=None, resource=INCIDENTS, namespace=None):
            pass

    with pytest.raises(kopf_watching.WatchingError):
        asyncio.run(consume())
    [dead] = activity.snapshot()
    clock.advance(211 * S)
    assert stalled_watches([dead], clock.now(), 210 * S) != ()


def test_resource_names() -> None:
    assert watch_liveness.resource_name(INCIDENTS) == "incidents.sre.dev"
    assert watch_liveness.resource_name(kopf.Resource("", "v1", "namespaces")) == "namespaces"
