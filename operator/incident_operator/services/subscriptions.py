"""Use case: tell the status page's subscribers about each public update, once each.

On every tick (handlers/subscriptions.py) for one incident: build the page's record of it
(services/status_page.py: the same reading the page uses, so what is sent is what the page
shows), join its Severity's publication, ask the domain (domain/subscriptions.py) which
notifications are owed, and deliver them through the incident's outbox:

1. The attempts of a batch are recorded in ``status.outbox`` (one status write) before any
   call, keyed ``subscriber/<delivery key>``.
2. Each is sent — signed webhook POST or e-mail — with the delivery key as Idempotency-Key
   or Message-ID, so a repeat after an unconfirmed attempt carries the same key.
3. One status write then confirms: the delivered keys go to
   ``status.subscriptions.delivered``, their attempts leave the outbox; failures keep their
   attempt with a backoff (``outbox.backoff``: Retry-After obeyed, refusals retried slowly).

A delivery is therefore never repeated after it was confirmed, across restarts and
re-deliveries of the watch, and at most repeated once — under the same key — when the
process died between the call and the confirming write (a mail server cannot be asked
whether it already took a message). The mail server or webhook being down stops the batch
for that medium: the rest waits for the next tick instead of each waiting for its timeout.

Nothing is read for an incident that has no public update or is private; its Severity and
the subscriber list (cached by the adapter) only then.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from incident_operator.adapters.ports import Body, Clock, ResourceStore, TokenSource
from incident_operator.adapters.subscription_ports import Mailer, SubscriberList, SubscriberWebhook
from incident_operator.api.v1alpha1.convert import existing_conditions
from incident_operator.api.v1alpha1.incident import IncidentStatus
from incident_operator.domain import outbox
from incident_operator.domain import subscriptions as subs
from incident_operator.domain.public_draft import draft
from incident_operator.domain.status_page import IncidentRecord, Site, public_service
from incident_operator.errors import DeliveryRejected, IncidentOperatorError, TemporaryError

from .comms_conditions import SUBSCRIBERS_DEGRADED, report_failing
from .comms_facts import attempt_record, attempts_of, safe_error
from .status_page import StatusPageIndex, incident_record, severity_publication

log = logging.getLogger(__name__)

BATCH = 16
"""Notifications attempted per tick and incident (two status writes per batch)."""
MAX_PENDING = 32
"""Unconfirmed subscriber attempts kept per incident: past this, nothing new is started (the
outbox holds at most 128 records, shared with chat and the pager)."""
PREFIX = "subscriber/"


@dataclass
class Delivery:
    """What one tick did (for tests and logs)."""

    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SubscriptionSettings:
    site: Site
    """The page (its name and public URL: links in e-mails are absolute)."""
    key: TokenSource
    """Signs unsubscribe links and confirm tokens."""
    id_key: bytes = b""
    """The status page's id key: the same opaque incident ids as the page."""

    @property
    def base(self) -> str:
        return subs.base_url(self.site.url)


def _kind(subscriber: subs.Subscriber) -> outbox.OpKind:
    if subscriber.kind is subs.Kind.EMAIL:
        return outbox.OpKind.SUBSCRIBER_EMAIL
    return outbox.OpKind.SUBSCRIBER_WEBHOOK


def _op(notification: subs.Notification) -> outbox.Op:
    return outbox.Op(PREFIX + notification.key, _kind(notification.subscriber))


class SubscriptionService:
    def __init__(
        self,
        store: ResourceStore,
        subscribers: SubscriberList,
        clock: Clock,
        settings: SubscriptionSettings,
        *,
        mailer: Mailer | None = None,
        webhook: SubscriberWebhook | None = None,
        page: StatusPageIndex | None = None,
    ) -> None:
        """``page``: the status page's index, whose catalog names the components an incident
        is shown on (the same components, titles and per-component choices as the page);
        None: every incident is on the component named after its service."""
        self._page = page
        self._store = store
        self._subscribers = subscribers
        self._clock = clock
        self._settings = settings
        self._mailer = mailer
        self._webhook = webhook

    @property
    def subscribers(self) -> SubscriberList:
        """The list this service reads (the web endpoints write it: one cache for both)."""
        return self._subscribers

    @property
    def mailer(self) -> Mailer | None:
        return self._mailer

    @property
    def settings(self) -> SubscriptionSettings:
        return self._settings

    @property
    def kinds(self) -> frozenset[subs.Kind]:
        """What this operator can deliver (a kind without its adapter is never owed)."""
        return frozenset(
            ([subs.Kind.EMAIL] if self._mailer else [])
            + ([subs.Kind.WEBHOOK] if self._webhook else [])
        )

    async def tick(self, namespace: str, name: str, seen: Body | None = None) -> Delivery:
        """Deliver what this incident owes its subscribers now. ``seen``: the incident as the
        watch brought it; when it owes nothing, nothing more is read. Anything owed is
        decided again on a fresh read, so a confirmed delivery is never sent again from a
        body older than the write that confirmed it."""
        delivery = Delivery()
        if seen is not None:
            early = await self._plan(seen)
            if early is None or not self._owes(*early):
                return delivery
        body = await self._store.get_incident(namespace, name)
        plan = await self._plan(body) if body is not None else None
        if body is None or plan is None:
            return delivery
        record, candidates, status = plan
        delivered = set(status.subscriptions.delivered if status.subscriptions else [])
        relevant = subs.still_relevant(delivered, candidates)
        owed = [n for n in candidates if n.key not in delivered]
        attempts = attempts_of(status)
        now = self._clock.now()
        pending = sum(1 for k in attempts if k.startswith(PREFIX))
        batch = [
            n
            for n in owed
            if outbox.due([_op(n)], attempts, now)
            and (PREFIX + n.key in attempts or pending < MAX_PENDING)
        ][:BATCH]
        if not batch:
            if set(relevant) != delivered:  # forget keys that can never be owed again
                await self._patch(body, {"subscriptions": {"delivered": list(relevant)}})
            return delivery
        counts = {
            n.key: (a.attempts if (a := attempts.get(PREFIX + n.key)) else 0) + 1 for n in batch
        }
        body = await self._patch(
            body,
            {
                "outbox": {
                    PREFIX + n.key: attempt_record(_kind(n.subscriber), counts[n.key], now)
                    for n in batch
                }
            },
        )
        results = await self._deliver(batch, attempts, counts, now, delivery)
        confirmed = sorted(set(relevant) | set(delivery.sent))
        body = await self._patch(
            body, {"subscriptions": {"delivered": confirmed}, "outbox": results}
        )
        await self._report(body, now)
        if delivery.sent:
            log.info(
                "incident %s: %d subscriber notification(s) sent, %d owed",
                record.id,
                len(delivery.sent),
                len(owed) - len(delivery.sent),
            )
        return delivery

    async def _deliver(
        self,
        batch: list[subs.Notification],
        attempts: dict[str, outbox.Attempt],
        counts: dict[str, int],
        now: datetime,
        delivery: Delivery,
    ) -> dict[str, Body | None]:
        """Send each notification of the batch; the outbox records to write after (None:
        confirmed, or never attempted). A medium whose server is down (a temporary error)
        is not tried again in this batch."""
        results: dict[str, Body | None] = {}
        down: set[subs.Kind] = set()
        for n in batch:
            op_key = PREFIX + n.key
            kind = n.subscriber.kind
            if kind in down:  # the server is down: this one waits with the rest
                previous = attempts.get(op_key)
                results[op_key] = (
                    None  # never attempted: no record
                    if previous is None
                    else attempt_record(
                        _kind(n.subscriber),
                        previous.attempts,
                        now,
                        error=previous.error,
                        next_at=previous.next_at,
                    )
                )
                continue
            try:
                await self._send(n, now)
            except IncidentOperatorError as exc:
                delivery.failed.append(n.key)
                if isinstance(exc, TemporaryError):
                    down.add(kind)
                retry_after = exc.retry_after if isinstance(exc, TemporaryError) else None
                count = counts[n.key]
                wait = outbox.backoff(
                    count,
                    retry_after=retry_after,
                    rejected=isinstance(exc, DeliveryRejected),
                    key=op_key,
                )
                results[op_key] = attempt_record(
                    _kind(n.subscriber), count, now, error=safe_error(exc), next_at=now + wait
                )
                log.warning(
                    "subscriber notification %s (%s) failed: %s", n.key, kind.value, safe_error(exc)
                )
                continue
            results[op_key] = None
            delivery.sent.append(n.key)
        return results

    def _owes(
        self,
        record: IncidentRecord,
        candidates: tuple[subs.Notification, ...],
        status: IncidentStatus,
    ) -> bool:
        """Anything to send now (owed and not backing off) or to forget."""
        delivered = set(status.subscriptions.delivered if status.subscriptions else [])
        if set(subs.still_relevant(delivered, candidates)) != delivered:
            return True
        attempts, now = attempts_of(status), self._clock.now()
        return any(
            n.key not in delivered and outbox.due([_op(n)], attempts, now) for n in candidates
        )

    async def _plan(
        self, body: Body
    ) -> tuple[IncidentRecord, tuple[subs.Notification, ...], IncidentStatus] | None:
        """The page's record of the incident, every notification it calls for now (owed or
        delivered), and its status; None when it calls for none and remembers none."""
        record = incident_record(body, self._settings.id_key)
        if record is None or record.private:
            return None
        try:
            status = IncidentStatus.model_validate(body.get("status") or {})
        except ValidationError:
            return None
        remembered = bool(status.subscriptions and status.subscriptions.delivered)
        if not record.public_updates and not remembered:
            return None
        found = await self._store.get_severity(record.severity) if record.severity else None
        publication = severity_publication(found or {})
        namespace = str(body["metadata"]["namespace"])
        catalog = self._page.catalog() if self._page is not None else None
        record = dataclasses.replace(
            record,
            impact=publication.impact,
            published=publication.publish,
            components=catalog.components_of(namespace, (record.service, *record.further_services))
            if catalog is not None
            else None,
        )
        drafted = draft(
            publication.draft, public_service(record), publication.impact, record.phase.value
        )
        record = dataclasses.replace(record, drafted_title=drafted.title)
        subscribers = [s for s in await self._subscribers.load() if s.kind in self.kinds]
        candidates = subs.candidates(record, subscribers, self._clock.now())
        if not candidates and not remembered:
            return None
        return record, candidates, status

    async def _send(self, notification: subs.Notification, now: datetime) -> None:
        settings = self._settings
        subscriber = notification.subscriber
        key = settings.key.current() or b""
        if not key:
            raise TemporaryError("the subscription key cannot be read")
        link = subs.unsubscribe_url(settings.base, key, subscriber.id)
        if subscriber.kind is subs.Kind.EMAIL:
            assert self._mailer is not None
            await self._mailer.send(
                subs.update_email(notification, settings.site, unsubscribe_url=link)
            )
            return
        assert self._webhook is not None
        payload = subs.webhook_payload(notification, settings.site, unsubscribe_url=link, now=now)
        await self._webhook.post(
            subscriber.address,
            subscriber.secret.encode(),
            json.dumps(payload, sort_keys=True).encode(),
            event=subs.EVENT,
            key=notification.key,
        )

    async def _report(self, body: Body, now: datetime) -> None:
        """SubscribersDegraded: True (with a Warning Event) while a subscriber delivery keeps
        failing, False once none does; never written for an incident that never failed."""
        try:
            status = IncidentStatus.model_validate(body.get("status") or {})
        except ValidationError:
            return
        failing = [
            (key, a)
            for key, a in sorted(attempts_of(status).items())
            if key.startswith(PREFIX) and a.attempts >= outbox.DEGRADED_AFTER and a.error
        ]
        shown = any(c.type == SUBSCRIBERS_DEGRADED for c in existing_conditions(body))
        if failing or shown:
            await report_failing(
                self._store, body, {SUBSCRIBERS_DEGRADED: ("subscriber", failing)}, now
            )

    async def _patch(self, body: Body, status: Body) -> Body:
        meta = body["metadata"]
        return await self._store.patch_incident(meta["namespace"], meta["name"], status=status)
