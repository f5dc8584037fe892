"""A Slack Web API fake on a real localhost port, for the real ``slack_sdk`` client.

What it mirrors of the real API (docs.slack.dev/reference/methods/*), so the adapter is tested
against the contract rather than against our assumptions:

- Every method is ``POST``/``GET https://slack.com/api/<method>``; arguments come as the query
  string, a form body (``application/x-www-form-urlencoded``, what ``slack_sdk`` sends for
  most methods) or a JSON body (``chat.postMessage`` from ``slack_sdk``). In form bodies,
  structured arguments (``blocks``, ``metadata``) are JSON strings.
- Authentication is ``Authorization: Bearer <token>``; a missing token answers ``not_authed``
  and a wrong one ``invalid_auth``. Like every Slack error these are HTTP 200 with
  ``{"ok": false, "error": "<code>"}`` — only rate limiting (HTTP 429 + ``Retry-After``
  seconds, body ``{"ok": false, "error": "ratelimited"}``) and server faults use HTTP codes.
- ``conversations.create``: names are lowercase letters, digits, ``-`` and ``_``, at most 80
  characters (``invalid_name_required``, ``invalid_name_maxlength``, ``invalid_name_specials``,
  ``invalid_name_punctuation``); a name used by any channel, archived ones included, is
  ``name_taken``.
- ``conversations.list``: ``types`` (default ``public_channel``), ``exclude_archived``,
  ``limit``; cursor pagination through ``response_metadata.next_cursor`` ("" on the last
  page), base64 cursors like Slack's; a bad cursor is ``invalid_cursor``.
- ``conversations.invite``: ``users`` comma-separated; ``already_in_channel`` when a user is
  a member (nobody is invited then, as Slack does without ``force``), ``cant_invite_self``
  for the bot itself, ``channel_not_found``, ``is_archived``.
- ``conversations.setTopic`` (``too_long`` beyond 250), ``conversations.archive``
  (``already_archived``), ``pins.add`` (``already_pinned``, ``message_not_found``).
- ``conversations.history``: newest first; ``latest``/``oldest`` bounds, exclusive unless
  ``inclusive``; message ``metadata`` only with ``include_all_metadata``; ``has_more`` and a
  cursor.
- ``chat.postMessage``: ``channel`` is an id, ``#name`` or ``name``; ``no_text`` without text
  or blocks; ``invalid_blocks`` for blocks beyond Block Kit's documented bounds (50 per
  message; header, section, actions, context and divider as :func:`_valid_block` says;
  Slack's other layout blocks unchecked; an unknown type refused); answers ``channel`` (the id)
  and ``ts`` — strictly increasing ``"1700000000.000100"``
  style strings. ``chat.update`` answers ``message_not_found`` for an unknown ts and
  ``cant_update_message`` for someone else's message.

- Membership (``not_in_channel``): the bot is a member of the channels it creates and, by
  default, of the ones :meth:`FakeSlack.add_channel` makes (``member=False`` for one it was
  never invited to; :meth:`FakeSlack.remove_member` for "a human kicked the bot"). The bot
  has no ``chat:write.public`` scope, so in a *public* channel it is not in,
  ``chat.postMessage``, ``conversations.setTopic``, ``conversations.invite``,
  ``conversations.history`` and ``conversations.archive`` answer ``not_in_channel`` (each
  method's documented error list). A *private* channel it is not in is invisible to it:
  ``channel_not_found`` everywhere, and ``conversations.list`` leaves it out.
  ``conversations.join`` (public only; ``method_not_supported_for_channel_type`` for a
  private one) and ``conversations.leave`` (``ok`` with ``"not_in_channel": true`` when it
  was not a member, as Slack answers) change the bot's own membership.
- ``conversations.open`` with one user opens (then resumes: ``no_op``/``already_open``) the
  1:1 DM ``D<user>``; ``users_list_not_supplied`` without users, ``user_not_found`` for a
  malformed id. Posting to it works as to a channel; ``conversations.list`` shows it only
  under ``types=im``.

- Modals: ``views.open`` exchanges a ``trigger_id`` (which Slack sends with a slash command or
  an interaction) for a modal: a trigger is single use (``exchanged_trigger_id``), valid for
  3 seconds (``expired_trigger_id``), and one Slack never issued, or not in Slack's
  ``132456.7890123.abcdef`` shape, is ``invalid_trigger_id``; ``view`` is a JSON string (form)
  or object (JSON body) of ``type: modal`` with a title of at most 24 characters, at most 100
  blocks and at most 100 options per static select (else ``invalid_arguments``). The answer is
  the stored view with ``id``, ``hash`` and an empty ``state``. ``views.update`` replaces a view
  by ``view_id`` (``not_found``), refusing a stale ``hash`` (``hash_conflict``).
  :meth:`FakeSlack.trigger` issues a trigger as a slash command would carry;
  :meth:`FakeSlack.submission` builds the ``view_submission`` payload Slack POSTs to the app's
  interactivity URL when the user presses submit (``view.state.values[block_id][action_id]``
  shaped by each element's type), :meth:`FakeSlack.suggestion` a ``block_suggestion``.

Rate limits (``FakeSlack(..., rate_limits=True)``, off by default so functional tests are
not paced): docs.slack.dev/apis/web-api/rate-limits — limits apply "per API method per
workspace per app", a request over the limit gets HTTP 429, ``{"ok": false, "error":
"ratelimited"}`` and ``Retry-After`` in seconds. Each :class:`Limit` here is a sliding window
(at most ``requests`` admitted in any ``per`` seconds, so a burst up to the whole quota is
allowed, then the window paces); ``Retry-After`` is the whole seconds until the oldest admitted
request leaves the window, at least 1. Requests answered 429 do not count against the window.

- Tier 1 (1/min), Tier 2 (20/min), Tier 3 (50/min), Tier 4 (100/min): the documented minimum
  of each tier ("1+", "20+", "50+", "100+ per minute"), per method, with each method's tier
  from its reference page (:data:`METHOD_TIERS`: ``conversations.create``/``list``/
  ``setTopic``/``archive`` and ``pins.add`` Tier 2; ``chat.update``,
  ``conversations.invite``/``history``/``join``/``leave`` Tier 3; ``usergroups.users.list``
  Tier 2 ("20+ per minute", scope ``usergroups:read``, ``no_such_subteam`` for an unknown
  group, ``missing_scope`` when :attr:`FakeSlack.scopes` lacks it); ``auth.test`` is "special"
  and modelled as Tier 4).
- ``chat.postMessage`` (special tier): "generally allows posting one message per second per
  channel ... short bursts >1 allowed" — :data:`POST_PER_CHANNEL`, 3 per 3 s per channel
  (a burst of 3, then 1/s); plus "a workspace-wide limit" of "several hundred messages per
  minute" — :data:`POST_WORKSPACE`, 300 per 60 s, our assumption of "several hundred".
- Not modelled: the 2025 limits for non-Marketplace apps on ``conversations.history``
  (1/min) — an internal app, which incident tooling is, keeps Tier 3.

Pass a mapping instead of ``True`` to override single limits (keys are method names,
``"chat.postMessage/channel"`` for the per-channel one); :attr:`FakeSlack.rate_limited`
counts the 429s the limits answered (``throttle_next`` ones not included).

Fault injection: :meth:`FakeSlack.throttle_next`, :meth:`FakeSlack.fail_next` and
:meth:`FakeSlack.disconnect_next`. Every
request is recorded in :attr:`FakeSlack.calls` (faults and auth failures included).

Run as a process for demos: ``python -m tests.fakes.slack --port 8765 --token xoxb-demo``
(``--rate-limits`` to switch the Slack-like limits on).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import json
import math
import re
import secrets
import signal
import string
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER = "UBOT00001"
BOT_ID = "BBOT00001"
TS_BASE_MICROS = 1_700_000_000_000_100
MAX_NAME = 80
MAX_TOPIC = 250
TRIGGER_TTL = 3.0
"""Seconds a trigger_id may be exchanged for a modal (docs.slack.dev/interactivity)."""
MAX_VIEW_TITLE = 24
MAX_BLOCKS = 100
MAX_OPTIONS = 100
_TRIGGER = re.compile(r"^[0-9]+\.[0-9]+\.[0-9a-f]+$")
_NAME = re.compile(r"^[a-z0-9_-]+$")

Answer = dict[str, Any]


@dataclass(frozen=True)
class Limit:
    """At most ``requests`` admitted in any window of ``per`` seconds."""

    requests: int
    per: float = 60.0


TIER_1 = Limit(1)
TIER_2 = Limit(20)
TIER_3 = Limit(50)
TIER_4 = Limit(100)
METHOD_TIERS: Mapping[str, Limit] = {
    "auth.test": TIER_4,
    "conversations.create": TIER_2,
    "conversations.list": TIER_2,
    "conversations.invite": TIER_3,
    "conversations.setTopic": TIER_2,
    "conversations.history": TIER_3,
    "conversations.archive": TIER_2,
    "conversations.join": TIER_3,
    "conversations.leave": TIER_3,
    "conversations.open": TIER_3,
    "chat.update": TIER_3,
    "pins.add": TIER_2,
    "views.open": TIER_4,
    "views.update": TIER_4,
    "usergroups.users.list": TIER_2,
}
POST_PER_CHANNEL = Limit(3, 3.0)
"""chat.postMessage: about one message per second per channel, short bursts allowed."""
POST_WORKSPACE = Limit(300, 60.0)
"""chat.postMessage across the workspace: "several hundred messages per minute"."""
PER_CHANNEL = "chat.postMessage/channel"
SLACK_LIMITS: Mapping[str, Limit] = {
    **METHOD_TIERS,
    "chat.postMessage": POST_WORKSPACE,
    PER_CHANNEL: POST_PER_CHANNEL,
}


class _Window:
    """Sliding-window log of admitted requests for one limit key."""

    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self.admitted: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more request fits (0: it fits now)."""
        while self.admitted and self.admitted[0] <= now - self.limit.per:
            self.admitted.popleft()
        if len(self.admitted) < self.limit.requests:
            return 0.0
        return self.admitted[0] + self.limit.per - now


class SlackError(Exception):
    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int
    """HTTP status answered."""
    error: str | None
    """Slack error code (ok:false), None when ok."""
    authorization: str
    at: float = 0.0
    """When it arrived, on the fake's clock (``time.monotonic`` unless given one)."""


@dataclass
class FakeChannel:
    id: str
    name: str
    is_private: bool
    created: int
    is_archived: bool = False
    topic: str = ""
    members: set[str] = field(default_factory=set)
    messages: list[Answer] = field(default_factory=list)
    """Oldest first (history reverses)."""
    pins: set[str] = field(default_factory=set)

    def view(self) -> Answer:
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private,
            "is_group": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "created": self.created,
            "topic": {
                "value": self.topic,
                "creator": BOT_USER if self.topic else "",
                "last_set": 0,
            },
            "num_members": len(self.members),
        }


def _type_of(channel: FakeChannel) -> str:
    """The ``conversations.list`` type: im for a direct message (ids start with D)."""
    if channel.id.startswith("D"):
        return "im"
    return "private_channel" if channel.is_private else "public_channel"


def _truthy(value: Any) -> bool:
    """slack_sdk sends booleans as ``1``/``0`` in forms and query strings, JSON as booleans."""
    return value is True or str(value).lower() in {"1", "true"}


def _structured(value: Any) -> Any:
    """``blocks``/``metadata`` arrive as JSON text in form bodies and as JSON in JSON bodies."""
    if isinstance(value, str) and value:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise SlackError("invalid_arguments") from None
    return value


MAX_MESSAGE_BLOCKS = 50
"""Block Kit: "up to 50 blocks in each message" (100 in modals and Home tabs)."""
BLOCK_TEXT_LIMITS = {"header": 150, "section": 3000}
"""A header's plain_text and a section's text object, at most this many characters."""
MAX_SECTION_FIELDS, MAX_FIELD_TEXT = 10, 2000
MAX_ACTION_ELEMENTS, MAX_BUTTON_TEXT, MAX_BUTTON_URL = 25, 75, 3000
MAX_CONTEXT_ELEMENTS = 10
OTHER_BLOCKS = frozenset({"image", "rich_text", "video", "file", "input", "markdown"})
"""Layout blocks Slack also takes, which the operator never sends: accepted unchecked (an
unknown type is ``invalid_blocks``)."""


def _text_object(value: Any, limit: int, *, plain_only: bool = False) -> bool:
    kinds = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    return (
        isinstance(value, dict)
        and value.get("type") in kinds
        and isinstance(value.get("text"), str)
        and 0 < len(value["text"]) <= limit
    )


def _valid_block(block: Any) -> bool:
    """The Block Kit layout blocks the operator sends, as Slack's reference bounds them
    (docs.slack.dev/reference/block-kit/blocks): a header's plain_text at most 150
    characters; a section's text at most 3000 or 1-10 fields of at most 2000; an actions
    block's 1-25 elements, each button with plain_text of at most 75 characters, a url of at
    most 3000 and an action_id unique in the block; a context's 1-10 elements; a divider."""
    if not isinstance(block, dict):
        return False
    kind = block.get("type")
    if kind == "header":
        return _text_object(block.get("text"), BLOCK_TEXT_LIMITS["header"], plain_only=True)
    if kind == "section":
        text, fields = block.get("text"), block.get("fields")
        if text is None and not fields:
            return False
        if text is not None and not _text_object(text, BLOCK_TEXT_LIMITS["section"]):
            return False
        return fields is None or (
            isinstance(fields, list)
            and 0 < len(fields) <= MAX_SECTION_FIELDS
            and all(_text_object(f, MAX_FIELD_TEXT) for f in fields)
        )
    if kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 0 < len(elements) <= MAX_ACTION_ELEMENTS:
            return False
        ids = [e.get("action_id") for e in elements if isinstance(e, dict) and "action_id" in e]
        if len(ids) != len(set(ids)):
            return False
        return all(
            isinstance(e, dict)
            and e.get("type") == "button"
            and _text_object(e.get("text"), MAX_BUTTON_TEXT, plain_only=True)
            and len(str(e.get("url", ""))) <= MAX_BUTTON_URL
            for e in elements
        )
    if kind == "context":
        elements = block.get("elements")
        return isinstance(elements, list) and 0 < len(elements) <= MAX_CONTEXT_ELEMENTS
    return kind == "divider" or kind in OTHER_BLOCKS


def _check_blocks(blocks: Any) -> None:
    """``invalid_blocks`` (chat.postMessage, chat.update: "Blocks submitted with this
    message are not valid") for what Slack would refuse."""
    if not blocks:
        return
    if (
        not isinstance(blocks, list)
        or len(blocks) > MAX_MESSAGE_BLOCKS
        or not all(_valid_block(b) for b in blocks)
    ):
        raise SlackError("invalid_blocks")


class FakeSlack:
    def __init__(
        self,
        token: str = "xoxb-fake-token",
        *,
        host: str = "127.0.0.1",
        rate_limits: bool | Mapping[str, Limit] = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``rate_limits``: True for :data:`SLACK_LIMITS`, a mapping to override some of
        them (see the module docstring); ``clock`` (seconds) paces the windows."""
        self.token = token
        self.host = host
        self.limits: dict[str, Limit] = {}
        if rate_limits:
            self.limits = {**SLACK_LIMITS}
            if isinstance(rate_limits, Mapping):
                self.limits.update(rate_limits)
        self.rate_limited = 0
        """429s answered by the rate limits (not by ``throttle_next``)."""
        self._clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}
        self.port = 0
        self.channels: dict[str, FakeChannel] = {}
        self.calls: list[Call] = []
        self._throttles: list[int] = []
        self._failures: list[int] = []
        self._disconnects = 0
        self._ids = 0
        # Slack never reuses a channel id; fakes started one after another in one test session
        # (whose Incidents outlive them) must not either, or two incidents claim one channel.
        self._id_prefix = "".join(secrets.choice(string.ascii_uppercase) for _ in range(3))
        self._ts = 0
        self.views: dict[str, Answer] = {}
        """Open modals by view id (as last opened or updated)."""
        self._triggers: dict[str, float] = {}
        """Issued trigger ids -> when (on the fake's clock); removed when exchanged."""
        self._used_triggers: set[str] = set()
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, Callable[[dict[str, Any]], Answer]] = {
            "auth.test": self._auth_test,
            "conversations.create": self._create,
            "conversations.list": self._list,
            "conversations.invite": self._invite,
            "conversations.setTopic": self._set_topic,
            "conversations.history": self._history,
            "conversations.archive": self._archive,
            "conversations.join": self._join,
            "conversations.leave": self._leave,
            "conversations.open": self._open,
            "chat.postMessage": self._post,
            "chat.update": self._update,
            "pins.add": self._pin,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "usergroups.users.list": self._group_users,
        }
        self.usergroups: dict[str, list[str]] = {}
        """User group id -> its members' ids (``add_usergroup``)."""
        self.scopes: set[str] | None = None
        """The token's scopes; None: every scope (a method needing one not here answers
        ``missing_scope``, as Slack does)."""

    # -- lifecycle ----------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle)
        return app

    async def start(self, port: int = 0) -> str:
        """Listen on ``port`` (0: any free one); returns the base URL for ``slack_sdk``."""
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, port)
        await site.start()
        server = site._server  # aiohttp keeps the bound socket here; no public accessor
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/"

    # -- fault injection and test helpers ----------------------------------------------

    def throttle_next(self, n: int = 1, retry_after: int = 1) -> None:
        """The next ``n`` requests get HTTP 429, ``Retry-After: retry_after``."""
        self._throttles.extend([retry_after] * n)

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        """The next ``n`` requests get HTTP ``status`` with a non-JSON body, as a proxy would."""
        self._failures.extend([status] * n)

    def disconnect_next(self, n: int = 1) -> None:
        """The next ``n`` requests see the connection dropped without an answer."""
        self._disconnects += n

    def add_channel(
        self, name: str, *, private: bool = False, archived: bool = False, member: bool = True
    ) -> FakeChannel:
        """A channel that existed before the test (created by a human); ``member``: the bot
        was invited to it."""
        channel = self._new_channel(name, private)
        channel.is_archived = archived
        if not member:
            channel.members.discard(BOT_USER)
        return channel

    def add_usergroup(self, group_id: str, *users: str) -> None:
        self.usergroups[group_id] = list(users)

    def remove_member(self, channel_id: str, user: str = BOT_USER) -> None:
        """A person removes ``user`` (the bot by default) from the channel."""
        self.channels[channel_id].members.discard(user)

    def throttled(self) -> int:
        """Every 429 answered so far (rate limits and ``throttle_next``)."""
        return sum(c.status == 429 for c in self.calls)

    def add_message(self, channel_id: str, text: str, user: str = "UHUMAN001") -> str:
        """A message a person wrote (e.g. the one that gets a pushpin); returns its ts."""
        ts = self._next_ts()
        self.channels[channel_id].messages.append(
            {"type": "message", "user": user, "text": text, "ts": ts}
        )
        return ts

    def trigger(self) -> str:
        """A fresh trigger_id, as Slack puts in a slash command's form (valid 3 seconds)."""
        self._ids += 1
        trigger = f"{int(self._clock() * 1000)}.{self._ids}.{secrets.token_hex(16)}"
        self._triggers[trigger] = self._clock()
        return trigger

    def submission(
        self, view_id: str, user: str = "U0BBBBBBB", **inputs: str | bool | list[str]
    ) -> Answer:
        """The ``view_submission`` payload Slack sends when ``user`` submits the open view
        ``view_id`` with ``inputs`` by block id: text for a plain_text_input, the option value
        for a select (a value not among the options is sent as given, as a forged request
        would), values (or True for the first option) for checkboxes."""
        view = self.views[view_id]
        values: dict[str, Any] = {}
        for block in view.get("blocks") or []:
            block_id = block.get("block_id")
            element = block.get("element") or {}
            if block.get("type") != "input" or block_id not in inputs:
                continue
            given = inputs[block_id]
            kind, action = element.get("type"), element.get("action_id")
            if kind == "plain_text_input":
                entry: Answer = {"type": kind, "value": str(given)}
            elif kind in ("static_select", "external_select"):
                option = next(
                    (o for o in element.get("options") or [] if o["value"] == given),
                    {"text": {"type": "plain_text", "text": str(given)}, "value": str(given)},
                )
                entry = {"type": kind, "selected_option": option}
            elif kind == "checkboxes":
                options = element.get("options") or []
                if given is True:
                    chosen = options[:1]
                elif isinstance(given, list):
                    chosen = [o for o in options if o["value"] in given]
                else:
                    chosen = []
                entry = {"type": kind, "selected_options": chosen}
            else:
                raise ValueError(f"the fake cannot fill a {kind} element")
            values[block_id] = {action: entry}
        return {
            "type": "view_submission",
            "team": {"id": "T00000001", "domain": "fake"},
            "user": {"id": user, "username": user.lower(), "team_id": "T00000001"},
            "api_app_id": "A00000001",
            "token": "verification-token-deprecated",
            "trigger_id": self.trigger(),
            "view": {**view, "state": {"values": values}},
            "response_urls": [],
            "is_enterprise_install": False,
        }

    def suggestion(
        self, view_id: str, block_id: str, typed: str, user: str = "U0BBBBBBB"
    ) -> Answer:
        """The ``block_suggestion`` payload for an external_select in an open view."""
        view = self.views[view_id]
        block = next(b for b in view["blocks"] if b.get("block_id") == block_id)
        return {
            "type": "block_suggestion",
            "user": {"id": user, "username": user.lower(), "team_id": "T00000001"},
            "team": {"id": "T00000001", "domain": "fake"},
            "api_app_id": "A00000001",
            "action_id": block["element"]["action_id"],
            "block_id": block_id,
            "value": typed,
            "view": view,
        }

    def by_name(self, name: str) -> FakeChannel:
        return next(c for c in self.channels.values() if c.name == name)

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    # -- HTTP ---------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                params.update(dict(await request.post()))
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        authorization = request.headers.get("Authorization", "")
        at = self._clock()

        def record(status: int, error: str | None) -> None:
            self.calls.append(Call(method, params, status, error, authorization, at))

        if self._throttles:
            retry_after = self._throttles.pop(0)
            record(429, "ratelimited")
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(retry_after)},
            )
        if self._disconnects:
            self._disconnects -= 1
            record(0, None)
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPInternalServerError  # never sent: the connection is gone
        if self._failures:
            status = self._failures.pop(0)
            record(status, None)
            return web.Response(
                status=status, text="upstream connect error", content_type="text/html"
            )
        if self.limits and method in self._methods:
            retry_after = self._admit(method, params)
            if retry_after:
                self.rate_limited += 1
                record(429, "ratelimited")
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(retry_after)},
                )
        answer = self._dispatch(method, params, authorization)
        record(200, None if answer.get("ok") else str(answer.get("error")))
        return web.json_response(answer)

    def _limit_keys(self, method: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        keys = [(method, "")] if method in self.limits else []
        if method == "chat.postMessage" and PER_CHANNEL in self.limits:
            ref = str(params.get("channel", ""))
            # an unknown channel: the method answers the error; keyed by what was sent
            with contextlib.suppress(SlackError):
                ref = self._channel(params).id
            keys.append((PER_CHANNEL, ref))
        return keys

    def _admit(self, method: str, params: Mapping[str, Any]) -> int:
        """0 when the request fits every window it falls under (and is counted in them),
        else the Retry-After seconds: until the fullest window has room again."""
        now = self._clock()
        windows = []
        for key in self._limit_keys(method, params):
            window = self._windows.get(key)
            if window is None:
                window = self._windows[key] = _Window(self.limits[key[0]])
            windows.append(window)
        wait = max((w.wait(now) for w in windows), default=0.0)
        if wait > 0:
            return max(1, math.ceil(wait))
        for window in windows:
            window.admitted.append(now)
        return 0

    def _dispatch(self, method: str, params: dict[str, Any], authorization: str) -> Answer:
        scheme, _, token = authorization.partition(" ")
        token = token.strip() or str(params.get("token", ""))
        if not token or (authorization and scheme.lower() != "bearer"):
            return {"ok": False, "error": "not_authed"}
        if token != self.token:
            return {"ok": False, "error": "invalid_auth"}
        handler = self._methods.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        try:
            return {"ok": True, **handler(params)}
        except SlackError as exc:
            return {"ok": False, "error": exc.code, **exc.extra}

    # -- helpers ------------------------------------------------------------------------

    def _new_channel(self, name: str, private: bool) -> FakeChannel:
        self._ids += 1
        channel = FakeChannel(
            id=f"C{self._id_prefix}{self._ids:06d}",
            name=name,
            is_private=private,
            created=1_700_000_000,
        )
        channel.members.add(BOT_USER)
        self.channels[channel.id] = channel
        return channel

    def _next_ts(self) -> str:
        self._ts += 1
        micros = TS_BASE_MICROS + self._ts * 100
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _channel(
        self, params: Mapping[str, Any], *, writable: bool = False, member: bool = False
    ) -> FakeChannel:
        """The channel addressed; ``member``: the method needs the bot in it
        (``not_in_channel``). A private channel the bot is not in does not exist for it."""
        ref = str(params.get("channel", ""))
        if not ref:
            raise SlackError("channel_not_found")
        channel = self.channels.get(ref)
        if channel is None:
            name = ref.removeprefix("#")
            channel = next(
                (c for c in self.channels.values() if c.name == name and not c.is_archived), None
            )
        if channel is None or (channel.is_private and BOT_USER not in channel.members):
            raise SlackError("channel_not_found")
        if writable and channel.is_archived:
            raise SlackError("is_archived")
        if member and BOT_USER not in channel.members:
            raise SlackError("not_in_channel")
        return channel

    def _message(self, channel: FakeChannel, ts: Any) -> Answer:
        found = next((m for m in channel.messages if m["ts"] == str(ts)), None)
        if found is None:
            raise SlackError("message_not_found")
        return found

    # -- methods ------------------------------------------------------------------------

    def _auth_test(self, _: dict[str, Any]) -> Answer:
        return {"user_id": BOT_USER, "bot_id": BOT_ID, "team": "Fake", "team_id": "T00000001"}

    def _create(self, params: dict[str, Any]) -> Answer:
        name = str(params.get("name", ""))
        if not name:
            raise SlackError("invalid_name_required")
        if len(name) > MAX_NAME:
            raise SlackError("invalid_name_maxlength")
        if not _NAME.match(name):
            raise SlackError("invalid_name_specials")
        if not name.strip("-_"):
            raise SlackError("invalid_name_punctuation")
        if any(c.name == name for c in self.channels.values()):  # archived names stay taken
            raise SlackError("name_taken")
        return {"channel": self._new_channel(name, _truthy(params.get("is_private"))).view()}

    def _list(self, params: dict[str, Any]) -> Answer:
        types = set(str(params.get("types") or "public_channel").split(","))
        exclude_archived = _truthy(params.get("exclude_archived"))
        limit = max(1, min(int(params.get("limit") or 100), 1000))
        chosen = [
            c
            for c in self.channels.values()
            if _type_of(c) in types
            and not (exclude_archived and c.is_archived)
            and not (c.is_private and BOT_USER not in c.members)
        ]
        start = 0
        if cursor := str(params.get("cursor") or ""):
            try:
                after = base64.b64decode(cursor, validate=True).decode().removeprefix("channel:")
            except (binascii.Error, UnicodeDecodeError):
                raise SlackError("invalid_cursor") from None
            ids = [c.id for c in chosen]
            if after not in ids:
                raise SlackError("invalid_cursor")
            start = ids.index(after)
        page = chosen[start : start + limit]
        rest = chosen[start + limit :]
        next_cursor = base64.b64encode(f"channel:{rest[0].id}".encode()).decode() if rest else ""
        return {
            "channels": [c.view() for c in page],
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _invite(self, params: dict[str, Any]) -> Answer:
        channel = self._channel(params, writable=True, member=True)
        users = [u for u in str(params.get("users", "")).split(",") if u]
        if not users:
            raise SlackError("no_user")
        if BOT_USER in users:
            raise SlackError("cant_invite_self")
        present = [u for u in users if u in channel.members]
        if present:
            errors = [{"user": u, "ok": False, "error": "already_in_channel"} for u in present]
            raise SlackError("already_in_channel", errors=errors)
        channel.members.update(users)
        return {"channel": channel.view()}

    def _group_users(self, params: dict[str, Any]) -> Answer:
        """usergroups.users.list: ``usergroup`` required; an unknown id is
        ``no_such_subteam``; without ``usergroups:read`` it is ``missing_scope`` with the
        ``needed`` and ``provided`` fields Slack adds."""
        if self.scopes is not None and "usergroups:read" not in self.scopes:
            provided = ",".join(sorted(self.scopes))
            raise SlackError("missing_scope", needed="usergroups:read", provided=provided)
        group = str(params.get("usergroup", ""))
        if not group:
            raise SlackError("invalid_arguments")
        if group not in self.usergroups:
            raise SlackError("no_such_subteam")
        return {"users": list(self.usergroups[group])}

    def _set_topic(self, params: dict[str, Any]) -> Answer:
        channel = self._channel(params, writable=True, member=True)
        topic = str(params.get("topic", ""))
        if len(topic) > MAX_TOPIC:
            raise SlackError("too_long")
        channel.topic = topic
        return {"channel": channel.view()}

    def _history(self, params: dict[str, Any]) -> Answer:
        channel = self._channel(params, member=True)
        inclusive = _truthy(params.get("inclusive"))
        latest = float(params.get("latest") or "inf")
        oldest = float(params.get("oldest") or 0)
        limit = max(1, min(int(params.get("limit") or 100), 999))

        def within(ts: float) -> bool:
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        newest_first = [m for m in reversed(channel.messages) if within(float(m["ts"]))]
        start = 0
        if cursor := str(params.get("cursor") or ""):
            try:
                start = int(
                    base64.b64decode(cursor, validate=True).decode().removeprefix("next_ts:")
                )
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise SlackError("invalid_cursor") from None
        page = newest_first[start : start + limit]
        more = len(newest_first) > start + limit
        with_metadata = _truthy(params.get("include_all_metadata"))
        messages = [{k: v for k, v in m.items() if k != "metadata" or with_metadata} for m in page]
        next_cursor = base64.b64encode(f"next_ts:{start + limit}".encode()).decode() if more else ""
        return {
            "messages": messages,
            "has_more": more,
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _archive(self, params: dict[str, Any]) -> Answer:
        channel = self._channel(params)
        if channel.is_archived:
            raise SlackError("already_archived")
        if BOT_USER not in channel.members:
            raise SlackError("not_in_channel")
        channel.is_archived = True
        return {}

    def _join(self, params: dict[str, Any]) -> Answer:
        channel = self._channel(params, writable=True)
        if channel.is_private:
            raise SlackError("method_not_supported_for_channel_type")
        extra = {"already_in_channel": True} if BOT_USER in channel.members else {}
        channel.members.add(BOT_USER)
        return {"channel": channel.view(), **extra}

    def _open(self, params: dict[str, Any]) -> Answer:
        """A 1:1 direct message with one user (``users``), opened once and resumed after: the
        same ``D…`` id each time, ``already_open`` from the second call. Multi-person DMs and
        ``channel`` resumption are not modelled (``users_list_not_supplied`` without users)."""
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            raise SlackError("users_list_not_supplied")
        if len(users) > 1:
            raise SlackError("method_not_supported_for_channel_type")
        if not re.fullmatch(r"[UW][A-Z0-9]{2,20}", users[0]):
            raise SlackError("user_not_found")
        channel_id = f"D{users[0]}"
        existing = self.channels.get(channel_id)
        if existing is None:
            existing = FakeChannel(id=channel_id, name="", is_private=True, created=1_700_000_000)
            existing.members.update({BOT_USER, users[0]})
            self.channels[channel_id] = existing
            return {"channel": {"id": channel_id}}
        return {"channel": {"id": channel_id}, "no_op": True, "already_open": True}

    def direct_messages(self, user_id: str) -> list[Answer]:
        """What the bot said to this person directly, oldest first."""
        channel = self.channels.get(f"D{user_id}")
        return list(channel.messages) if channel else []

    def _leave(self, params: dict[str, Any]) -> Answer:
        channel = self._channel(params, writable=True)
        if BOT_USER not in channel.members:
            return {"not_in_channel": True}
        channel.members.discard(BOT_USER)
        return {}

    def _post(self, params: dict[str, Any]) -> Answer:
        channel = self._channel(params, writable=True, member=True)
        text = str(params.get("text") or "")
        blocks = _structured(params.get("blocks"))
        if not text and not blocks:
            raise SlackError("no_text")
        _check_blocks(blocks)
        message: Answer = {
            "type": "message",
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "text": text,
            "ts": self._next_ts(),
        }
        if blocks:
            message["blocks"] = blocks
        metadata = _structured(params.get("metadata"))
        if metadata:
            if not isinstance(metadata, dict) or "event_type" not in metadata:
                raise SlackError("invalid_metadata_format")
            message["metadata"] = metadata
        channel.messages.append(message)
        shown = {k: v for k, v in message.items() if k != "metadata"}
        return {"channel": channel.id, "ts": message["ts"], "message": shown}

    def _update(self, params: dict[str, Any]) -> Answer:
        channel = self._channel(params, writable=True)
        message = self._message(channel, params.get("ts"))
        if message.get("user") != BOT_USER:
            raise SlackError("cant_update_message")
        blocks = _structured(params.get("blocks"))
        _check_blocks(blocks)
        message["text"] = str(params.get("text") or "")
        if blocks:
            message["blocks"] = blocks
        return {"channel": channel.id, "ts": message["ts"], "text": message["text"]}

    def _pin(self, params: dict[str, Any]) -> Answer:
        channel = self._channel(params)
        ts = str(params.get("timestamp", ""))
        self._message(channel, ts)
        if ts in channel.pins:
            raise SlackError("already_pinned")
        channel.pins.add(ts)
        return {}

    def _view(self, params: Mapping[str, Any]) -> Answer:
        view = params.get("view")
        if isinstance(view, str):
            try:
                view = json.loads(view)
            except json.JSONDecodeError:
                raise SlackError("invalid_arguments") from None
        if not isinstance(view, dict) or view.get("type") != "modal":
            raise SlackError("invalid_arguments")
        title = (view.get("title") or {}).get("text", "")
        blocks = view.get("blocks") or []
        if not title or len(title) > MAX_VIEW_TITLE or len(blocks) > MAX_BLOCKS:
            raise SlackError("invalid_arguments")
        for block in blocks:
            element = block.get("element") or {}
            if element.get("type") == "static_select" and not (
                0 < len(element.get("options") or []) <= MAX_OPTIONS
            ):
                raise SlackError("invalid_arguments")
        return view

    def _stored(self, view: Answer, view_id: str) -> Answer:
        stored = {
            **view,
            "id": view_id,
            "team_id": "T00000001",
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "root_view_id": view_id,
            "app_id": "A00000001",
            "bot_id": BOT_ID,
            "private_metadata": str(view.get("private_metadata") or ""),
            "callback_id": str(view.get("callback_id") or ""),
        }
        self.views[view_id] = stored
        return stored

    def _views_open(self, params: dict[str, Any]) -> Answer:
        trigger = str(params.get("trigger_id") or "")
        if not trigger:
            raise SlackError("invalid_arguments")
        if trigger in self._used_triggers:
            raise SlackError("exchanged_trigger_id")
        if not _TRIGGER.match(trigger) or trigger not in self._triggers:
            raise SlackError("invalid_trigger_id")
        if self._clock() - self._triggers[trigger] > TRIGGER_TTL:
            raise SlackError("expired_trigger_id")
        view = self._view(params)
        del self._triggers[trigger]
        self._used_triggers.add(trigger)
        self._ids += 1
        return {"view": self._stored(view, f"V{self._id_prefix}{self._ids:06d}")}

    def _views_update(self, params: dict[str, Any]) -> Answer:
        view_id = str(params.get("view_id") or "")
        current = self.views.get(view_id)
        if current is None:
            raise SlackError("not_found")
        wanted = str(params.get("hash") or "")
        if wanted and wanted != current["hash"]:
            raise SlackError("hash_conflict")
        return {"view": self._stored(self._view(params), view_id)}


async def _serve(port: int, token: str, host: str, rate_limits: bool = False) -> None:
    fake = FakeSlack(token, host=host, rate_limits=rate_limits)
    url = await fake.start(port)
    limits = " (Slack-like rate limits on)" if rate_limits else ""
    print(f"fake Slack Web API at {url}{limits}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the fake Slack Web API.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--token", default="xoxb-fake-token", help="the bot token to accept")
    parser.add_argument(
        "--rate-limits",
        action="store_true",
        help="answer 429 + Retry-After beyond Slack's per-method tiers and message limits",
    )
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.token, args.host, args.rate_limits))


if __name__ == "__main__":
    main()
