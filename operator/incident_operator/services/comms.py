"""Use case: bring chat, the pager and the webhooks in line with one incident, reliably.

``sync`` takes the incident's newest body, asks the domain what is still owed
(domain/outbox.py), and delivers it one operation at a time: an operation that creates
something has its attempt recorded in ``status.outbox`` before the call, and every result
(channel id, message ts, page state ...) is recorded after it. A retried creation looks up
before it creates. One sync per incident at a time (a lock, and a dirty flag so a burst of
watch events costs one extra pass, not one per event).

The body: the watch event's, or the answer to the sync's own last write, whichever is newer
(``latest_bodies``), and read fresh only when neither is known to be at least as new as that
write: acting on a body older than it would post what was already posted.

Each operation is executed by comms_delivery.py; the degraded conditions are comms_conditions.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from pydantic import ValidationError

from incident_operator.adapters.comms_ports import Chat, Notifier, Pager
from incident_operator.adapters.ports import Body, Clock, ResourceStore
from incident_operator.api.merge_patch import compose
from incident_operator.api.v1alpha1.convert import existing_conditions
from incident_operator.api.v1alpha1.incident import Incident, IncidentStatus
from incident_operator.api.v1alpha1.severity import Severity
from incident_operator.domain import chat_render, checklists, outbox
from incident_operator.domain.catalog import PageRoute, Resolution
from incident_operator.domain.comms import IncidentSummary
from incident_operator.domain.lifecycle import Phase
from incident_operator.errors import DeliveryRejected, IncidentOperatorError, TemporaryError

from .catalog import CatalogService
from .chat_channels import ChannelIndex
from .comms_conditions import DEGRADED, report_degraded
from .comms_delivery import DeliveryRun, Outlets, Result, status_rendering
from .comms_escalation import EscalationPagers, reaches
from .comms_facts import (
    CommsConfig,
    attempt_record,
    attempts_of,
    delivered_of,
    safe_error,
    slack_ids,
    summary_of,
)
from .keyed_locks import KeyedLocks
from .latest_bodies import LatestBodies

log = logging.getLogger(__name__)

MAX_PASSES = 5
"""Passes per sync: enough for channel -> status -> pin, bounded against a flapping object."""
KEY_RETRY_SECONDS = 10.0
"""When a team's routing key could not be read for a temporary reason."""


@dataclass(frozen=True)
class TeamReach:
    """The involved teams (service catalog): members to invite, channels to announce in."""

    members: frozenset[str] = frozenset()
    channels: tuple[str, ...] = ()
    mentions: Mapping[str, str] = field(default_factory=dict)
    """Team channel -> the team's Slack user group, mentioned in the announcement there."""


@dataclass
class Delivery:
    """What one sync did (for tests and logs)."""

    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class CommsService:
    def __init__(
        self,
        store: ResourceStore,
        clock: Clock,
        *,
        chat: Chat | None = None,
        pager: Pager | None = None,
        notifiers: Mapping[str, Notifier] | None = None,
        config: CommsConfig | None = None,
        channels: ChannelIndex | None = None,
        before_side_effect: Callable[[str, str], Awaitable[None]] | None = None,
        catalog: CatalogService | None = None,
    ) -> None:
        """``catalog``: pages go to the owning team's routing key where it has one (else
        ``pager``, the global key), and the involved teams' members are invited.
        ``channels``: which incident holds which channel (the watch-fed index), so a
        channel found by name is never taken over from another incident.
        ``before_side_effect(namespace, name)`` runs before a page or channel is opened
        (the deletion service holds the incident's finalizer there)."""
        self._channels = channels
        self._before_side_effect = before_side_effect
        self._store = store
        self._clock = clock
        self._chat = chat
        self._pager = pager
        self._catalog = catalog
        self._notifiers = dict(notifiers or {})
        self.config = config or CommsConfig()
        self._locks = KeyedLocks[tuple[str, str]]()
        self._bodies = LatestBodies()
        self._dirty: set[tuple[str, str]] = set()
        self._scheduled: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[Delivery]] = set()
        self._instructions: Callable[[str], Awaitable[str]] | None = None

    def attach_instructions(self, read: Callable[[str], Awaitable[str]]) -> None:
        """``read(checklist id)``: a checklist's private instructions, from its source
        (services/checklists.py), for the role holder's one direct message."""
        self._instructions = read

    @property
    def enabled(self) -> bool:
        return bool(self._chat or self._pager or self._notifiers or self._team_paging)

    @property
    def _team_paging(self) -> bool:
        return self._catalog is not None and self._catalog.pages

    @property
    def reachable(self) -> frozenset[outbox.Medium]:
        """The media configured here (chat, pager; webhooks are named per notifier)."""
        return frozenset(
            [outbox.Medium.WEBHOOK]
            + ([outbox.Medium.CHAT] if self._chat else [])
            + ([outbox.Medium.PAGER] if self._pager or self._team_paging else [])
        )

    async def sync(self, namespace: str, name: str, body: Body | None = None) -> Delivery:
        """Deliver what is owed; concurrent calls for one incident coalesce into one more pass.

        ``body``: the incident as a watch event brought it, if one did."""
        key = (namespace, name)
        if body is not None:
            self._bodies.seen(key, body)
        if self._locks.locked(key):
            self._dirty.add(key)
            return Delivery()
        total = Delivery()
        async with self._locks.hold(key):
            for _ in range(MAX_PASSES):
                self._dirty.discard(key)
                one = await self._sync_once(namespace, name)
                total.done += one.done
                total.failed += one.failed
                # Another pass when something changed underneath, or when this pass unlocked
                # the next step (channel -> status message -> pin) and nothing failed.
                if key not in self._dirty and (one.failed or not one.done):
                    break
            self._bodies.release(key)
        return total

    def forget(self, namespace: str, name: str) -> None:
        """The incident is gone."""
        self._bodies.forget((namespace, name))

    async def _sync_once(self, namespace: str, name: str) -> Delivery:
        delivery = Delivery()
        body = self._bodies.fresh((namespace, name))
        if body is None:
            body = await self._store.get_incident(namespace, name)
            if body is None:
                return delivery
            self._bodies.seen((namespace, name), body)
        try:
            incident = Incident.model_validate({k: v for k, v in body.items() if k != "status"})
            status = IncidentStatus.model_validate(body.get("status") or {})
        except ValidationError:
            return delivery
        if status.phase is None or status.timestamps.declared is None:
            return delivery  # the lifecycle has not accepted it yet
        severity_body = await self._store.get_severity(
            status.severity or incident.spec.severity_ref
        )
        try:
            severity = Severity.model_validate(severity_body) if severity_body else None
        except ValidationError:
            severity = None
        rotation = await self._rotation(incident, severity)
        summary = summary_of(incident, status, severity, self.config)
        pager, teams, route = self._pager, TeamReach(), None
        if self._catalog is not None:
            resolution = await self._catalog.resolve_incident(body)
            teams = TeamReach(
                await self._catalog.invitees(resolution) if self._chat else frozenset(),
                resolution.channels(),
                resolution.mentions(),
            )
            try:
                pager, route = await self._team_pager(status, resolution)
            except TemporaryError as exc:
                # The owning team's key is briefly unreadable: no page this pass (not on the
                # global key either: the wrong team would be woken), chat goes on, and the
                # pass is retried.
                log.warning("team routing key of %s/%s: %s", namespace, name, safe_error(exc))
                pager = None
                self._retry_at(namespace, name, exc.retry_after or KEY_RETRY_SECONDS)
        attempts = attempts_of(status)
        delivered = outbox.unconfirmed_page(delivered_of(status), attempts)
        texts, holders = await self._owed_instructions(status, summary, rotation, delivered)
        wanted = self._wanted(
            incident,
            status,
            severity,
            rotation,
            summary,
            pager=pager,
            teams=teams,
            instructions=holders,
        )
        now = self._clock.now()
        owed = outbox.owed(wanted, delivered, summary.severity)
        ops = await self._plan(body, owed, attempts, delivered)
        escalation = EscalationPagers(
            default=self._pager,
            incident=pager,
            route=route,
            catalog=self._catalog,
            namespace=namespace,
            status=status,
        )
        run = DeliveryRun(
            Outlets(self._chat, pager, self._notifiers, self._channels, self.before_opening),
            body,
            summary,
            wanted,
            delivered,
            rotation=rotation,
            escalated_to=status.response.escalated_to if status.response else [],
            page_route={"team": route.team, "route": route.route} if route else None,
            escalation=escalation,
            instructions=texts,
        )
        await self._deliver(run, ops, attempts, delivery, now)
        failing = any(outbox.degraded(attempts, m) for m in DEGRADED)
        shown = {c.type for c in existing_conditions(body)} & set(DEGRADED.values())
        if failing or shown:
            await report_degraded(self._store, body, attempts, now)
        return delivery

    async def _owed_instructions(
        self,
        status: IncidentStatus,
        summary: IncidentSummary,
        rotation: Body | None,
        delivered: outbox.Delivered,
    ) -> tuple[dict[str, str], tuple[tuple[str, str], ...]]:
        """(instruction id -> text, (instruction id, Slack id) owed): the checklists with
        instructions not sent yet whose role has a holder the rotation knows in Slack."""
        if self._instructions is None or self._chat is None or status.chat is None:
            return {}, ()
        tasks = [
            checklists.Task(t.number, t.key, t.role.value, t.text, t.source, t.instructions)
            for t in status.tasks
        ]
        texts: dict[str, str] = {}
        holders: list[tuple[str, str]] = []
        for source, role in checklists.instructed_checklists(tasks).items():
            iid = checklists.instruction_id(source)
            person = summary.roles.get(role)
            ids = slack_ids(rotation, [person]) if person else frozenset()
            if iid in delivered.instructed or not ids:
                continue
            text = await self._instructions(source)
            if text:
                texts[iid] = text
                holders.append((iid, next(iter(ids))))
        return texts, tuple(holders)

    @staticmethod
    async def _run_leading(
        run: DeliveryRun, ops: Sequence[outbox.Op], attempts: Mapping[str, outbox.Attempt]
    ) -> dict[str, Result | BaseException]:
        """Run the leading operations at once (``outbox.leading_together``): op key -> its
        result or what it raised, taken in order by ``_deliver``."""
        lead = ops[: outbox.leading_together(ops)]
        if len(lead) < 2:
            return {}
        outcomes = await asyncio.gather(
            *(run.execute(op, retry=op.key in attempts) for op in lead), return_exceptions=True
        )
        return {op.key: outcome for op, outcome in zip(lead, outcomes, strict=True)}

    @staticmethod
    async def _execute(
        run: DeliveryRun,
        op: outbox.Op,
        retry: bool,
        early: Mapping[str, Result | BaseException],
        base: outbox.Delivered,
    ) -> Result:
        """``op``'s result: run now, or taken from the leading run, its confirmation merged
        into what the operations before it confirmed (they all started from ``base``)."""
        outcome = early.get(op.key)
        if outcome is None:
            return await run.execute(op, retry=retry)
        if isinstance(outcome, BaseException):
            raise outcome
        return replace(outcome, delivered=outbox.merged(base, run.delivered, outcome.delivered))

    async def _deliver(
        self,
        run: DeliveryRun,
        ops: Sequence[outbox.Op],
        attempts: dict[str, outbox.Attempt],
        delivery: Delivery,
        now: datetime,
    ) -> None:
        """Run the due operations in order, each attempt recorded before its call."""
        body = run.body
        meta = body["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        blocked: set[outbox.Medium] = set()
        # Results and failure records not written yet ride with the next write (the next
        # attempt record, or the last write): one status write per creating operation and
        # none before a repeatable one (outbox.REPEATABLE). Every creating call still has its
        # attempt on record first, so a crash at any point repeats at most a repeatable call
        # and a retried creation looks up what it may have created.
        unwritten: Body = {}
        base = run.delivered
        early = await self._run_leading(run, ops, attempts)
        for op in ops:
            if op.medium in blocked:
                continue
            previous = attempts.get(op.key)
            count = (previous.attempts if previous else 0) + 1
            if op.kind not in outbox.REPEATABLE:
                attempt = {"outbox": {op.key: attempt_record(op.kind, count, now)}}
                await self._patch(body, await self._carry(body, unwritten, attempt))
                unwritten = {}
            try:
                result = await self._execute(run, op, previous is not None, early, base)
            except IncidentOperatorError as exc:
                delivery.failed.append(op.key)
                retry_after = exc.retry_after if isinstance(exc, TemporaryError) else None
                rejected = isinstance(exc, DeliveryRejected)
                wait = outbox.backoff(count, retry_after=retry_after, rejected=rejected, key=op.key)
                self._retry_at(namespace, name, wait.total_seconds())
                record = attempt_record(
                    op.kind, count, now, error=safe_error(exc), next_at=now + wait
                )
                attempts[op.key] = outbox.Attempt(op.kind, count, now + wait, safe_error(exc))
                unwritten = await self._carry(body, unwritten, {"outbox": {op.key: record}})
                log.warning(
                    "delivery %s of %s/%s failed (attempt %d, retry in %ss): %s",
                    op.key, namespace, name, count, int(wait.total_seconds()), safe_error(exc),
                )  # fmt: skip
                if not rejected or op.kind is outbox.OpKind.CREATE_CHANNEL:
                    blocked.add(op.medium)
                continue
            attempts.pop(op.key, None)
            delivery.done.append(op.key)
            done = {**result.status, "outbox": {op.key: None}}
            unwritten = await self._carry(body, unwritten, done)
            if result.metadata is not None:
                await self._patch(body, unwritten, result.metadata)
                unwritten = {}
            run.delivered = result.delivered
        if unwritten:
            await self._patch(body, unwritten)

    async def _plan(
        self,
        body: Body,
        owed: Sequence[outbox.Op],
        attempts: dict[str, outbox.Attempt],
        delivered: outbox.Delivered,
    ) -> tuple[outbox.Op, ...]:
        """The owed operations due now, after forgetting attempts at versions no longer owed
        (``outbox.superseded``): those are never retried, and kept they would stay in
        ``status.outbox`` for good and hold the medium degraded."""
        stale = outbox.superseded(owed, attempts, delivered.page_state, delivered.escalation_pages)
        if stale:
            await self._patch(body, {"outbox": dict.fromkeys(stale)})
            for key in stale:
                del attempts[key]
        return outbox.due(owed, attempts, self._clock.now())

    def _retry_at(self, namespace: str, name: str, seconds: float) -> None:
        """Sync again when the wait is over (the timer is the safety net after a restart)."""
        key = (namespace, name)
        if key in self._scheduled:
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._scheduled.pop(key, None)
            self.spawn(namespace, name)

        self._scheduled[key] = loop.call_later(seconds, fire)

    def spawn(self, namespace: str, name: str, body: Body | None = None) -> None:
        """Sync in the background: the caller (a watch event) does not wait for chat or pager."""
        if body is not None:
            self._bodies.seen((namespace, name), body)
        task = asyncio.create_task(self.sync(namespace, name))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Delivery]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("comms sync failed; the retry timer takes it again: %s", safe_error(exc))

    async def close(self) -> None:
        for handle in self._scheduled.values():
            handle.cancel()
        self._scheduled.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _wanted(
        self,
        incident: Incident,
        status: IncidentStatus,
        severity: Severity | None,
        rotation: Body | None,
        summary: IncidentSummary,
        *,
        pager: Pager | None,
        teams: TeamReach,
        instructions: tuple[tuple[str, str], ...] = (),
    ) -> outbox.Wanted:
        spec = incident.spec
        declared = status.timestamps.declared
        assert declared is not None
        people = [p for p in summary.roles.values() if p]
        people += list(status.response.escalated_to if status.response else [])
        chat_policy = severity.spec.chat if severity else None
        page = bool(pager and severity and severity.spec.paging.page)
        entries = tuple(
            outbox.Entry(e.key, e.type, e.message, e.author, e.at, e.source)
            for e in status.timeline
        )
        _, _, canonical = status_rendering(summary)
        wanted = outbox.Wanted(
            phase=Phase((status.phase or Phase.TRIAGE).value),
            acknowledged=status.timestamps.acknowledged is not None,
            chat=bool(self._chat and chat_policy and chat_policy.create_channel),
            channel_name=chat_render.channel_name(self.config.channel_template, summary, declared),
            # Shared channels hear only of incidents anyone may know about: a private
            # incident is told to its responders (its own private channel, the pager) only.
            announce=_announce(chat_policy.announce_channels, teams.channels)
            if self._chat and chat_policy and not spec.private
            else (),
            invite=slack_ids(rotation, people)
            | (teams.members if self._chat else frozenset())
            | frozenset(status.workflows.invitees if status.workflows else ()),
            topic=chat_render.topic(summary),
            status_render=canonical,
            entries=entries,
            archive_on_close=self.config.archive_on_close,
            page=page,
            notifiers=tuple(sorted(self._notifiers)) if not spec.private else (),
            declared=declared,
            reachable=self.reachable
            if pager is not None
            else self.reachable - {outbox.Medium.PAGER},
            mentions=teams.mentions,
            escalations=reaches(status, rotation),
            team_pages=self._team_paging,
            instructions=instructions,
            # Never a private incident's details to a named channel (as for announcements);
            # the workflow step refused it already, this holds if it turned private since.
            channel_posts=tuple(
                (post, record.channel)
                for post, record in sorted(status.workflows.channel_posts.items())
            )
            if self._chat and status.workflows and not spec.private
            else (),
        )
        if incident.metadata.get("deletionTimestamp"):
            return outbox.winding_down(wanted)  # deleted: resolve the page, archive
        return wanted

    async def _team_pager(
        self, status: IncidentStatus, resolution: Resolution
    ) -> tuple[Pager | None, PageRoute | None]:
        """The pager for this pass: an open page keeps the key it was triggered with (its
        acknowledge and resolve must reach that alert), else the owning team's, else the
        global one."""
        assert self._catalog is not None
        page = status.pager
        if page is not None and page.state in outbox.OPEN_PAGE_STATES:
            if page.team is None:
                return self._pager, None
            kept = await self._catalog.recorded_paging(page.team, page.route)
            if kept.pager is not None:
                return kept.pager, kept.route
        paging = await self._catalog.paging(resolution)
        if paging.pager is None:
            return self._pager, None
        return paging.pager, paging.route

    async def before_opening(self, op: outbox.Op, body: Body) -> None:
        """Before a page or a channel exists: the incident's finalizer is held first."""
        if op.kind in outbox.OPENING and self._before_side_effect is not None:
            meta = body["metadata"]
            await self._before_side_effect(str(meta["namespace"]), str(meta["name"]))

    async def _rotation(self, incident: Incident, severity: Severity | None) -> Body | None:
        name = incident.spec.rotation_ref or (severity.spec.rotation_ref if severity else None)
        if not name or self._chat is None:
            return None
        return await self._store.get_rotation(str(incident.metadata.get("namespace", "")), name)

    async def _patch(self, body: Body, status: Body, metadata: Body | None = None) -> None:
        meta = body["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        written = await self._store.patch_incident(
            namespace, name, status=status, metadata=metadata
        )
        self._bodies.wrote((namespace, name), written)
        if self._channels is not None:
            self._channels.wrote(written)

    async def _carry(self, body: Body, earlier: Body, later: Body) -> Body:
        """What is still to be written after ``later``: both in one patch where one merge
        patch can say both, else ``earlier`` is written now and ``later`` waits."""
        if not earlier:
            return later
        combined = compose(earlier, later)
        if combined is None:
            await self._patch(body, earlier)
            return later
        return combined


def _announce(severity_channels: Sequence[str], team_channels: Sequence[str]) -> tuple[str, ...]:
    """The Severity's announcement channels, then the involved teams' own (each once)."""
    seen = {c.lstrip("#") for c in severity_channels}
    extra = [c for c in team_channels if c.lstrip("#") not in seen]
    return (*severity_channels, *extra)
