"""PagerDutyEvents against the local Events API v2 fake over real HTTP.

One alert per dedup key however often a trigger is replayed; acknowledge and resolve move it;
429/5xx/connection failures become our retryable errors; a refused event becomes
DeliveryRejected — and the routing key never shows up in an error or a log line.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from incident_operator.adapters.pagerduty import PagerDutyEvents
from incident_operator.domain.comms import IncidentSummary
from incident_operator.domain.paging import dedup_key
from incident_operator.errors import DeliveryRejected, DeliveryThrottled, DeliveryUnavailable
from tests.fakes.pagerduty import FakePagerDuty

ROUTING_KEY = "R0UT1NGKEYc0ffee5ecret0123456789"
OTHER_KEY = "W40NGKEYdeadbeef5ecret0123456789"
KEY = dedup_key("shop", "checkout-errors")
T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)

SUMMARY = IncidentSummary(
    namespace="shop",
    name="checkout-errors",
    title="Checkout returns 5xx",
    service="checkout",
    severity="sev-1",
    severity_display="SEV-1 (Critical)",
    severity_level=1,
    phase="investigating",
    declared=T0,
    updated=T0,
    roles={"commander": "alice"},
    links={"Dashboard": "https://grafana.example.com/d/1"},
)


@pytest.fixture
async def fake() -> AsyncIterator[FakePagerDuty]:
    server = FakePagerDuty([ROUTING_KEY])
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def pager(
    client: httpx.AsyncClient, fake: FakePagerDuty, key: str = ROUTING_KEY
) -> PagerDutyEvents:
    return PagerDutyEvents(client, key, url=fake.url)


async def test_trigger_twice_is_one_alert(fake: FakePagerDuty, client: httpx.AsyncClient) -> None:
    events = pager(client, fake)
    await events.trigger(SUMMARY, dedup_key=KEY, urgency="high")
    await events.trigger(SUMMARY, dedup_key=KEY, urgency="high")
    (alert,) = fake.alerts_for(KEY)
    assert alert.state == "triggered"
    assert alert.severity == "critical"
    assert alert.summary == "[SEV-1 (Critical)] Checkout returns 5xx (checkout)"
    assert len(alert.events) == 2
    assert fake.events[0]["routing_key"] == ROUTING_KEY
    assert fake.events[0]["links"] == [
        {"href": "https://grafana.example.com/d/1", "text": "Dashboard"}
    ]


async def test_acknowledge_then_resolve(fake: FakePagerDuty, client: httpx.AsyncClient) -> None:
    events = pager(client, fake)
    await events.trigger(SUMMARY, dedup_key=KEY, urgency="high")
    await events.acknowledge(KEY)
    assert fake.alerts_for(KEY)[0].state == "acknowledged"
    await events.resolve(KEY)
    await events.resolve(KEY)  # a replayed resolve is harmless
    (alert,) = fake.alerts_for(KEY)
    assert alert.state == "resolved"
    assert fake.events[1] == {
        "routing_key": ROUTING_KEY,
        "event_action": "acknowledge",
        "dedup_key": KEY,
    }
    assert set(fake.events[2]) == {"routing_key", "event_action", "dedup_key"}


async def test_trigger_after_resolve_opens_a_new_alert(
    fake: FakePagerDuty, client: httpx.AsyncClient
) -> None:
    events = pager(client, fake)
    await events.trigger(SUMMARY, dedup_key=KEY, urgency="high")
    await events.resolve(KEY)
    await events.trigger(SUMMARY, dedup_key=KEY, urgency="high")
    assert [a.state for a in fake.alerts_for(KEY)] == ["resolved", "triggered"]


async def test_throttled_carries_retry_after(
    fake: FakePagerDuty, client: httpx.AsyncClient
) -> None:
    fake.throttle_next(1, retry_after=7)
    with pytest.raises(DeliveryThrottled) as caught:
        await pager(client, fake).trigger(SUMMARY, dedup_key=KEY, urgency="high")
    assert caught.value.retry_after == 7
    assert fake.alerts == []
    await pager(client, fake).trigger(SUMMARY, dedup_key=KEY, urgency="high")
    assert len(fake.alerts_for(KEY)) == 1


async def test_throttled_without_header_waits_the_documented_default(
    fake: FakePagerDuty, client: httpx.AsyncClient
) -> None:
    fake.throttle_next(1, retry_after=None)
    with pytest.raises(DeliveryThrottled) as caught:
        await pager(client, fake).acknowledge(KEY)
    assert caught.value.retry_after == 30


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_unavailable(
    fake: FakePagerDuty, client: httpx.AsyncClient, status: int
) -> None:
    fake.fail_next(1, status=status)
    with pytest.raises(DeliveryUnavailable, match=str(status)):
        await pager(client, fake).trigger(SUMMARY, dedup_key=KEY, urgency="high")


async def test_connection_refused_is_unavailable(client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    events = PagerDutyEvents(client, ROUTING_KEY, url=f"http://127.0.0.1:{port}/v2/enqueue")
    with pytest.raises(DeliveryUnavailable) as caught:
        await events.resolve(KEY)
    assert ROUTING_KEY not in str(caught.value)


async def test_unknown_routing_key_is_rejected_without_the_key(
    fake: FakePagerDuty, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    events = pager(client, fake, OTHER_KEY)
    with pytest.raises(DeliveryRejected) as caught:
        await events.trigger(SUMMARY, dedup_key=KEY, urgency="high")
    error = caught.value
    assert error.code == "invalid event"
    assert "Invalid routing key" in str(error)
    for text in (str(error), repr(error), repr(events), caplog.text):
        assert OTHER_KEY not in text
    assert fake.alerts == []
    assert caplog.records  # the adapter does log the attempt, just never the key


async def test_echoed_routing_key_is_scrubbed(client: httpx.AsyncClient) -> None:
    """Even a service that echoes the key back in its error text cannot leak it through us."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400,
            json={
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": [f"routing_key {ROUTING_KEY} is not allowed"],
            },
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as mock:
        with pytest.raises(DeliveryRejected) as caught:
            await PagerDutyEvents(mock, ROUTING_KEY).acknowledge(KEY)
    assert ROUTING_KEY not in str(caught.value)
    assert "[redacted]" in str(caught.value)


async def test_invalid_trigger_is_rejected_with_the_services_errors(
    fake: FakePagerDuty, client: httpx.AsyncClient
) -> None:
    events = pager(client, fake)
    with pytest.raises(DeliveryRejected) as caught:
        await events.trigger(SUMMARY, dedup_key="k" * 300, urgency="high")
    assert "dedup_key" in str(caught.value)
