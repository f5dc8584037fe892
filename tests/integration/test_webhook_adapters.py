"""TeamsWebhook and SignedWebhook against the local fakes over real HTTP.

Cards arrive as Teams expects them; Teams' "200 but failed" answers are not mistaken for
success; the signed webhook verifies at the receiver, a wrong secret is refused, repeats of a
key are one delivery; and neither URL nor secret ever appears in an error or a log line.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from incident_operator.adapters.webhooks import SignedWebhook, TeamsWebhook
from incident_operator.domain.cards import verify
from incident_operator.domain.comms import IncidentSummary
from incident_operator.errors import DeliveryRejected, DeliveryThrottled, DeliveryUnavailable
from tests.fakes.ports.clock import FakeClock
from tests.fakes.webhooks import FakeTeams, FakeWebhookReceiver

TEAMS_TOKEN = "teamst0ken-5ecret-aaaa-bbbb"
SECRET = b"s1gning-5ecret-for-tests"
T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)

SUMMARY = IncidentSummary(
    namespace="shop",
    name="checkout-errors",
    title="Checkout returns 5xx",
    service="checkout",
    severity="sev-2",
    severity_display="SEV-2 (Major)",
    severity_level=2,
    phase="investigating",
    declared=T0,
    updated=T0,
    roles={"commander": "alice"},
    bridge_url="https://meet.example.com/inc-1",
)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


@pytest.fixture
async def teams() -> AsyncIterator[FakeTeams]:
    server = FakeTeams(token=TEAMS_TOKEN)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[FakeWebhookReceiver]:
    server = FakeWebhookReceiver(secret=SECRET)
    await server.start()
    yield server
    await server.stop()


def operator_logs(caplog: pytest.LogCaptureFixture) -> str:
    """Log lines of the sending side (the fakes' aiohttp access log is the SaaS side)."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("aiohttp"))


def no_secrets(*texts: str, secrets: tuple[str, ...]) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text


# -- Teams --------------------------------------------------------------------------------


async def test_teams_card_is_delivered_once_per_key(
    teams: FakeTeams, client: httpx.AsyncClient
) -> None:
    webhook = TeamsWebhook(client, teams.url)
    await webhook.notify(SUMMARY, event="declared", idempotency_key="k1")
    await webhook.notify(SUMMARY, event="declared", idempotency_key="k1")
    await webhook.notify(SUMMARY, event="updated", idempotency_key="k2")
    assert len(teams.cards) == 2
    card = teams.cards[0]
    assert card["type"] == "AdaptiveCard"
    assert card["body"][0]["text"] == "Declared: Checkout returns 5xx"
    assert card["actions"][0]["url"] == "https://meet.example.com/inc-1"
    assert teams.deliveries[0].headers["Content-Type"] == "application/json"


async def test_teams_throttle_and_failures_translate(
    teams: FakeTeams, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    webhook = TeamsWebhook(client, teams.url)
    teams.throttle_next(1, retry_after=12)
    with pytest.raises(DeliveryThrottled) as throttled:
        await webhook.notify(SUMMARY, event="declared", idempotency_key="k")
    assert throttled.value.retry_after == 12
    teams.fail_next(1, status=503)
    with pytest.raises(DeliveryUnavailable) as unavailable:
        await webhook.notify(SUMMARY, event="declared", idempotency_key="k")
    await webhook.notify(SUMMARY, event="declared", idempotency_key="k")
    assert len(teams.cards) == 1
    no_secrets(
        str(throttled.value),
        str(unavailable.value),
        repr(webhook),
        operator_logs(caplog),
        secrets=(TEAMS_TOKEN, teams.url),
    )
    httpx_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert httpx_lines
    assert all("[redacted webhook URL]" in line for line in httpx_lines)


async def test_teams_200_with_failure_text_is_not_success(
    teams: FakeTeams, client: httpx.AsyncClient
) -> None:
    webhook = TeamsWebhook(client, teams.url)
    teams.fail_delivery_next(1, status=429)
    with pytest.raises(DeliveryThrottled) as throttled:
        await webhook.notify(SUMMARY, event="declared", idempotency_key="k")
    assert throttled.value.retry_after == 60
    teams.fail_delivery_next(1, status=400)
    with pytest.raises(DeliveryRejected) as rejected:
        await webhook.notify(SUMMARY, event="declared", idempotency_key="k")
    assert rejected.value.code == "http 400"
    assert teams.cards == []


async def test_teams_wrong_token_is_rejected_without_the_url(
    teams: FakeTeams, client: httpx.AsyncClient
) -> None:
    wrong = teams.url.replace(TEAMS_TOKEN, "other-t0ken-xyz")
    webhook = TeamsWebhook(client, wrong)
    with pytest.raises(DeliveryRejected) as caught:
        await webhook.notify(SUMMARY, event="declared", idempotency_key="k")
    assert caught.value.code == "http 404"
    no_secrets(str(caught.value), repr(caught.value), secrets=("other-t0ken-xyz", wrong))


async def test_teams_bad_payload_is_rejected(teams: FakeTeams) -> None:
    """The fake refuses what real Teams refuses (checked by posting a non-card directly)."""
    async with httpx.AsyncClient() as http:
        response = await http.post(teams.url, json={"text": "hello"})
    assert response.status_code == 400
    assert response.text == "Bad payload received by generic incoming webhook."


# -- signed webhook -------------------------------------------------------------------------


async def test_signed_webhook_verifies_at_the_receiver(
    receiver: FakeWebhookReceiver, client: httpx.AsyncClient
) -> None:
    webhook = SignedWebhook(client, receiver.url, SECRET)
    await webhook.notify(SUMMARY, event="declared", idempotency_key="shop/checkout-errors/1")
    (delivery,) = receiver.deliveries
    headers = delivery.headers
    assert headers["X-Incident-Operator-Event"] == "declared"
    assert headers["Idempotency-Key"] == "shop/checkout-errors/1"
    assert headers["X-Incident-Operator-Signature"].startswith("sha256=")
    assert verify(
        SECRET,
        headers["X-Incident-Operator-Timestamp"],
        delivery.body,
        headers["X-Incident-Operator-Signature"],
        now=datetime.now(UTC),
    )
    payload = json.loads(delivery.body)
    assert payload["version"] == 1
    assert payload["event"] == "declared"
    assert payload["incident"]["severity"] == {
        "name": "sev-2",
        "display": "SEV-2 (Major)",
        "level": 2,
    }
    assert payload["incident"]["bridgeUrl"] == "https://meet.example.com/inc-1"


async def test_receiver_drops_repeated_keys(
    receiver: FakeWebhookReceiver, client: httpx.AsyncClient
) -> None:
    # Two senders (e.g. before and after an operator restart) share no in-process memory.
    for _ in range(2):
        await SignedWebhook(client, receiver.url, SECRET).notify(
            SUMMARY, event="declared", idempotency_key="same"
        )
    assert len(receiver.deliveries) == 1
    assert receiver.duplicates == 1


async def test_wrong_secret_is_refused(
    receiver: FakeWebhookReceiver, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = b"not-the-5ecret"
    webhook = SignedWebhook(client, receiver.url, wrong)
    with pytest.raises(DeliveryRejected) as caught:
        await webhook.notify(SUMMARY, event="declared", idempotency_key="k")
    assert caught.value.code == "http 401"
    assert receiver.rejected == 1
    assert receiver.deliveries == []
    no_secrets(
        str(caught.value),
        repr(caught.value),
        repr(webhook),
        operator_logs(caplog),
        secrets=(wrong.decode(), SECRET.decode(), receiver.url),
    )


async def test_stale_timestamp_is_refused(
    receiver: FakeWebhookReceiver, client: httpx.AsyncClient
) -> None:
    clock = FakeClock(datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(DeliveryRejected, match="401"):
        await SignedWebhook(client, receiver.url, SECRET, clock=clock).notify(
            SUMMARY, event="declared", idempotency_key="k"
        )


async def test_signed_webhook_throttle_and_server_errors(
    receiver: FakeWebhookReceiver, client: httpx.AsyncClient
) -> None:
    webhook = SignedWebhook(client, receiver.url, SECRET)
    receiver.throttle_next(1, retry_after=5)
    with pytest.raises(DeliveryThrottled) as throttled:
        await webhook.notify(SUMMARY, event="resolved", idempotency_key="k")
    assert throttled.value.retry_after == 5
    receiver.fail_next(1, status=500)
    with pytest.raises(DeliveryUnavailable):
        await webhook.notify(SUMMARY, event="resolved", idempotency_key="k")
    receiver.fail_next(1, status=422)
    with pytest.raises(DeliveryRejected):
        await webhook.notify(SUMMARY, event="resolved", idempotency_key="k")
    await webhook.notify(SUMMARY, event="resolved", idempotency_key="k")
    assert [p["event"] for p in receiver.payloads] == ["resolved"]


async def test_unreachable_receiver_is_unavailable_without_the_url(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hooks/t0ken-in-path"
    webhook = SignedWebhook(client, url, SECRET)
    with pytest.raises(DeliveryUnavailable) as caught:
        await webhook.notify(SUMMARY, event="declared", idempotency_key="k")
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    no_secrets(
        str(caught.value),
        repr(caught.value),
        operator_logs(caplog),
        secrets=("t0ken-in-path", SECRET.decode()),
    )
