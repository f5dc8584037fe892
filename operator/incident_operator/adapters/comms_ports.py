"""Ports for the communication layer: chat, pager, outgoing webhooks.

Kept apart from ``ports.py`` (the cluster and metrics ports) because each has several real
adapters (Slack; PagerDuty; Teams and generic HMAC webhooks) and their own fakes.

Every method is safe to repeat: the outbox delivers at least once, so adapters make repeats
harmless (``already_in_channel``/``already_pinned``/``already_archived`` count as success, a
post carries an idempotency key the adapter can look up before posting again).

Errors: ``DeliveryThrottled`` (429, with ``retry_after``), ``DeliveryUnavailable`` (5xx,
timeouts, connection), ``DeliveryRejected`` (the request itself is wrong; ``code`` says why),
``ChannelNameTaken`` — all from :mod:`incident_operator.errors`; nothing else escapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from incident_operator.domain.comms import IncidentSummary


@dataclass(frozen=True)
class Channel:
    id: str
    name: str


class Chat(Protocol):
    async def find_channel(self, name: str) -> Channel | None:
        """The (non-archived) channel with exactly this name, if any."""
        ...

    async def create_channel(self, name: str, *, private: bool) -> Channel:
        """Raises ChannelNameTaken when the name exists."""
        ...

    async def invite(self, channel_id: str, user_ids: Sequence[str]) -> None:
        """Invite users; those already in the channel are not an error."""
        ...

    async def set_topic(self, channel_id: str, topic: str) -> None: ...

    async def open_direct(self, user_id: str) -> str:
        """The id of the direct-message conversation with one person (opened if needed)."""
        ...

    async def find_message(self, channel_id: str, idempotency_key: str) -> str | None:
        """The ts of a message we posted earlier with this key (look up before posting)."""
        ...

    async def post(
        self,
        channel: str,
        text: str,
        *,
        blocks: Sequence[dict[str, Any]] = (),
        idempotency_key: str = "",
    ) -> str:
        """Post to a channel id or ``#name``; returns the message ts. The key is stored with
        the message (Slack message metadata) so :meth:`find_message` can find it again."""
        ...

    async def update(
        self, channel_id: str, ts: str, text: str, *, blocks: Sequence[dict[str, Any]] = ()
    ) -> None: ...

    async def pin(self, channel_id: str, ts: str) -> None:
        """Already pinned is not an error."""
        ...

    async def archive(self, channel_id: str) -> None:
        """Already archived is not an error."""
        ...


class UserGroups(Protocol):
    """Who is in a chat user group (Slack ``usergroups.users.list``)."""

    async def group_members(self, group_id: str) -> tuple[str, ...]:
        """The user ids of the group's members (its enabled members only). Raises
        DeliveryRejected(``no_such_subteam``) for an unknown group, ``missing_scope`` when
        the token lacks ``usergroups:read``, ``plan_upgrade_required`` on a free workspace."""
        ...


class Pager(Protocol):
    async def trigger(self, summary: IncidentSummary, *, dedup_key: str, urgency: str) -> None:
        """Open (or re-open) the page for this incident; repeats with the same key are one page."""
        ...

    async def acknowledge(self, dedup_key: str) -> None: ...

    async def resolve(self, dedup_key: str) -> None: ...


class Notifier(Protocol):
    """One-way notification of the incident's summary (Teams card, generic JSON webhook)."""

    async def notify(self, summary: IncidentSummary, *, event: str, idempotency_key: str) -> None:
        """``event``: what happened (declared, updated, resolved ...); the receiver may use the
        key to drop repeats."""
        ...
