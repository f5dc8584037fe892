"""Use case: hold and release change freezes of GitOps objects for one incident.

The mitigation service asks :meth:`FreezeService.hold_for` for a target that passed its guard
(never before); the incident's end (mitigation timer) and its deletion (the deletion wind-down)
call :meth:`FreezeService.release_all`. Decisions come from the pure planner in
domain/freeze.py; this module reads, writes and records:

* ``status.freezes`` on the incident: what this incident holds. A record is written *before*
  the GitOps object is patched (``frozenAt`` empty until the patch is confirmed), so a crash in
  between is repaired by the next tick instead of leaving a hold nobody knows about.
* the hold annotation on the GitOps object: the original setting and every holder, written
  with the object's resourceVersion as a precondition (a 409 means re-read and re-plan).
* a timeline entry and an Event (on the incident and on the GitOps object) per step; a refused
  freeze is an Event on the incident.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from incident_operator.adapters.ports import Body, Clock, ResourceStore
from incident_operator.adapters.workloads_port import Workloads
from incident_operator.api.v1alpha1.incident import ChangeFreeze
from incident_operator.domain import freeze, timeline
from incident_operator.domain.mitigation import Target
from incident_operator.errors import Conflict, IncidentOperatorError, PermanentError

log = logging.getLogger(__name__)

AUTHOR = "incident-operator"
WRITE_ATTEMPTS = 5
"""Conditional writes of one GitOps object before giving up until the next tick."""


@dataclass(frozen=True)
class HoldOutcome:
    frozen: bool = False
    """Every GitOps object managing the target is frozen (or would be, in a dry run)."""
    refusal: str = ""


def records_of(status: Mapping[str, Any]) -> list[ChangeFreeze]:
    out = []
    for raw in status.get("freezes") or []:
        try:
            out.append(ChangeFreeze.model_validate(raw))
        except ValidationError:
            continue
    return out


def open_records(status: Mapping[str, Any]) -> list[ChangeFreeze]:
    """Holds this incident has not released yet."""
    return [r for r in records_of(status) if r.restored_at is None]


def owner_of(record: ChangeFreeze) -> Target:
    return Target(record.api_version, record.kind, record.namespace, record.name)


def _bodies(records: list[ChangeFreeze]) -> list[Body]:
    return [r.model_dump(by_alias=True, mode="json", exclude_none=True) for r in records]


def _holder(incident: Body) -> str:
    meta = incident["metadata"]
    return freeze.holder_id(str(meta["namespace"]), str(meta["name"]), str(meta.get("uid", "")))


def _display(incident: Body) -> str:
    meta = incident["metadata"]
    return f"{meta['namespace']}/{meta['name']}"


class FreezeService:
    def __init__(
        self,
        store: ResourceStore,
        workloads: Workloads,
        clock: Clock,
        *,
        operator_namespaces: tuple[str, ...] = (),
    ) -> None:
        self._store = store
        self._workloads = workloads
        self._clock = clock
        self._operator_namespaces = frozenset(operator_namespaces)
        self.before_side_effect: Callable[[str, str], Awaitable[None]] | None = None
        """Runs before a freeze is taken (the deletion service holds the incident's
        finalizer there, so deleting the incident always lifts the freeze)."""

    def scope(self, incident_namespace: str, allowed: frozenset[str]) -> freeze.Scope:
        return freeze.Scope(incident_namespace, allowed, self._operator_namespaces)

    async def hold_for(
        self,
        incident: Body,
        target_ref: Target,
        target: Body,
        *,
        allowed: frozenset[str],
        dry_run: bool,
    ) -> HoldOutcome:
        """Freeze what provably manages ``target`` (which passed the mitigation guard)."""
        namespace = str(incident["metadata"]["namespace"])
        scope = self.scope(namespace, allowed)
        checks = []
        for owner in freeze.candidates(target):
            body = None if scope.refuses(owner) else await self._workloads.get(owner)
            checks.append(freeze.check_owner(owner, body, target_ref, scope))
        plan = freeze.plan_hold(guard_passed=True, enabled=True, checks=checks)
        if plan.refusal:
            await self._event(
                incident,
                "ChangeFreezeRefused",
                f"{target_ref.text}: {plan.refusal}",
                warning=True,
            )
            return HoldOutcome(refusal=plan.refusal)
        if not plan.hold:
            return HoldOutcome()
        if dry_run:
            return HoldOutcome(frozen=True)
        for owner in plan.hold:
            refusal = await self._acquire(incident, owner)
            if refusal:
                await self._event(
                    incident, "ChangeFreezeRefused", f"{target_ref.text}: {refusal}", warning=True
                )
                return HoldOutcome(refusal=refusal)
        return HoldOutcome(frozen=True)

    async def _fresh_records(self, incident: Body) -> list[ChangeFreeze]:
        meta = incident["metadata"]
        fresh = await self._store.get_incident(str(meta["namespace"]), str(meta["name"]))
        return records_of((fresh or incident).get("status") or {})

    async def _write_records(self, incident: Body, records: list[ChangeFreeze]) -> None:
        meta = incident["metadata"]
        await self._store.patch_incident(
            str(meta["namespace"]), str(meta["name"]), status={"freezes": _bodies(records)}
        )

    async def _acquire(self, incident: Body, owner: Target) -> str:
        """Hold the freeze of ``owner``; "" on success, else why not."""
        now = self._clock.now()
        records = await self._fresh_records(incident)
        index = next(
            (i for i, r in enumerate(records) if owner_of(r) == owner and r.restored_at is None),
            None,
        )
        if index is not None and records[index].frozen_at is not None:
            return ""  # held and confirmed
        if index is None:
            if self.before_side_effect is not None:
                meta = incident["metadata"]
                await self.before_side_effect(str(meta["namespace"]), str(meta["name"]))
            if len(records) >= 16:
                records = [r for r in records if r.restored_at is None][-15:]
            records.append(
                ChangeFreeze(
                    api_version=owner.api_version,
                    kind=owner.kind,
                    namespace=owner.namespace,
                    name=owner.name,
                )
            )
            index = len(records) - 1
            await self._write_records(incident, records)  # before the patch: never forgotten
        planned = await self._freeze_owner(owner, _holder(incident))
        if isinstance(planned, str):
            return planned
        write, body = planned
        records[index] = records[index].model_copy(
            update={"previous": write.previous, "frozen_at": now}
        )
        await self._write_records(incident, records)
        what = "auto-sync turned off" if freeze.is_argo(owner) else "suspended"
        text = (
            f"Change freeze: {freeze.describe(owner)} shared (already frozen by another incident)"
            if write.joined
            else f"Change freeze: {freeze.describe(owner)} {what}"
        )
        await self._timeline(
            incident,
            "change-freeze",
            now,
            text,
            f"freeze/{owner.kind}/{owner.namespace}/{owner.name}",
        )
        await self._event(incident, "ChangeFreeze", text)
        await self._event(body, "ChangeFreeze", f"incident {_display(incident)}: {text}")
        return ""

    async def _freeze_owner(self, owner: Target, holder: str) -> tuple[freeze.Write, Body] | str:
        """Freeze (or join the freeze of) ``owner`` on the version read; the write and that
        version, or why not. A conflict re-reads and re-plans, a few times."""
        for _attempt in range(WRITE_ATTEMPTS):
            body = await self._workloads.get(owner)
            if body is None:
                return f"{freeze.describe(owner)} disappeared"
            try:
                write = freeze.plan_acquire(owner, body, holder)
            except ValueError as exc:
                return str(exc)
            if not write.patch:
                return write, body
            try:
                await self._workloads.merge_patch(owner, write.patch)
            except Conflict:
                continue  # someone wrote it since we read it: re-read, re-plan
            except PermanentError as exc:
                return f"the API server refused to freeze {freeze.describe(owner)}: {exc}"
            return write, body
        return f"{freeze.describe(owner)} kept changing; the freeze is retried next tick"

    async def release_all(self, incident: Body) -> bool:
        """Release every hold of the incident; True when none is left open."""
        now = self._clock.now()
        records = await self._fresh_records(incident)
        changed = False
        done = True
        for i, record in enumerate(records):
            if record.restored_at is not None:
                continue
            released = await self._release(incident, record, now)
            if released:
                records[i] = record.model_copy(update={"restored_at": now})
                changed = True
            else:
                done = False
        if changed:
            await self._write_records(incident, records)
        return done

    async def _release(self, incident: Body, record: ChangeFreeze, now: datetime) -> bool:
        owner = owner_of(record)
        holder = _holder(incident)
        key = f"freeze/{owner.kind}/{owner.namespace}/{owner.name}/lifted"
        for _attempt in range(WRITE_ATTEMPTS):
            body = await self._workloads.get(owner)
            if body is None:
                return True  # gone: nothing left to restore
            try:
                write = freeze.plan_release(owner, body, holder)
            except freeze.Unreadable as exc:
                text = (
                    f"Change freeze of {freeze.describe(owner)} not restored: {exc}; "
                    "restore it by hand"
                )
                await self._timeline(incident, "change-freeze-lifted", now, text, key)
                await self._event(incident, "ChangeFreezeLost", text, warning=True)
                return True
            if write is None:
                return True  # not (or no longer) a holder: nothing of ours to undo
            try:
                await self._workloads.merge_patch(owner, write.patch)
            except Conflict:
                continue
            except PermanentError as exc:
                text = f"Change freeze of {freeze.describe(owner)} not lifted yet: {exc}"
                await self._event(incident, "ChangeFreezeStuck", text, warning=True)
                return False
            if write.restored:
                text = (
                    f"Change freeze lifted: {freeze.describe(owner)} restored to its original "
                    f"setting ({write.previous})"
                )
            else:
                text = (
                    f"Change freeze released by this incident: {freeze.describe(owner)} stays "
                    "frozen for the other incidents holding it"
                )
            await self._timeline(incident, "change-freeze-lifted", now, text, key)
            await self._event(incident, "ChangeFreezeLifted", text)
            await self._event(body, "ChangeFreezeLifted", f"incident {_display(incident)}: {text}")
            return True
        return False

    async def _timeline(
        self, incident: Body, kind: str, at: datetime, message: str, key: str
    ) -> None:
        meta = incident["metadata"]
        entry = timeline.entry(at, kind, message, author=AUTHOR, source="mitigation", key=key)
        try:
            await self._store.append_timeline(str(meta["namespace"]), str(meta["name"]), [entry])
        except IncidentOperatorError as exc:  # the incident may be going away
            log.warning("could not record timeline entry %s: %s", key, exc)

    async def _event(
        self, regarding: Body | None, reason: str, message: str, *, warning: bool = False
    ) -> None:
        if regarding is None:
            return
        try:
            await self._store.emit_event(regarding, reason, message, warning=warning)
        except IncidentOperatorError as exc:
            log.warning("could not record event %s: %s", reason, exc)
