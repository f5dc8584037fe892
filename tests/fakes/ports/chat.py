"""In-memory Chat: Slack's semantics that services rely on, without HTTP.

For fast unit tests of the comms and chat-command services; the Slack adapter itself is tested
against the HTTP fake (tests/fakes/slack.py). Mirrors what the real adapter guarantees: repeats
of invite/pin/archive are success, ``name_taken`` raises ChannelNameTaken (archived names stay
taken, as in Slack), posts keep their idempotency key for :meth:`find_message`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from incident_operator.adapters.comms_ports import Channel
from incident_operator.errors import ChannelNameTaken, DeliveryRejected


@dataclass
class FakeMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    key: str
    user: str = "UBOT00001"


@dataclass
class FakeChat:
    channels: dict[str, Channel] = field(default_factory=dict)
    """By id."""
    private: set[str] = field(default_factory=set)
    archived: set[str] = field(default_factory=set)
    members: dict[str, set[str]] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)
    messages: list[FakeMessage] = field(default_factory=list)
    pins: set[tuple[str, str]] = field(default_factory=set)
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    """(method, arguments) of every call, in order."""
    failures: list[Exception] = field(default_factory=list)
    """Raised (first in, first out) by the next calls instead of doing anything."""
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    """User group id -> members (``group_members``; unknown: ``no_such_subteam``)."""
    _ts: int = 0

    def _enter(self, method: str, *args: Any) -> None:
        self.calls.append((method, args))
        if self.failures:
            raise self.failures.pop(0)

    def _channel(self, ref: str) -> Channel:
        found = self.channels.get(ref) or next(
            (
                c
                for c in self.channels.values()
                if c.name == ref.removeprefix("#") and c.id not in self.archived
            ),
            None,
        )
        if found is None:
            raise DeliveryRejected("channel_not_found (fake)", code="channel_not_found")
        return found

    def add_message(self, channel_id: str, text: str, user: str) -> str:
        """Someone else's message (e.g. one that gets a pushpin); returns its ts."""
        self._ts += 1
        ts = f"1700000000.{self._ts:06d}"
        self.messages.append(FakeMessage(channel_id, ts, text, [], "", user))
        return ts

    async def find_channel(self, name: str) -> Channel | None:
        self._enter("find_channel", name)
        wanted = name.removeprefix("#")
        return next(
            (c for c in self.channels.values() if c.name == wanted and c.id not in self.archived),
            None,
        )

    async def create_channel(self, name: str, *, private: bool) -> Channel:
        self._enter("create_channel", name, private)
        if any(c.name == name for c in self.channels.values()):
            raise ChannelNameTaken("name_taken (fake)", code="name_taken")
        channel = Channel(id=f"C{len(self.channels) + 1:08d}", name=name)
        self.channels[channel.id] = channel
        self.members[channel.id] = set()
        if private:
            self.private.add(channel.id)
        return channel

    async def invite(self, channel_id: str, user_ids: Sequence[str]) -> None:
        self._enter("invite", channel_id, tuple(user_ids))
        self.members.setdefault(self._channel(channel_id).id, set()).update(user_ids)

    async def group_members(self, group_id: str) -> tuple[str, ...]:
        self._enter("group_members", group_id)
        if group_id not in self.usergroups:
            raise DeliveryRejected(
                "Slack usergroups.users.list: no_such_subteam", code="no_such_subteam"
            )
        return tuple(self.usergroups[group_id])

    async def set_topic(self, channel_id: str, topic: str) -> None:
        self._enter("set_topic", channel_id, topic)
        self.topics[self._channel(channel_id).id] = topic

    async def open_direct(self, user_id: str) -> str:
        """The person's 1:1 conversation, ``D`` + their id (the same each time, as Slack's)."""
        self._enter("open_direct", user_id)
        channel = Channel(id=f"D{user_id}", name="")
        self.channels.setdefault(channel.id, channel)
        self.members.setdefault(channel.id, {user_id})
        return channel.id

    async def find_message(self, channel_id: str, idempotency_key: str) -> str | None:
        self._enter("find_message", channel_id, idempotency_key)
        return next(
            (
                m.ts
                for m in self.messages
                if m.channel == channel_id and m.key and m.key == idempotency_key
            ),
            None,
        )

    async def post(
        self,
        channel: str,
        text: str,
        *,
        blocks: Sequence[dict[str, Any]] = (),
        idempotency_key: str = "",
    ) -> str:
        self._enter("post", channel, text)
        target = self._channel(channel)
        self._ts += 1
        ts = f"1700000000.{self._ts:06d}"
        self.messages.append(FakeMessage(target.id, ts, text, list(blocks), idempotency_key))
        return ts

    async def update(
        self, channel_id: str, ts: str, text: str, *, blocks: Sequence[dict[str, Any]] = ()
    ) -> None:
        self._enter("update", channel_id, ts, text)
        for message in self.messages:
            if message.channel == channel_id and message.ts == ts:
                message.text, message.blocks = text, list(blocks)
                return
        raise DeliveryRejected("message_not_found (fake)", code="message_not_found")

    async def pin(self, channel_id: str, ts: str) -> None:
        self._enter("pin", channel_id, ts)
        self.pins.add((channel_id, ts))

    async def archive(self, channel_id: str) -> None:
        self._enter("archive", channel_id)
        self.archived.add(self._channel(channel_id).id)

    async def message_text(self, channel_id: str, ts: str) -> str | None:
        self._enter("message_text", channel_id, ts)
        return next((m.text for m in self.messages if m.channel == channel_id and m.ts == ts), None)

    def texts(self, channel_id: str) -> list[str]:
        return [m.text for m in self.messages if m.channel == channel_id]


@dataclass
class FakeViews:
    """ChatViews: the modals opened, by trigger; a trigger works once (as Slack's)."""

    opened: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> str:
        if self.failures:
            raise self.failures.pop(0)
        if any(t == trigger_id for t, _ in self.opened):
            raise DeliveryRejected("exchanged_trigger_id (fake)", code="exchanged_trigger_id")
        self.opened.append((trigger_id, view))
        return f"V{len(self.opened):08d}"

    def submission(self, user: str = "U0AAAAAAA", index: int = -1, **state: Any) -> dict[str, Any]:
        """A view_submission of opened view ``index`` with ``state`` as
        ``view.state.values`` entries by block id (already shaped)."""
        position = index if index >= 0 else len(self.opened) + index
        _, view = self.opened[position]
        values = {k: {k: v} for k, v in state.items()}
        return {
            "type": "view_submission",
            "user": {"id": user, "username": "alice"},
            "view": {**view, "id": f"V{position + 1:08d}", "state": {"values": values}},
        }
