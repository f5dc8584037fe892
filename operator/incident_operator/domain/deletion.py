"""Deletion winds down: when an Incident holds a finalizer, and when it lets go — pure.

A finalizer nobody removes blocks deletion forever, the object's and its namespace's: after
``helm uninstall`` nobody is left to remove it. So an Incident carries our finalizer
(:data:`FINALIZER`) only while something outside the cluster object is open that deleting it
would strand:

* a page (``status.pager.state`` triggered or acknowledged, or a workflow's page in
  ``status.pager.workflowPages``),
* a chat channel still to be archived (``status.chat.channelId`` not archived, and the
  operator archives channels, or the incident is not closed yet),
* a change freeze this incident holds (a ``status.freezes`` record not released).

The finalizer is added *before* such an effect is opened and removed once none is open; on
deletion the wind-down closes them (resolve the page, archive the channel, release the
freezes) and then removes it. Every other object (rotations, postmortems, SLOs, closed
incidents) carries no finalizer at all: kopf's own (:data:`KOPF_FINALIZER`, which kopf put on
objects with timers) is no longer added and kopf removes it from objects that still have it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FINALIZER = "sre.dev/side-effects"
KOPF_FINALIZER = "sre.dev/finalizer"
"""kopf's finalizer under our prefix (handlers/settings.py); never required any more."""
OPEN_PAGE_STATES = frozenset({"triggered", "acknowledged"})


@dataclass(frozen=True)
class OpenEffects:
    page: bool = False
    channel: bool = False
    freezes: int = 0

    @property
    def any(self) -> bool:
        return self.page or self.channel or self.freezes > 0

    def describe(self) -> str:
        parts = (["a page"] if self.page else []) + (["a chat channel"] if self.channel else [])
        if self.freezes:
            parts.append(f"{self.freezes} change freeze(s)")
        return ", ".join(parts) or "nothing"


def open_effects(
    status: Mapping[str, Any],
    *,
    archive_on_close: bool = True,
    pager: bool = True,
    chat: bool = True,
) -> OpenEffects:
    """What the finalizer must wait for. ``pager``/``chat``: this operator is configured to
    close pages/channels; what only another configuration could close is not waited for (it
    would hold the incident, and its namespace, for ever)."""
    page_status = status.get("pager") or {}
    chat_status = status.get("chat") or {}
    closed = status.get("phase") == "closed"
    channel = bool(chat_status.get("channelId")) and not chat_status.get("archived")
    workflow_pages = (page_status.get("workflowPages") or {}).values()
    paged = page_status.get("state") in OPEN_PAGE_STATES or any(
        (p or {}).get("state") in OPEN_PAGE_STATES for p in workflow_pages
    )
    return OpenEffects(
        page=pager and paged,
        channel=chat and channel and (archive_on_close or not closed),
        freezes=sum(1 for f in status.get("freezes") or [] if not f.get("restoredAt")),
    )


def deleting(body: Mapping[str, Any]) -> bool:
    return bool((body.get("metadata") or {}).get("deletionTimestamp"))


def finalizers_after(
    finalizers: Sequence[str], effects: OpenEffects, *, deleting: bool
) -> list[str] | None:
    """The finalizer list to write, or None when it is right as it is.

    The API server refuses new finalizers on an object being deleted: during deletion ours is
    only ever removed (once nothing is open).
    """
    has = FINALIZER in finalizers
    if effects.any and not has and not deleting:
        return [*finalizers, FINALIZER]
    if not effects.any and has:
        return [f for f in finalizers if f != FINALIZER]
    return None


def needs_attention(
    body: Mapping[str, Any],
    *,
    archive_on_close: bool = True,
    pager: bool = True,
    chat: bool = True,
) -> bool:
    """Cheap test on a watch event: does the finalizer (or a wind-down) need work?"""
    meta = body.get("metadata") or {}
    has = FINALIZER in (meta.get("finalizers") or [])
    if deleting(body):
        return has
    effects = open_effects(
        body.get("status") or {}, archive_on_close=archive_on_close, pager=pager, chat=chat
    )
    return effects.any != has
