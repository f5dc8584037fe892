"""Use case: stakeholder updates on the Severity's cadence, delivered once each.

On every tick (handlers/stakeholders.py) for one open incident: read the incident fresh, ask
the domain (domain/stakeholders.py) which update is owed now, and deliver it through the
outbox, as the comms service delivers everything else:

1. An update is *opened* with one status write (``status.stakeholders``: its number, anchor,
   phase and text): from then on every target gets those same words under the same key
   (incident uid + number), retries and restarts included.
2. Each target's delivery has its attempt recorded in ``status.outbox`` before the call, and
   its confirmation (``status.stakeholders.delivered``) after it. A delivery found on record
   but unconfirmed (the process died between the post and the status write) is looked up
   first: the channel's message carrying the key is found and not posted again; a webhook
   gets the same ``Idempotency-Key`` (the receiver's to drop, as for every notification).
3. The next update supersedes what the previous one still owed (no backlog).

On whose authority: the stakeholder channels are the Severity's (cluster-scoped, written by
cluster admins), never the incident's, so a namespace tenant cannot make the operator post
anywhere else. Webhooks are the operator's own configured notifiers. A private incident's
updates go to no webhook, and to the channels only where the Severity says so
(``includePrivate``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from pydantic import ValidationError

from incident_operator.adapters.comms_ports import Chat, Notifier
from incident_operator.adapters.ports import Body, Clock, ResourceStore
from incident_operator.api.v1alpha1.incident import Incident, IncidentStatus, StakeholderStatus
from incident_operator.api.v1alpha1.severity import Severity, Stakeholders
from incident_operator.domain import chat_render, outbox, stakeholders, timeline
from incident_operator.domain.comms import StakeholderNote
from incident_operator.domain.durations import parse_duration
from incident_operator.domain.lifecycle import Phase
from incident_operator.domain.times import iso
from incident_operator.errors import DeliveryRejected, IncidentOperatorError, TemporaryError

from .comms_facts import CommsConfig, attempt_record, attempts_of, safe_error, summary_of

log = logging.getLogger(__name__)

SOURCE = "operator"
REMINDER = "stakeholder-reminder"
SENT = "stakeholder-update"
EVENT = "stakeholder-update"
"""The webhook event of a stakeholder update."""
WEBHOOK_PREFIX = "webhook/"


@dataclass
class Delivery:
    """What one tick did (for tests and logs)."""

    opened: int = 0
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Plan:
    incident: Incident
    status: IncidentStatus
    severity: Severity
    targets: tuple[str, ...]
    decision: stakeholders.Decision
    now: datetime

    @property
    def record(self) -> StakeholderStatus:
        return self.status.stakeholders or StakeholderStatus()

    @property
    def keys(self) -> set[str]:
        return {e.key for e in self.status.timeline if e.key}

    @property
    def owes(self) -> bool:
        """Anything to write or send: an update, a reminder, a due time, a delivery."""
        decision, record = self.decision, self.record
        reminder = decision.reminder
        return (
            decision.update is not None
            or (reminder is not None and reminder.key not in self.keys)
            or (record.sequence > 0 and record.next_due_at != decision.next_due)
            or (record.sequence > 0 and any(t not in record.delivered for t in self.targets))
        )


def cadence_of(policy: Stakeholders) -> stakeholders.Cadence | None:
    if policy.update_every is None:
        return None
    return stakeholders.Cadence(
        parse_duration(policy.update_every), parse_duration(policy.remind_before)
    )


def sent_of(status: IncidentStatus) -> stakeholders.Sent:
    record = status.stakeholders or StakeholderStatus()
    return stakeholders.Sent(record.sequence, record.anchor, record.phase, record.handled_request)


class StakeholderService:
    def __init__(
        self,
        store: ResourceStore,
        clock: Clock,
        *,
        chat: Chat | None = None,
        notifiers: Mapping[str, Notifier] | None = None,
        config: CommsConfig | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._chat = chat
        self._notifiers = dict(notifiers or {})
        self._config = config or CommsConfig()

    @property
    def enabled(self) -> bool:
        return self._chat is not None or bool(self._notifiers)

    def targets(self, policy: Stakeholders, private: bool) -> tuple[str, ...]:
        """Where this Severity's updates of this incident go, as this operator can reach."""
        out: list[str] = []
        if self._chat is not None and (not private or policy.include_private):
            out += [f"#{c.lstrip('#')}" for c in policy.channels]
        if policy.webhooks and not private:
            out += [f"{WEBHOOK_PREFIX}{name}" for name in sorted(self._notifiers)]
        return tuple(dict.fromkeys(out))

    async def tick(self, namespace: str, name: str, seen: Body | None = None) -> Delivery:
        """Open the update owed now, remind the lead, deliver what the latest update owes.

        ``seen``: the incident as the watch last brought it; when it owes nothing, nothing is
        read. Anything owed is decided again on a fresh read, so an update is never opened
        twice from a body older than the write that opened it."""
        delivery = Delivery()
        if seen is not None:
            early = await self._plan(seen)
            if early is None or not early.owes:
                return delivery
        body = await self._store.get_incident(namespace, name)
        plan = await self._plan(body) if body is not None else None
        if body is None or plan is None or not plan.owes:
            return delivery
        decision, record = plan.decision, plan.record
        if decision.reminder is not None and decision.reminder.key not in plan.keys:
            reminder = decision.reminder
            entry = timeline.entry(
                reminder.at,
                REMINDER,
                stakeholders.reminder_message(reminder),
                source=SOURCE,
                key=reminder.key,
            )
            await self._store.append_timeline(namespace, name, [entry])
        if decision.update is not None:
            record = self._opened(plan, decision.update)
            body = await self._open(body, record, plan)
            delivery.opened = record.sequence
        elif record.sequence and record.next_due_at != decision.next_due:
            body = await self._patch(body, {"stakeholders": {"nextDueAt": _iso(decision.next_due)}})
        if record.sequence:
            await self._deliver(body, plan, record, delivery)
        return delivery

    async def _plan(self, body: Body) -> _Plan | None:
        """The incident's facts and the domain's decision now; None: no updates for it.

        The Severity first: an incident whose Severity has no cadence (most) costs a cached
        read and no parsing of its status."""
        raw_status = body.get("status") or {}
        name = raw_status.get("severity") or (body.get("spec") or {}).get("severityRef")
        severity = await self._severity(str(name or ""))
        if severity is None or severity.spec.stakeholders.update_every is None:
            return None
        try:
            incident = Incident.model_validate({k: v for k, v in body.items() if k != "status"})
            status = IncidentStatus.model_validate(raw_status)
        except ValidationError:
            return None
        declared = status.timestamps.declared
        if status.phase is None or declared is None:
            return None  # the lifecycle has not accepted it yet
        policy = severity.spec.stakeholders
        cadence = cadence_of(policy)
        targets = self.targets(policy, incident.spec.private)
        if cadence is None or not targets:
            return None
        now = self._clock.now()
        decision = stakeholders.decide(
            Phase(status.phase.value),
            declared=declared,
            cadence=cadence,
            sent=sent_of(status),
            requested_at=incident.spec.stakeholder_update.requested_at,
            now=now,
        )
        return _Plan(incident, status, severity, targets, decision, now)

    async def _severity(self, name: str) -> Severity | None:
        found = await self._store.get_severity(name) if name else None
        try:
            return Severity.model_validate(found) if found else None
        except ValidationError:
            return None

    def _opened(self, plan: _Plan, update: stakeholders.Update) -> StakeholderStatus:
        """The status record of the update opened now (what every target will get)."""
        incident, status, severity = plan.incident, plan.status, plan.severity
        spec = incident.spec
        phase = (status.phase or Phase.TRIAGE).value
        entries = [(e.type, e.at, e.message) for e in status.timeline]
        facts = stakeholders.Facts(
            incident=f"{incident.metadata.get('namespace', '')}/{incident.metadata.get('name')}",
            title=spec.title,
            severity=severity.spec.display_name,
            phase=phase,
            impact=stakeholders.impact_text(
                spec.public.impact, severity.spec.status_page.impact.value, spec.service
            ),
            doing=stakeholders.doing_text(spec.stakeholder_update.text, entries, phase),
            sequence=update.sequence,
            next_due=plan.decision.next_due,
            final=update.final,
        )
        return StakeholderStatus(
            sequence=update.sequence,
            anchor=update.anchor,
            phase=phase,
            text=stakeholders.render(facts),
            delivered=[],
            handled_request=spec.stakeholder_update.requested_at
            if update.early
            else plan.record.handled_request,
            last_sent_at=plan.now,
            next_due_at=plan.decision.next_due,
        )

    async def _open(self, body: Body, record: StakeholderStatus, plan: _Plan) -> Body:
        """One status write opens the update; older deliveries still owed are dropped."""
        stale = stakeholders.stale_attempts(list(plan.status.outbox), record.sequence)
        patch: Body = {
            "stakeholders": record.model_dump(mode="json", by_alias=True),
            **({"outbox": dict.fromkeys(stale)} if stale else {}),
        }
        body = await self._patch(body, patch)
        uid = str(body["metadata"].get("uid", ""))
        key = stakeholders.update_key(uid, record.sequence)
        if key not in plan.keys:
            assert record.last_sent_at is not None
            entry = timeline.entry(
                record.last_sent_at,
                SENT,
                f"Stakeholder update #{record.sequence} opened for sending",
                source=SOURCE,
                key=key,
            )
            meta = body["metadata"]
            await self._store.append_timeline(meta["namespace"], meta["name"], [entry])
        return body

    async def _deliver(
        self, body: Body, plan: _Plan, record: StakeholderStatus, delivery: Delivery
    ) -> None:
        """Every target the latest update has not reached yet, each attempt on record first."""
        targets, now = plan.targets, plan.now
        attempts = attempts_of(IncidentStatus.model_validate(body.get("status") or {}))
        delivered = list(record.delivered)
        owed = [t for t in targets if t not in delivered]
        if not owed:
            return
        uid = str(body["metadata"].get("uid", ""))
        key = stakeholders.update_key(uid, record.sequence)
        note = StakeholderNote(
            record.sequence, record.text, record.next_due_at, record.phase in ("resolved", "closed")
        )
        for target in owed:
            op_key = stakeholders.target_key(record.sequence, target)
            previous = attempts.get(op_key)
            if previous is not None and outbox.due([_op(op_key, target)], attempts, now) == ():
                continue  # backing off
            count = (previous.attempts if previous else 0) + 1
            kind = _kind(target)
            body = await self._patch(body, {"outbox": {op_key: attempt_record(kind, count, now)}})
            try:
                await self._send(target, key, note, plan, retry=previous is not None)
            except IncidentOperatorError as exc:
                delivery.failed.append(target)
                retry_after = exc.retry_after if isinstance(exc, TemporaryError) else None
                wait = outbox.backoff(
                    count,
                    retry_after=retry_after,
                    rejected=isinstance(exc, DeliveryRejected),
                    key=op_key,
                )
                failed = attempt_record(kind, count, now, error=safe_error(exc), next_at=now + wait)
                body = await self._patch(body, {"outbox": {op_key: failed}})
                log.warning("stakeholder update %s to %s failed: %s", key, target, safe_error(exc))
                continue
            delivered.append(target)
            delivery.done.append(target)
            body = await self._patch(
                body, {"stakeholders": {"delivered": delivered}, "outbox": {op_key: None}}
            )
        if delivery.done and all(t in delivered for t in targets):
            await self._store.emit_event(
                body,
                "StakeholderUpdateSent",
                f"Stakeholder update #{record.sequence} sent to {', '.join(targets)}",
            )

    async def _send(
        self,
        target: str,
        key: str,
        note: StakeholderNote,
        plan: _Plan,
        *,
        retry: bool,
    ) -> None:
        if target.startswith(WEBHOOK_PREFIX):
            notifier = self._notifiers[target.removeprefix(WEBHOOK_PREFIX)]
            summary = summary_of(plan.incident, plan.status, plan.severity, self._config)
            await notifier.notify(
                replace(summary, stakeholder=note), event=EVENT, idempotency_key=key
            )
            return
        assert self._chat is not None
        if retry:  # an unconfirmed attempt may have posted it: look it up by its key
            found = await self._chat.find_channel(target.lstrip("#"))
            if found is not None and await self._chat.find_message(found.id, key):
                return
        await self._chat.post(target, chat_render.escape(note.text), idempotency_key=key)

    async def _patch(self, body: Body, status: Body) -> Body:
        meta = body["metadata"]
        return await self._store.patch_incident(meta["namespace"], meta["name"], status=status)


def _kind(target: str) -> outbox.OpKind:
    if target.startswith(WEBHOOK_PREFIX):
        return outbox.OpKind.STAKEHOLDER_NOTIFY
    return outbox.OpKind.STAKEHOLDER_POST


def _op(key: str, target: str) -> outbox.Op:
    return outbox.Op(key, _kind(target), target)


def _iso(at: datetime | None) -> str | None:
    return iso(at) if at is not None else None
