"""Deletion winds down; no object carries a finalizer it does not need.

Our finalizer (domain/deletion.py) is held on an Incident only while a page, a chat channel
or a change freeze is open; every watch event that needs it (added, removed, or a deletion to
wind down) hands the incident to the deletion service in the background.

kopf puts its own finalizer on every object a timer matches (so it can stop the timer on
deletion): every OnCallRotation, every Postmortem, every open Incident. After ``helm
uninstall`` nobody removes it and namespace deletion hangs. :func:`disown_timers` turns that
off for our timers (they have no end-of-life work) and instead stops an object's timers when
its DELETED event arrives: the event handler below records the uid, and every timer's filter
refuses a recorded uid, so kopf stops the timer as a filter mismatch. kopf then also removes
its finalizer from objects that still carry it from earlier versions.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import kopf

from incident_operator import GROUP, VERSION

from .context import context_of

GONE_KEEP = 600.0
"""Seconds a deleted object's uid is remembered (its timers stop at the next event)."""


def forget_deleted(memo: kopf.Memo, uid: str, now: float) -> None:
    gone = context_of(memo).state.gone_uids
    for old in [u for u, at in gone.items() if now - at > GONE_KEEP]:
        del gone[old]
    if uid:
        gone[uid] = now


def _alive(when: Callable[..., bool] | None) -> Callable[..., bool]:
    def alive(**kwargs: Any) -> bool:
        memo = kwargs.get("memo")
        uid = str((kwargs.get("meta") or {}).get("uid") or "")
        if memo is not None and uid in context_of(memo).state.gone_uids:
            return False
        return True if when is None else bool(when(**kwargs))

    return alive


def disown_timers(registry: kopf.OperatorRegistry) -> None:
    """No kopf finalizer for timers; a deleted object's timers stop on its DELETED event."""
    spawning = registry._spawning
    spawning._handlers = [
        dataclasses.replace(h, requires_finalizer=False, when=_alive(h.when))
        if h.requires_finalizer
        else h
        for h in spawning._handlers
    ]


@kopf.on.event(GROUP, VERSION, "incidents")
@kopf.on.event(GROUP, VERSION, "oncallrotations")
@kopf.on.event(GROUP, VERSION, "postmortems")
async def on_any_event(
    body: kopf.Body, type: str | None, memo: kopf.Memo, resource: kopf.Resource, **_: Any
) -> None:
    if type == "DELETED":
        forget_deleted(memo, str(body.metadata.uid or ""), time.monotonic())
        return
    if resource.plural != "incidents":
        return
    service = context_of(memo).deletion_service
    if service is not None and service.needs_attention(dict(body)):
        service.spawn(body.metadata.namespace or "", body.metadata.name or "")


@kopf.on.cleanup()
async def stop_deletions(memo: kopf.Memo, **_: Any) -> None:
    service = context_of(memo).deletion_service
    if service is not None:
        await service.close()
