"""Socket Mode against the Slack fake's WebSocket: the same commands and events, no endpoint.

slack_sdk's real aiohttp SocketModeClient connects to the fake (apps.connections.open with
the app-level token, then the WebSocket); commands are answered in the envelope's ack, a
re-sent event acts once, and a wrong app token leaves the operator running, not connected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from incident_operator.adapters.secrets import StaticToken
from incident_operator.adapters.slack import SlackChat
from incident_operator.domain.chat_declare import DeclarePolicy
from incident_operator.services.chat_commands import ChatCommandConfig, ChatCommandService
from incident_operator.web.slack import SlackEndpoints
from incident_operator.web.slack_socket import SlackSocketMode
from tests.fakes.ports.catalog import FakeCatalog
from tests.fakes.ports.clock import FakeClock
from tests.fakes.slack_socket import FakeSlackSocketMode
from tests.unit.services.test_chat_commands import NAME, NOW, NS, world

BOT, APP = "xoxb-socket-bot", "xapp-1-socket-app"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlackSocketMode]:
    slack = FakeSlackSocketMode(BOT, APP)
    await slack.start()
    yield slack
    await slack.stop()


async def until(what: str, check: Any, timeout: float = 10) -> Any:
    for _ in range(int(timeout * 20)):
        if (value := check()) is not None and value is not False:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_commands_and_events_over_socket_mode(fake: FakeSlackSocketMode) -> None:
    store, _, _ = world()
    reader = SlackChat(BOT, base_url=fake.base_url)
    service = ChatCommandService(store, FakeClock(NOW), reader)
    socket = SlackSocketMode(
        SlackEndpoints(service, None, clock=FakeClock(NOW)),
        service,
        StaticToken(APP),
        api_url=fake.base_url,
    )
    await socket.start()
    try:
        envelope = await fake.push(
            "slash_commands",
            {"command": "/incident", "text": "ack", "channel_id": "C0INCIDENT",
             "user_id": "U0BBBBBBB", "user_name": "bob", "trigger_id": "t-1"},
        )  # fmt: skip
        reply = await until("the command's ack", lambda: fake.acks.get(envelope))
        assert reply["response_type"] == "ephemeral"
        assert store.incidents[(NS, NAME)]["spec"]["state"] == "investigating"

        channel = fake.add_channel("inc-socket")
        ts = fake.add_message(channel.id, "DB primary failed over at 14:02")
        store.incidents[(NS, NAME)]["status"]["chat"]["channelId"] = channel.id
        service.channels.observe(store.incidents[(NS, NAME)])  # as the watch would
        event = {
            "type": "event_callback",
            "event_id": "Ev0SOCKET1",
            "event": {
                "type": "reaction_added",
                "user": "U0AAAAAAA",
                "reaction": "pushpin",
                "item": {"type": "message", "channel": channel.id, "ts": ts},
                "event_ts": ts,
            },
        }
        first = await fake.push("events_api", event)
        again = await fake.push("events_api", event)  # re-sent: acknowledged, not acted on
        await until("both acks", lambda: first in fake.acks and again in fake.acks)
        pins = [e for e in store.timeline(NS, NAME) if e["type"] == "chat-pin"]
        assert [e["message"] for e in pins] == ["DB primary failed over at 14:02"]
        assert socket.handled == 3
    finally:
        await socket.stop()


async def test_a_wrong_app_token_is_logged_without_the_token(
    fake: FakeSlackSocketMode, caplog: pytest.LogCaptureFixture
) -> None:
    _, _, service = world()
    socket = SlackSocketMode(
        SlackEndpoints(service, None, clock=FakeClock(NOW)),
        service,
        StaticToken("xapp-wrong-secret"),
        api_url=fake.base_url,
    )
    with caplog.at_level(logging.ERROR):
        await socket.start()
    await socket.stop()
    assert fake.connections == 0
    assert "invalid_auth" in caplog.text
    assert "xapp-wrong-secret" not in caplog.text
    assert "xapp-wrong-secret" not in repr(socket)


async def test_a_form_over_socket_mode(fake: FakeSlackSocketMode) -> None:
    """``/incident declare`` opens the modal through views.open; the ``interactive`` envelope
    carrying its submission is answered in the ack (errors, or the updated view)."""
    store, _, _ = world()
    catalog = FakeCatalog(severities=store.severities)
    catalog.add_service("shop", "checkout", owner="payments")
    chat = SlackChat(BOT, base_url=fake.base_url)
    service = ChatCommandService(
        store,
        FakeClock(NOW),
        chat,
        ChatCommandConfig(declare=DeclarePolicy.parse("shop")),
        views=chat,
        choices=catalog,
    )
    endpoints = SlackEndpoints(service, None, clock=FakeClock(NOW), interactions=service)
    socket = SlackSocketMode(endpoints, service, StaticToken(APP), api_url=fake.base_url)
    await socket.start()
    try:
        envelope = await fake.push(
            "slash_commands",
            {"command": "/incident", "text": "declare", "channel_id": "C0GENERAL",
             "user_id": "U0BBBBBBB", "user_name": "bob", "trigger_id": fake.trigger()},
        )  # fmt: skip
        await until("the command's ack", lambda: envelope in fake.acks)
        assert fake.acks[envelope] is None  # no message: a form opened instead
        (view_id,) = fake.views
        wrong = await fake.push(
            "interactive", fake.submission(view_id, title="Down", service="shop/nope")
        )
        errors = await until("the errors", lambda: fake.acks.get(wrong))
        assert errors["response_action"] == "errors"
        right = await fake.push(
            "interactive",
            fake.submission(view_id, title="Down", service="shop/checkout", severity="sev-2"),
        )
        done = await until("the declaration", lambda: fake.acks.get(right))
        assert done["response_action"] == "update"
        declared = [k for k in store.incidents if k[0] == "shop" and k[1].startswith("down-")]
        assert len(declared) == 1
    finally:
        await socket.stop()
