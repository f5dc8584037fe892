"""``POST /slack/commands`` (slash commands), ``POST /slack/events`` (Events API) and
``POST /slack/interactivity`` (forms: modal submissions and their select menus' options).

Order of checks, cheapest first and before anything is parsed or executed: configured (503),
body size (413, read no further), Slack's request signature over the *raw* body and its
five-minute replay window (401 with a JSON error). Only then is the body parsed.

Slack's expectations shape the answers:

- A slash command must be answered within 3 seconds or the user sees a timeout, and any
  non-200 answer is shown as a generic failure. So every outcome is HTTP 200 with an
  ephemeral message (only the caller sees it): the reply, the usage line for bad input, or why
  it could not apply. Work that takes longer than ``reply_within`` carries on in the background
  and the user is told so.
- Events are retried (``X-Slack-Retry-Num``) when not acknowledged within 3 seconds or answered
  with an error; retries carry the same ``event_id``, so event ids already taken are
  acknowledged without acting again (bounded memory). A temporary failure answers 503 and
  forgets the id, so Slack's retry can succeed.

- Interactivity requests are a form with one field, ``payload`` (JSON). A ``view_submission``
  is answered within 3 seconds with the service's ``response_action`` (``errors`` keeps the
  form open with a message under the field; ``update`` shows what was done), or an empty 200
  that closes it; a ``block_suggestion`` with ``{"options": [...]}``. Other types are
  acknowledged and ignored.

The signing secret is compared in constant time (domain/slack_requests.py) and never logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from incident_operator.adapters.ports import Clock, TokenSource
from incident_operator.domain.slack_requests import (
    CommandError,
    Ignored,
    RequestRejected,
    UrlVerification,
    parse_command,
    parse_event,
    verify_signature,
)
from incident_operator.errors import IncidentOperatorError, TemporaryError
from incident_operator.services.chat_commands import (
    ChatCommandExecutor,
    ChatInteractions,
    CommandContext,
)

from .body import BodyRejected, parse_json, read_body

log = logging.getLogger(__name__)

COMMANDS_PATH = "/slack/commands"
EVENTS_PATH = "/slack/events"
INTERACTIVITY_PATH = "/slack/interactivity"
DEFAULT_MAX_BODY = 64 * 1024
"""Slash command forms are ~1 KiB, reaction events ~2 KiB; Slack's own limit is far below."""
MAX_INTERACTION_BODY = 4 * 64 * 1024
"""A view_submission carries the whole view (Slack allows views up to 250 kB), URL-encoded."""
REPLY_WITHIN = 2.5
"""Seconds of work before answering "working on it" (Slack gives up at 3)."""
REMEMBERED_EVENTS = 2048
NOT_CONFIGURED = (
    "Slack endpoints are not configured: start the operator with a Slack signing secret"
)


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def ephemeral_body(text: str) -> dict[str, str]:
    return {"response_type": "ephemeral", "text": text}


class EventOutcome(StrEnum):
    TAKEN = "taken"
    """Done, or already done before: acknowledge."""
    RETRY = "retry"
    """Temporarily failed: do not acknowledge, Slack delivers it again."""
    DROP = "drop"
    """Cannot ever succeed: acknowledge and ask Slack not to retry."""


class SlackEndpoints:
    def __init__(
        self,
        executor: ChatCommandExecutor | None,
        signing_secret: TokenSource | None,
        *,
        clock: Clock,
        max_body: int = DEFAULT_MAX_BODY,
        reply_within: float = REPLY_WITHIN,
        remembered_events: int = REMEMBERED_EVENTS,
        interactions: ChatInteractions | None = None,
    ) -> None:
        """``executor`` or ``signing_secret`` None: the routes exist and answer 503 (the
        interactivity route too without ``interactions``)."""
        self._executor = executor
        self._interactions = interactions
        self._secret = signing_secret
        self._clock = clock
        self.max_body = max_body
        self._reply_within = reply_within
        self._remembered = remembered_events
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._background: set[asyncio.Task[Any]] = set()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(COMMANDS_PATH, self.commands),
            web.post(EVENTS_PATH, self.events),
            web.post(INTERACTIVITY_PATH, self.interactivity),
        ]

    async def close(self) -> None:
        """Wait for work that outlived its request (call at shutdown)."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # -- shared checks ------------------------------------------------------------------

    async def _verified(
        self, request: web.Request, max_body: int | None = None
    ) -> tuple[ChatCommandExecutor, bytes] | web.Response:
        """(executor, raw body) of a genuine request, or the error answer."""
        secret = self._secret.current() if self._secret is not None else None
        if self._executor is None or not secret:
            return error(503, NOT_CONFIGURED)
        try:
            body = await read_body(request, max_body or self.max_body)
        except BodyRejected as exc:
            return error(exc.status, exc.message)
        try:
            verify_signature(
                secret,
                request.headers.get("X-Slack-Request-Timestamp", ""),
                body,
                request.headers.get("X-Slack-Signature", ""),
                self._clock.now(),
            )
        except RequestRejected as exc:
            log.warning("Slack request from %s refused: %s", request.remote, exc.reason)
            return error(401, f"invalid Slack request signature: {exc}")
        return self._executor, body

    async def _within(self, work: Awaitable[Any], what: str) -> tuple[bool, Any]:
        """(finished, result); unfinished work continues in the background and is logged."""
        task = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({task}, timeout=self._reply_within)
        if done:
            return True, task.result()
        self._background.add(task)
        task.add_done_callback(lambda t: self._finished(t, what))
        return False, None

    def _finished(self, task: asyncio.Task[Any], what: str) -> None:
        self._background.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("Slack %s failed after its answer was sent: %s", what, exc)

    # -- slash commands -----------------------------------------------------------------

    async def commands(self, request: web.Request) -> web.Response:
        checked = await self._verified(request)
        if isinstance(checked, web.Response):
            return checked
        executor, body = checked
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if form.get("ssl_check") == "1":  # Slack's certificate probe: no command in it
            return web.Response(status=200)
        answer = await self.answer_command(executor, form)
        if not answer:  # a form was opened: no message (an empty 200, as Slack documents)
            return web.Response(status=200)
        return web.json_response(answer)

    async def answer_command(
        self, executor: ChatCommandExecutor, form: Mapping[str, str]
    ) -> dict[str, str]:
        """The ephemeral reply to one slash command (HTTP body or Socket Mode ack payload);
        empty when a form was opened instead."""
        try:
            command = parse_command(form.get("text", ""))
        except CommandError as exc:
            return ephemeral_body(str(exc))
        context = CommandContext(
            channel_id=form.get("channel_id", ""),
            user_id=form.get("user_id", ""),
            user_name=form.get("user_name", ""),
            request_id=form.get("trigger_id", ""),
        )
        try:
            finished, reply = await self._within(
                executor.execute(command, context), f"/incident {command.verb}"
            )
        except TemporaryError as exc:
            log.warning("Slack /incident %s: %s", command.verb, exc)
            return ephemeral_body(f"Could not do that right now, please try again: {exc}")
        except IncidentOperatorError as exc:
            return ephemeral_body(str(exc))
        if not finished:
            return ephemeral_body("Working on it: the result will show in the incident channel.")
        if not reply:
            return {}
        return ephemeral_body(str(reply))

    # -- interactivity (forms) ----------------------------------------------------------

    async def interactivity(self, request: web.Request) -> web.Response:
        checked = await self._verified(request, max(self.max_body, MAX_INTERACTION_BODY))
        if isinstance(checked, web.Response):
            return checked
        _, body = checked
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        try:
            payload = parse_json(form.get("payload", "").encode())
        except BodyRejected as exc:
            return error(exc.status, exc.message)
        if not isinstance(payload, dict):
            return error(400, "payload must be a JSON object")
        answer = await self.answer_interaction(payload)
        if answer is None:
            return web.Response(status=200)
        return web.json_response(answer)

    async def answer_interaction(self, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        """The answer to one interaction payload (HTTP body or Socket Mode ack payload);
        None: an empty acknowledgement (a submitted form closes)."""
        interactions = self._interactions
        kind = payload.get("type")
        if interactions is None:
            return None
        if kind == "block_suggestion":
            try:
                finished, options = await self._within(interactions.suggest(payload), "options")
            except IncidentOperatorError as exc:  # e.g. the Services could not be listed
                log.warning("Slack options for %s: %s", payload.get("action_id"), exc)
                return {"options": []}
            return dict(options) if finished else {"options": []}
        if kind != "view_submission":
            return None
        finished, answer = await self._within(interactions.submit(payload), "form submission")
        return dict(answer) if finished and answer is not None else None

    # -- events -------------------------------------------------------------------------

    def _remember(self, event_id: str) -> bool:
        """True the first time an event id is seen (then kept, oldest forgotten first)."""
        if event_id in self._seen:
            self._seen.move_to_end(event_id)
            return False
        self._seen[event_id] = None
        while len(self._seen) > self._remembered:
            self._seen.popitem(last=False)
        return True

    async def events(self, request: web.Request) -> web.Response:
        checked = await self._verified(request)
        if isinstance(checked, web.Response):
            return checked
        executor, body = checked
        try:
            payload = parse_json(body)
        except BodyRejected as exc:
            return error(exc.status, exc.message)
        if not isinstance(payload, dict):
            return error(400, "payload must be a JSON object")
        event = parse_event(payload)
        if isinstance(event, UrlVerification):
            return web.json_response({"challenge": event.challenge})
        outcome = await self.take_event(executor, payload, request.headers.get("X-Slack-Retry-Num"))
        if outcome is EventOutcome.RETRY:
            return error(503, "temporarily unavailable")
        if outcome is EventOutcome.DROP:
            return web.json_response({}, headers={"X-Slack-No-Retry": "1"})
        return web.json_response({})

    async def take_event(
        self, executor: ChatCommandExecutor, payload: Mapping[str, Any], retry: str | None = None
    ) -> EventOutcome:
        """Act on one Events API payload once (by event id); how to answer Slack."""
        event = parse_event(dict(payload))
        if isinstance(event, Ignored | UrlVerification):
            log.debug("Slack event ignored: %s", getattr(event, "reason", "url_verification"))
            return EventOutcome.TAKEN
        if not self._remember(event.event_id):
            log.info(
                "Slack event %s delivered again (retry %s): already taken",
                event.event_id,
                retry or "-",
            )
            return EventOutcome.TAKEN
        try:
            await self._within(executor.reaction(event), f"event {event.event_id}")
        except TemporaryError as exc:
            self._seen.pop(event.event_id, None)  # let Slack's retry try again
            log.warning("Slack event %s: will be retried: %s", event.event_id, exc)
            return EventOutcome.RETRY
        except IncidentOperatorError as exc:
            log.error("Slack event %s: %s", event.event_id, exc)
            return EventOutcome.DROP
        return EventOutcome.TAKEN
