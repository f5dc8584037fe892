"""One ``asyncio.Lock`` per key (an incident, a postmortem, an alert group), kept only while used.

A plain ``dict[key, Lock]`` filled with ``setdefault`` grows by one lock per object the
operator ever touched and never shrinks: a long-running operator, or anyone able to make it
see many names (Alertmanager group keys come from outside), makes it grow without bound.
Here a key's lock exists while at least one task holds or waits for it and is dropped when
the last one leaves, so the map is as large as the work in flight, never larger.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
    """Tasks holding or waiting for the lock."""


class KeyedLocks(Generic[K]):
    def __init__(self) -> None:
        self._entries: dict[K, _Entry] = {}

    def __len__(self) -> int:
        """Keys with a task holding or waiting for their lock (idle keys are forgotten)."""
        return len(self._entries)

    def locked(self, key: K) -> bool:
        """Whether some task holds ``key``'s lock right now."""
        entry = self._entries.get(key)
        return entry is not None and entry.lock.locked()

    @asynccontextmanager
    async def hold(self, key: K) -> AsyncIterator[None]:
        """Hold ``key``'s lock for the ``async with`` block (waiting for it if needed)."""
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[key]
