"""POST /slack/interactivity (forms) and a slash command that opens one, over HTTP.

Interactivity requests are signed like commands, carry one form field ``payload`` (JSON), and
are answered with the service's ``response_action`` or an empty 200; forged or stale requests
reach nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from incident_operator.adapters.secrets import StaticToken
from incident_operator.domain.slack_requests import Command, ReactionAdded, sign
from incident_operator.errors import TemporaryError
from incident_operator.services.chat_commands import CommandContext
from incident_operator.web.slack import SlackEndpoints
from tests.fakes.ports.clock import FakeClock

SECRET = b"slack-signing-s3cret"
NOW = datetime(2026, 11, 27, 14, 5, tzinfo=UTC)
ERRORS = {"response_action": "errors", "errors": {"service": "There is no Service x."}}


@dataclass
class Recorder:
    submitted: list[Mapping[str, Any]] = field(default_factory=list)
    suggested: list[Mapping[str, Any]] = field(default_factory=list)
    answer: dict[str, Any] | None = None
    delay: float = 0.0

    async def execute(self, command: Command, context: CommandContext) -> str:
        return ""  # a form was opened

    async def reaction(self, event: ReactionAdded) -> None:
        return None

    async def submit(self, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        self.submitted.append(payload)
        await asyncio.sleep(self.delay)
        return self.answer

    async def suggest(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        self.suggested.append(payload)
        if payload.get("value") == "fail":
            raise TemporaryError("the API server is unreachable")
        return {"options": [{"text": {"type": "plain_text", "text": "a"}, "value": "ns/a"}]}


@dataclass
class World:
    client: TestClient[Any, Any]
    recorder: Recorder

    async def post(
        self, path: str, form: Mapping[str, str], *, at: datetime = NOW, secret: bytes = SECRET
    ) -> tuple[int, str]:
        body = urlencode(form).encode()
        ts = str(int(at.timestamp()))
        response = await self.client.post(
            path,
            data=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": sign(secret, ts, body),
            },
        )
        return response.status, await response.text()

    async def interact(self, payload: Any, **kwargs: Any) -> tuple[int, str]:
        return await self.post("/slack/interactivity", {"payload": json.dumps(payload)}, **kwargs)


@pytest.fixture
async def world() -> AsyncIterator[World]:
    recorder = Recorder()
    endpoints = SlackEndpoints(
        recorder,
        StaticToken(SECRET.decode()),
        clock=FakeClock(NOW),
        reply_within=0.5,
        interactions=recorder,
    )
    app = web.Application()
    app.add_routes(endpoints.routes())
    async with TestClient(TestServer(app)) as client:
        yield World(client, recorder)
        await endpoints.close()


VIEW: dict[str, Any] = {"id": "V1", "callback_id": "incident-declare"}
SUBMISSION: dict[str, Any] = {"type": "view_submission", "view": VIEW}


async def test_a_command_that_opens_a_form_answers_an_empty_200(world: World) -> None:
    status, text = await world.post(
        "/slack/commands", {"command": "/incident", "text": "declare", "trigger_id": "1.2.ab"}
    )
    assert (status, text) == (200, "")


async def test_errors_are_answered_for_slack_to_show_in_the_form(world: World) -> None:
    world.recorder.answer = ERRORS
    status, text = await world.interact(SUBMISSION)
    assert (status, json.loads(text)) == (200, ERRORS)
    assert world.recorder.submitted == [SUBMISSION]


async def test_a_submission_with_nothing_to_say_closes_the_form(world: World) -> None:
    assert await world.interact(SUBMISSION) == (200, "")


async def test_slow_work_closes_the_form_and_carries_on(world: World) -> None:
    world.recorder.answer, world.recorder.delay = ERRORS, 1.0
    assert await world.interact(SUBMISSION) == (200, "")


async def test_block_suggestion_answers_options(world: World) -> None:
    payload = {"type": "block_suggestion", "action_id": "service", "value": "a"}
    status, text = await world.interact(payload)
    assert status == 200
    assert json.loads(text)["options"][0]["value"] == "ns/a"
    assert world.recorder.suggested == [payload]


async def test_options_that_cannot_be_listed_are_none(world: World) -> None:
    payload = {"type": "block_suggestion", "action_id": "service", "value": "fail"}
    status, text = await world.interact(payload)
    assert (status, json.loads(text)) == (200, {"options": []})


async def test_other_interactions_are_acknowledged_only(world: World) -> None:
    assert await world.interact({"type": "block_actions"}) == (200, "")
    assert world.recorder.submitted == []


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"secret": b"wrong"}, 401),
        ({"at": NOW - timedelta(minutes=6)}, 401),
    ],
)
async def test_forged_or_stale_submissions_reach_nothing(
    world: World, kwargs: dict[str, Any], status: int
) -> None:
    code, _ = await world.interact(SUBMISSION, **kwargs)
    assert code == status
    assert world.recorder.submitted == []


async def test_a_malformed_payload_is_refused(world: World) -> None:
    status, _ = await world.post("/slack/interactivity", {"payload": "{not json"})
    assert status == 400
    status, _ = await world.post("/slack/interactivity", {"payload": "[1]"})
    assert status == 400
    assert world.recorder.submitted == []


async def test_without_interactions_the_route_only_acknowledges() -> None:
    endpoints = SlackEndpoints(Recorder(), StaticToken(SECRET.decode()), clock=FakeClock(NOW))
    app = web.Application()
    app.add_routes(endpoints.routes())
    async with TestClient(TestServer(app)) as client:
        world = World(client, Recorder())
        assert await world.interact(SUBMISSION) == (200, "")


async def test_a_large_view_is_read_but_not_an_unbounded_one(world: World) -> None:
    """A submission carries the whole view (up to Slack's 250 kB), beyond the 64 KiB a slash
    command may take; more than 256 KiB is refused unread."""
    blocks = [{"type": "section", "text": {"type": "plain_text", "text": "x" * 1000}}] * 100
    large = {**SUBMISSION, "view": {**VIEW, "blocks": blocks}}
    assert await world.interact(large) == (200, "")
    huge = {**SUBMISSION, "view": {**VIEW, "blocks": blocks * 3}}
    status, _ = await world.interact(huge)
    assert status == 413
    assert len(world.recorder.submitted) == 1
