"""Which incident a chat channel belongs to, from what only the operator writes.

A channel is an incident's when that incident's ``status.chat.channelId`` names it: the comms
service writes it when it opens the channel, and ``status`` is a subresource a namespace
tenant is not granted (``edit`` on ``incidents`` does not include ``incidents/status``).
Labels are never consulted — anyone who may edit an Incident in any namespace could set one
and capture another team's channel, its ``/incident`` commands and its 📌 messages.

The index is fed by the Incident watch kopf already runs (its initial listing, then every
change and deletion), like ``open_incidents.py`` and ``status_page.py``: a command costs no
list of every incident in the cluster, only the GET of the one incident it acts on. In case
a command arrives before the watch's initial listing was taken in, the first lookup lists
incidents once to seed what the watch has not reported yet.

A channel claimed by two or more incidents (which the operator never writes on purpose, but a
channel found by name after an unconfirmed create could be) belongs to none of them: its
commands are refused and its pins ignored, rather than guessing which team is speaking.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Key = tuple[str, str]
"""(namespace, name) of an Incident."""


def channel_of(body: Mapping[str, Any]) -> str:
    """``status.chat.channelId`` of an Incident body; "" when it has none (or it is malformed)."""
    status = body.get("status")
    chat = status.get("chat") if isinstance(status, Mapping) else None
    channel = chat.get("channelId") if isinstance(chat, Mapping) else None
    return channel if isinstance(channel, str) else ""


def _key(body: Mapping[str, Any]) -> Key:
    meta = body.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


class ChannelIndex:
    def __init__(self) -> None:
        self._channel: dict[Key, str] = {}
        self._incidents: dict[str, set[Key]] = {}
        self._observed: set[Key] = set()
        self.seeded = False
        """True once :meth:`seed` ran (the watch may have filled the index before)."""

    def observe(self, body: Mapping[str, Any], *, deleted: bool = False) -> None:
        """Take one Incident watch event (the object as it is now)."""
        key = _key(body)
        self._observed.add(key)
        self._set(key, "" if deleted else channel_of(body))

    def wrote(self, body: Mapping[str, Any]) -> None:
        """The answer to the operator's own write: a channel it names for an incident that
        has none yet is known at once. The watch event comes later (with many incidents
        changing, seconds later), and a person who saw the new channel could type a command
        in it before; anything else stays the watch's to say."""
        key = _key(body)
        channel = channel_of(body)
        if channel and not self._channel.get(key):
            self._set(key, channel)

    def seed(self, bodies: Iterable[Mapping[str, Any]]) -> None:
        """A listing taken outside the watch: fills only incidents the watch never reported
        (the watch's view is at least as new as the listing's)."""
        for body in bodies:
            key = _key(body)
            if key not in self._observed:
                self._set(key, channel_of(body))
        self.seeded = True

    def _set(self, key: Key, channel: str) -> None:
        before = self._channel.get(key, "")
        if before == channel:
            return
        if before:
            owners = self._incidents[before]
            owners.discard(key)
            if not owners:
                del self._incidents[before]
            del self._channel[key]
        if channel:
            self._channel[key] = channel
            self._incidents.setdefault(channel, set()).add(key)

    def incidents(self, channel_id: str) -> tuple[Key, ...]:
        """Every incident whose status names ``channel_id`` (sorted; usually one or none)."""
        return tuple(sorted(self._incidents.get(channel_id, ())))

    def claimed_by_other(self, channel_id: str, key: Key) -> bool:
        """True when an incident other than ``key`` already names ``channel_id``."""
        return any(k != key for k in self._incidents.get(channel_id, ()))
