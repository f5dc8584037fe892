"""POST /slack/commands and /slack/events over HTTP (aiohttp's test server).

The executor is a recorder: every refused request is also checked to have executed nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from incident_operator.adapters.secrets import StaticToken
from incident_operator.domain.slack_requests import Command, ReactionAdded, Verb, sign
from incident_operator.errors import CommandRefused, TemporaryError
from incident_operator.services.chat_commands import CommandContext
from incident_operator.web.slack import SlackEndpoints
from tests.fakes.ports.clock import FakeClock

SECRET = b"slack-signing-s3cret"
NOW = datetime(2026, 11, 27, 14, 5, tzinfo=UTC)
FORM = {
    "token": "legacy",
    "team_id": "T1",
    "channel_id": "C0INCIDENT",
    "user_id": "U0AAAAAAA",
    "user_name": "alice",
    "command": "/incident",
    "text": "ack",
    "trigger_id": "13345224609.738474920.8088930838d88f008e0",
    "response_url": "https://hooks.slack.com/commands/1234/5678",
}


@dataclass
class Recorder:
    commands: list[tuple[Command, CommandContext]] = field(default_factory=list)
    reactions: list[ReactionAdded] = field(default_factory=list)
    raise_next: list[Exception] = field(default_factory=list)
    delay: float = 0.0
    finished: int = 0

    async def execute(self, command: Command, context: CommandContext) -> str:
        self.commands.append((command, context))
        await asyncio.sleep(self.delay)
        if self.raise_next:
            raise self.raise_next.pop(0)
        self.finished += 1
        return f"did {command.verb}"

    async def reaction(self, event: ReactionAdded) -> None:
        self.reactions.append(event)
        if self.raise_next:
            raise self.raise_next.pop(0)


@dataclass
class World:
    client: TestClient[Any, Any]
    executor: Recorder
    endpoints: SlackEndpoints

    async def send(
        self,
        path: str,
        body: bytes,
        *,
        at: datetime = NOW,
        secret: bytes = SECRET,
        content_type: str = "application/x-www-form-urlencoded",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        ts = str(int(at.timestamp()))
        response = await self.client.post(
            path,
            data=body,
            headers={
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": sign(secret, ts, body),
                **(headers or {}),
            },
        )
        return response.status, await response.json(content_type=None)

    async def command(self, text: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.send(
            "/slack/commands", urlencode({**FORM, "text": text}).encode(), **kwargs
        )

    async def event(self, payload: Any, **kwargs: Any) -> tuple[int, Any]:
        return await self.send(
            "/slack/events",
            json.dumps(payload).encode(),
            content_type="application/json",
            **kwargs,
        )


def endpoints_app(endpoints: SlackEndpoints) -> web.Application:
    app = web.Application()
    app.add_routes(endpoints.routes())
    return app


@pytest.fixture
async def world() -> AsyncIterator[World]:
    executor = Recorder()
    endpoints = SlackEndpoints(
        executor,
        StaticToken(SECRET.decode()),
        clock=FakeClock(NOW),
        max_body=4096,
        reply_within=0.5,
    )
    async with TestClient(TestServer(endpoints_app(endpoints))) as client:
        yield World(client, executor, endpoints)
        await endpoints.close()


async def test_signed_command_executes_and_answers_ephemerally(world: World) -> None:
    status, body = await world.command("ack")
    assert (status, body) == (200, {"response_type": "ephemeral", "text": "did ack"})
    ((command, context),) = world.executor.commands
    assert command == Command(Verb.ACK)
    assert context == CommandContext(
        channel_id="C0INCIDENT",
        user_id="U0AAAAAAA",
        user_name="alice",
        request_id="13345224609.738474920.8088930838d88f008e0",
    )


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"secret": b"someone-else"}, "signature does not match"),
        ({"at": NOW - timedelta(minutes=6)}, "older than"),
        ({"at": NOW + timedelta(minutes=6)}, "ahead"),
    ],
    ids=["forged", "stale", "future"],
)
async def test_unverified_requests_are_401_and_execute_nothing(
    world: World, kwargs: dict[str, Any], reason: str
) -> None:
    status, body = await world.command("resolve", **kwargs)
    assert status == 401
    assert reason in body["error"]
    assert SECRET.decode() not in json.dumps(body)
    status, _ = await world.event(reaction_payload("Ev1"), **kwargs)
    assert status == 401
    assert world.executor.commands == []
    assert world.executor.reactions == []


async def test_missing_signature_headers_are_401(world: World) -> None:
    for path in ("/slack/commands", "/slack/events"):
        response = await world.client.post(path, data=b"text=ack")
        assert response.status == 401
        assert "missing" in (await response.json())["error"]
    assert world.executor.commands == []


async def test_body_changed_after_signing_is_401(world: World) -> None:
    body = urlencode({**FORM, "text": "status"}).encode()
    ts = str(int(NOW.timestamp()))
    response = await world.client.post(
        "/slack/commands",
        data=urlencode({**FORM, "text": "resolve"}).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sign(SECRET, ts, body),
        },
    )
    assert response.status == 401
    assert world.executor.commands == []


async def test_oversized_body_is_413(world: World) -> None:
    status, body = await world.command("note " + "x" * 5000)
    assert status == 413
    assert "4096" in body["error"]
    assert world.executor.commands == []


async def test_bad_command_answers_usage_with_200(world: World) -> None:
    status, body = await world.command("role commander")
    assert status == 200
    assert body["response_type"] == "ephemeral"
    assert body["text"].startswith("Usage: /incident role ROLE @person")
    assert world.executor.commands == []


async def test_refused_and_temporary_failures_are_shown_to_the_user(world: World) -> None:
    world.executor.raise_next = [
        CommandRefused("This channel is not an incident channel."),
        TemporaryError("API server unavailable"),
    ]
    assert (await world.command("ack"))[1]["text"] == "This channel is not an incident channel."
    status, body = await world.command("ack")
    assert status == 200
    assert body["text"].startswith("Could not do that right now, please try again")


async def test_slow_command_answers_within_the_deadline_and_finishes(world: World) -> None:
    world.executor.delay = 1.0
    started = asyncio.get_running_loop().time()
    status, body = await world.command("note slow")
    assert asyncio.get_running_loop().time() - started < 0.9
    assert (status, body["text"][:15]) == (200, "Working on it: ")
    assert world.executor.finished == 0
    await world.endpoints.close()
    assert world.executor.finished == 1


async def test_url_verification_echoes_the_challenge(world: World) -> None:
    status, body = await world.event(
        {
            "token": "x",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    )
    assert (status, body) == (
        200,
        {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"},
    )


def reaction_payload(event_id: str) -> dict[str, Any]:
    return {
        "type": "event_callback",
        "event_id": event_id,
        "event": {
            "type": "reaction_added",
            "user": "U0BBBBBBB",
            "reaction": "pushpin",
            "item": {"type": "message", "channel": "C0INCIDENT", "ts": "1700000000.000200"},
        },
    }


async def test_retried_event_is_deduplicated(world: World) -> None:
    assert (await world.event(reaction_payload("Ev1")))[0] == 200
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert (await world.event(reaction_payload("Ev1"), headers=retry))[0] == 200
    assert (await world.event(reaction_payload("Ev2")))[0] == 200
    assert [e.event_id for e in world.executor.reactions] == ["Ev1", "Ev2"]
    assert world.executor.reactions[0] == ReactionAdded(
        "Ev1", "C0INCIDENT", "1700000000.000200", "U0BBBBBBB", "pushpin"
    )


async def test_temporary_failure_lets_slack_retry_the_event(world: World) -> None:
    world.executor.raise_next = [TemporaryError("API server unavailable")]
    assert (await world.event(reaction_payload("Ev1")))[0] == 503
    assert (await world.event(reaction_payload("Ev1"), headers={"X-Slack-Retry-Num": "1"}))[
        0
    ] == 200
    assert len(world.executor.reactions) == 2


async def test_event_memory_is_bounded() -> None:
    executor = Recorder()
    endpoints = SlackEndpoints(
        executor, StaticToken(SECRET.decode()), clock=FakeClock(NOW), remembered_events=2
    )
    async with TestClient(TestServer(endpoints_app(endpoints))) as client:
        world = World(client, executor, endpoints)
        for event_id in ("Ev1", "Ev2", "Ev3", "Ev1"):
            await world.event(reaction_payload(event_id))
    assert [e.event_id for e in executor.reactions] == ["Ev1", "Ev2", "Ev3", "Ev1"]


async def test_other_events_are_acknowledged_and_ignored(world: World) -> None:
    payload = reaction_payload("Ev1")
    payload["event"]["type"] = "message"
    assert await world.event(payload) == (200, {})
    assert world.executor.reactions == []


async def test_not_configured_is_503() -> None:
    endpoints = SlackEndpoints(None, StaticToken(SECRET.decode()), clock=FakeClock(NOW))
    async with TestClient(TestServer(endpoints_app(endpoints))) as client:
        response = await client.post("/slack/commands", data=b"text=ack")
        assert response.status == 503
