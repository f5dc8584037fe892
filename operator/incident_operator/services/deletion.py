"""Use case: hold an Incident's finalizer only while a side effect is open; wind down on delete.

* :meth:`DeletionService.hold` runs *before* a page is triggered, a channel created or a
  freeze taken (the comms and freeze services call it): the finalizer is on the object before
  anything exists that its deletion would strand.
* :meth:`DeletionService.reconcile` runs on every watch event that needs it
  (domain.deletion.needs_attention): it removes the finalizer once nothing is open and, for an
  incident being deleted, first closes what is open — the freezes through the freeze service,
  the page and the channel through the comms service's own sync (which, for a deleted
  incident, owes only the page's resolve and the channel's archive) — then lets it go.

Decisions are domain/deletion.py; finalizer writes carry the resourceVersion they were
planned from (a merge patch replaces the whole list: never drop a finalizer someone else
added in between).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from incident_operator.adapters.ports import Body, ResourceStore
from incident_operator.domain import deletion
from incident_operator.errors import Conflict, IncidentOperatorError

from .freeze import FreezeService
from .keyed_locks import KeyedLocks

log = logging.getLogger(__name__)

WRITE_ATTEMPTS = 5
RETRY_AFTER = 10.0
"""Seconds before a wind-down that could not finish (chat or API down) is tried again."""

Sync = Callable[[str, str], Awaitable[Any]]


class DeletionService:
    def __init__(
        self,
        store: ResourceStore,
        freezes: FreezeService,
        *,
        comms_sync: Sync | None = None,
        archive_on_close: bool = True,
    ) -> None:
        self._store = store
        self._freezes = freezes
        self._comms_sync = comms_sync
        self.archive_on_close = archive_on_close
        self.closes_pages = self.closes_channels = comms_sync is not None
        self._tasks: set[asyncio.Task[bool]] = set()
        self._retries: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._locks = KeyedLocks[tuple[str, str]]()

    def attach_comms(
        self,
        comms_sync: Sync | None,
        *,
        archive_on_close: bool,
        pages: bool = True,
        channels: bool = True,
    ) -> None:
        """``pages``/``channels``: the comms service has a pager/chat client to close them."""
        self._comms_sync = comms_sync
        self.archive_on_close = archive_on_close
        self.closes_pages = comms_sync is not None and pages
        self.closes_channels = comms_sync is not None and channels

    def _effects(self, status: Body) -> deletion.OpenEffects:
        return deletion.open_effects(
            status,
            archive_on_close=self.archive_on_close,
            pager=self.closes_pages,
            chat=self.closes_channels,
        )

    def needs_attention(self, body: Body) -> bool:
        return deletion.needs_attention(
            body,
            archive_on_close=self.archive_on_close,
            pager=self.closes_pages,
            chat=self.closes_channels,
        )

    async def hold(self, namespace: str, name: str) -> None:
        """Put our finalizer on the incident before a side effect is opened."""
        for _attempt in range(WRITE_ATTEMPTS):
            body = await self._store.get_incident(namespace, name)
            if body is None or deletion.deleting(body):
                return  # gone or going: nothing new may be held (the caller opens nothing)
            finalizers = list(body["metadata"].get("finalizers") or [])
            if deletion.FINALIZER in finalizers:
                return
            if await self._write(body, [*finalizers, deletion.FINALIZER]):
                return
        raise Conflict(f"incident {namespace}/{name} kept changing; finalizer not added yet")

    async def _write(self, body: Body, finalizers: list[str]) -> bool:
        meta = body["metadata"]
        try:
            await self._store.patch_incident(
                str(meta["namespace"]),
                str(meta["name"]),
                metadata={"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]},
            )
        except Conflict:
            return False
        return True

    async def reconcile(self, namespace: str, name: str) -> bool:
        """Bring the finalizer in line (winding down first when deleted); True when settled."""
        async with self._locks.hold((namespace, name)):
            return await self._reconcile(namespace, name)

    async def _reconcile(self, namespace: str, name: str) -> bool:
        body = await self._store.get_incident(namespace, name)
        if body is None:
            return True
        if deletion.deleting(body) and deletion.FINALIZER in (
            body["metadata"].get("finalizers") or []
        ):
            await self._wind_down(body)
        for _attempt in range(WRITE_ATTEMPTS):
            body = await self._store.get_incident(namespace, name)
            if body is None:
                return True
            effects = self._effects(body.get("status") or {})
            wanted = deletion.finalizers_after(
                list(body["metadata"].get("finalizers") or []),
                effects,
                deleting=deletion.deleting(body),
            )
            if wanted is None:
                if deletion.deleting(body) and effects.any:
                    log.info(
                        "incident %s/%s: deletion waits for %s to close",
                        namespace, name, effects.describe(),
                    )  # fmt: skip
                    return False
                return True
            if await self._write(body, wanted):
                if deletion.FINALIZER not in wanted and deletion.deleting(body):
                    log.info("incident %s/%s: wound down, deletion may proceed", namespace, name)
                return True
        return False

    async def _wind_down(self, body: Body) -> None:
        meta = body["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        try:
            await self._freezes.release_all(body)
        except IncidentOperatorError as exc:
            log.warning("incident %s/%s: freezes not released yet: %s", namespace, name, exc)
        if self._comms_sync is not None:
            try:
                await self._comms_sync(namespace, name)
            except IncidentOperatorError as exc:
                log.warning("incident %s/%s: page/channel not closed yet: %s", namespace, name, exc)

    def spawn(self, namespace: str, name: str) -> None:
        """Reconcile in the background (a watch event must not wait for chat or the pager)."""
        task = asyncio.create_task(self.reconcile(namespace, name))
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, namespace, name))

    def _done(self, task: asyncio.Task[bool], namespace: str, name: str) -> None:
        self._tasks.discard(task)
        settled = False
        if not task.cancelled():
            if (exc := task.exception()) is not None:
                log.warning("finalizer of %s/%s: %s; retrying", namespace, name, exc)
            else:
                settled = task.result()
        if not settled and not task.cancelled():
            key = (namespace, name)
            if key not in self._retries:
                loop = asyncio.get_running_loop()

                def fire() -> None:
                    self._retries.pop(key, None)
                    self.spawn(namespace, name)

                self._retries[key] = loop.call_later(RETRY_AFTER, fire)

    async def close(self) -> None:
        for handle in self._retries.values():
            handle.cancel()
        self._retries.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
