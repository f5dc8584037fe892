"""Slack over ``slack_sdk``'s AsyncWebClient: the Chat port, plus what inbound events need.

Why these choices:

- slack_sdk's own retry handlers are switched off (``retry_handlers=[]``): the outbox owns
  retries and their timing, and a client that sleeps on 429 inside a reconcile would hold a
  kopf worker hostage. A 429 surfaces at once as ``DeliveryThrottled(retry_after)``.
- Every Slack answer is translated here, so nothing from slack_sdk or aiohttp escapes: 429 ->
  DeliveryThrottled; 5xx, Slack's own "try later" codes, connection errors and timeouts ->
  DeliveryUnavailable; other ``ok: false`` codes -> DeliveryRejected(code), ``name_taken`` ->
  ChannelNameTaken. Codes meaning "already done" (``already_in_channel``, ``already_pinned``,
  ``already_archived``, ``cant_invite_self``) are success: the outbox repeats calls.
- Error text is built from the method name and Slack's error code only — never from
  slack_sdk's exception text — and anything that might still hold the token is redacted.
- Idempotent posts: the key rides along as Slack message metadata (``incident_operator_message``)
  and :meth:`SlackChat.find_message` looks for it in recent history before a re-post.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from incident_operator.errors import (
    ChannelNameTaken,
    DeliveryRejected,
    DeliveryThrottled,
    DeliveryUnavailable,
)

from .comms_ports import Channel

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://slack.com/api/"
EVENT_TYPE = "incident_operator_message"
"""Slack message metadata event type carrying our idempotency key."""
ALREADY_DONE = frozenset(
    {"already_in_channel", "already_pinned", "already_archived", "cant_invite_self"}
)
UNAVAILABLE_CODES = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)
"""Slack's documented "not your fault, try again" error codes."""
DEFAULT_RETRY_AFTER = 1.0
LIST_PAGE = 200
MAX_LIST_PAGES = 50
HISTORY_PAGE = 100

Call = Callable[[], Awaitable[AsyncSlackResponse]]


class SlackChat:
    """The Chat port on Slack; also reads messages for inbound 📌 reactions."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: int = 10,
        history_pages: int = 3,
    ) -> None:
        """``history_pages``: how many pages of ``HISTORY_PAGE`` messages ``find_message``
        scans; an incident's own messages are recent, and a bound keeps a busy channel cheap."""
        self._token = token
        self._client = AsyncWebClient(
            token=token,
            base_url=base_url if base_url.endswith("/") else base_url + "/",
            timeout=timeout,
            retry_handlers=[],
        )
        self._history_pages = history_pages

    # -- error translation --------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    async def _call(
        self, method: str, call: Call, *, done: Collection[str] = ()
    ) -> dict[str, Any] | None:
        """Run one API call; its data, or None when Slack says the effect is already there."""
        try:
            response = await call()
        except SlackApiError as exc:
            self._raise_unless_done(method, exc.response, done)
            return None
        except (aiohttp.ClientError, TimeoutError) as exc:  # asyncio.TimeoutError is TimeoutError
            raise DeliveryUnavailable(
                self._redact(f"Slack {method}: {type(exc).__name__}: {exc}")
            ) from None
        except SlackClientError as exc:
            raise DeliveryUnavailable(f"Slack {method}: {type(exc).__name__}") from None
        data = response.data
        return data if isinstance(data, dict) else {}

    def _raise_unless_done(self, method: str, response: Any, done: Collection[str]) -> None:
        """An error answer -> our exception, unless its code is in ``done``; the text is built
        from the method and code, never from slack_sdk's message."""
        # slack_sdk puts its response object here, or aiohttp's for an unreadable body
        status = int(getattr(response, "status_code", None) or getattr(response, "status", 0) or 0)
        headers = getattr(response, "headers", None) or {}
        data = getattr(response, "data", None)
        code = str(data.get("error", "")) if isinstance(data, dict) else ""
        if status == 429:
            raise DeliveryThrottled(
                f"Slack {method}: rate limited (429)", retry_after=_retry_after(headers)
            )
        if status >= 500:
            raise DeliveryUnavailable(f"Slack {method}: HTTP {status}")
        if code in done:
            log.debug("Slack %s: %s (already done)", method, code)
            return
        if code == "name_taken":
            raise ChannelNameTaken(f"Slack {method}: name_taken", code=code)
        if code in UNAVAILABLE_CODES:
            raise DeliveryUnavailable(f"Slack {method}: {code}")
        if not code:
            code = f"http_{status}"
        raise DeliveryRejected(self._redact(f"Slack {method}: {code}"), code=code)

    # -- Chat ---------------------------------------------------------------------------

    async def find_channel(self, name: str) -> Channel | None:
        wanted = name.removeprefix("#")
        cursor = ""
        for _page in range(MAX_LIST_PAGES):
            data = await self._call(
                "conversations.list",
                lambda c=cursor: self._client.conversations_list(  # type: ignore[misc]
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=LIST_PAGE,
                    cursor=c or None,
                ),
            )
            data = data or {}
            for channel in data.get("channels") or []:
                if channel.get("name") == wanted:
                    return Channel(id=str(channel["id"]), name=str(channel["name"]))
            cursor = str((data.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return None
        log.warning("Slack conversations.list: gave up after %d pages", MAX_LIST_PAGES)
        return None

    async def create_channel(self, name: str, *, private: bool) -> Channel:
        data = await self._call(
            "conversations.create",
            lambda: self._client.conversations_create(name=name, is_private=private),
        )
        channel = (data or {}).get("channel") or {}
        return Channel(id=str(channel.get("id", "")), name=str(channel.get("name", name)))

    async def invite(self, channel_id: str, user_ids: Sequence[str]) -> None:
        """One user per call: Slack refuses a whole batch (``already_in_channel``) when any one
        user is a member, so a repeat after a partial success would never invite the rest."""
        for user in dict.fromkeys(user_ids):
            await self._call(
                "conversations.invite",
                lambda u=user: self._client.conversations_invite(  # type: ignore[misc]
                    channel=channel_id, users=u
                ),
                done=ALREADY_DONE,
            )

    async def group_members(self, group_id: str) -> tuple[str, ...]:
        """``usergroups.users.list`` (scope ``usergroups:read``): ``{"ok": true, "users":
        ["U…", "W…"]}``; its errors are translated like every other call's."""
        data = await self._call(
            "usergroups.users.list",
            lambda: self._client.usergroups_users_list(usergroup=group_id),
        )
        return tuple(str(u) for u in (data or {}).get("users") or [])

    async def set_topic(self, channel_id: str, topic: str) -> None:
        await self._call(
            "conversations.setTopic",
            lambda: self._client.conversations_setTopic(channel=channel_id, topic=topic),
        )

    async def open_direct(self, user_id: str) -> str:
        """``conversations.open`` with one user: opens or resumes the 1:1 conversation (the
        same id each time, so posts and look-ups by key land in one place)."""
        data = await self._call(
            "conversations.open", lambda: self._client.conversations_open(users=user_id)
        )
        return str(((data or {}).get("channel") or {}).get("id", ""))

    async def find_message(self, channel_id: str, idempotency_key: str) -> str | None:
        cursor = ""
        for _page in range(self._history_pages):
            data = await self._call(
                "conversations.history",
                lambda c=cursor: self._client.conversations_history(  # type: ignore[misc]
                    channel=channel_id,
                    include_all_metadata=True,
                    limit=HISTORY_PAGE,
                    cursor=c or None,
                ),
            )
            data = data or {}
            for message in data.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if (
                    metadata.get("event_type") == EVENT_TYPE
                    and payload.get("key") == idempotency_key
                ):
                    return str(message["ts"])
            cursor = str((data.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor or not data.get("has_more", True):
                return None
        return None

    async def post(
        self,
        channel: str,
        text: str,
        *,
        blocks: Sequence[dict[str, Any]] = (),
        idempotency_key: str = "",
    ) -> str:
        metadata = (
            {"event_type": EVENT_TYPE, "event_payload": {"key": idempotency_key}}
            if idempotency_key
            else None
        )
        data = await self._call(
            "chat.postMessage",
            lambda: self._client.chat_postMessage(
                channel=channel, text=text, blocks=list(blocks) or None, metadata=metadata
            ),
        )
        return str((data or {}).get("ts", ""))

    async def update(
        self, channel_id: str, ts: str, text: str, *, blocks: Sequence[dict[str, Any]] = ()
    ) -> None:
        await self._call(
            "chat.update",
            lambda: self._client.chat_update(
                channel=channel_id, ts=ts, text=text, blocks=list(blocks) or None
            ),
        )

    async def pin(self, channel_id: str, ts: str) -> None:
        await self._call(
            "pins.add",
            lambda: self._client.pins_add(channel=channel_id, timestamp=ts),
            done=ALREADY_DONE,
        )

    async def archive(self, channel_id: str) -> None:
        await self._call(
            "conversations.archive",
            lambda: self._client.conversations_archive(channel=channel_id),
            done=ALREADY_DONE,
        )

    # -- inbound support ----------------------------------------------------------------

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> str:
        """``views.open``: the modal for the user behind ``trigger_id`` (3 s, single use)."""
        data = await self._call(
            "views.open", lambda: self._client.views_open(trigger_id=trigger_id, view=view)
        )
        return str(((data or {}).get("view") or {}).get("id", ""))

    async def update_view(self, view_id: str, view: dict[str, Any], view_hash: str = "") -> None:
        """``views.update``: replace an open modal (``hash``: only if unchanged since)."""
        await self._call(
            "views.update",
            lambda: self._client.views_update(view_id=view_id, view=view, hash=view_hash or None),
        )

    async def message_text(self, channel_id: str, ts: str) -> str | None:
        """The text of the message at ``ts`` (e.g. the one a responder pinned); None if gone."""
        data = await self._call(
            "conversations.history",
            lambda: self._client.conversations_history(
                channel=channel_id, latest=ts, inclusive=True, limit=1
            ),
        )
        for message in (data or {}).get("messages") or []:
            if message.get("ts") == ts:
                return str(message.get("text", ""))
        return None


def _retry_after(headers: Any) -> float:
    try:
        return max(0.0, float(headers.get("Retry-After", DEFAULT_RETRY_AFTER)))
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
