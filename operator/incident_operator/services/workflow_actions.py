"""Use case: the workflow steps that send a card, start a conference bridge or call a Team's
webhook (the rules are domain/workflow_actions.py's; services/workflows.py dispatches here).

Exactly once, as for every step (services/workflows.py): the effect is owed in the
incident's status with the step's done key, delivered afterwards, and keyed so a repeat
after a crash finds it done.

- A card is recorded in ``status.workflows.cards`` under its post's id *before* the post's
  timeline entry is written, so comms never posts the message without its card.
- A bridge is recorded in ``status.conference`` with the done keys; its timeline entry
  (``workflow-conference``, posted once by comms) carries the step key.
- A webhook delivery is owed in ``status.workflows.webhooks`` with the done keys and
  delivered by :class:`WorkflowWebhooks` as the stakeholder and subscriber webhooks are:
  its attempt in ``status.outbox`` before the call, the same ``Idempotency-Key`` (incident
  uid and step key) on every attempt, backoff after a failure (``outbox.backoff``), the
  confirmation after it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from incident_operator.adapters.catalog_port import TeamWebhooks
from incident_operator.adapters.ports import Body, Clock, ResourceStore
from incident_operator.api.v1alpha1.incident import IncidentStatus
from incident_operator.domain import outbox
from incident_operator.domain import workflow_actions as actions
from incident_operator.domain import workflows as wf
from incident_operator.domain.comms import IncidentSummary
from incident_operator.domain.times import iso
from incident_operator.errors import (
    DeliveryRejected,
    IncidentOperatorError,
    PermanentError,
    TemporaryError,
)

from .catalog import CatalogService
from .comms_facts import attempt_record, attempts_of, safe_error

log = logging.getLogger(__name__)

CONFERENCE = "workflow-conference"
"""The timeline entry of a started bridge (posted to the incident's channel once)."""
WEBHOOK_EVENT = "workflow"
"""X-Incident-Operator-Event of a sendWebhook delivery."""
OUTBOX_PREFIX = "workflow-webhook/"
MAX_CARDS = 16
MAX_WEBHOOKS = 16


def post_id(step: wf.Step) -> str:
    """The id of a postMessage step's post: its timeline entry's (outbox.Entry.id) and its
    named-channel post's (status.workflows.channelPosts)."""
    return wf.short_hash(step.key)


def _workflows(current: Mapping[str, Any]) -> Mapping[str, Any]:
    return ((current.get("status") or {}).get("workflows")) or {}


async def record_card(
    store: ResourceStore, current: Mapping[str, Any], step: wf.Step, values: Mapping[str, str]
) -> None:
    """Render the step's card and record it under its post's id (before the post exists)."""
    card = step.action.card
    if card is None:
        return
    rendered = actions.render_card(card, values)
    if isinstance(rendered, str):
        raise PermanentError(rendered)
    recorded = _workflows(current).get("cards") or {}
    ident = post_id(step)
    if ident in recorded:
        return
    if len(recorded) >= MAX_CARDS:
        raise PermanentError(f"this incident has {MAX_CARDS} workflow cards already")
    meta = current["metadata"]
    cards = {ident: actions.card_record(rendered)}
    await store.patch_incident(
        str(meta["namespace"]), str(meta["name"]), status={"workflows": {"cards": cards}}
    )


def conference(
    current: Mapping[str, Any], step: wf.Step, ref: wf.WorkflowRef, values: Mapping[str, str]
) -> tuple[Body | None, str]:
    """(``status.conference`` to write, or None when a bridge is on record already; its URL)."""
    recorded = (current.get("status") or {}).get("conference") or {}
    if recorded.get("url"):
        return None, str(recorded["url"])
    url = actions.conference_url(step.action.url_template, values)
    if isinstance(url, tuple):
        raise PermanentError(url[0])
    return {"url": url, "workflow": f"{ref.display} {step.action.name}"[:256]}, url


async def owe_webhook(
    catalog: CatalogService | None,
    current: Mapping[str, Any],
    step: wf.Step,
    ref: wf.WorkflowRef,
    owed: Mapping[str, Body],
) -> tuple[str, Body] | None:
    """The delivery a sendWebhook step owes (id, ``status.workflows.webhooks`` entry), on the
    workflow's authority; None when it is owed or delivered already."""
    action = step.action
    meta = current["metadata"]
    recorded = _workflows(current).get("webhooks") or {}
    ident = wf.short_hash(step.key)
    if ident in recorded or ident in owed:
        return None
    if len(recorded) + len(owed) >= MAX_WEBHOOKS:
        raise PermanentError(f"this incident owes {MAX_WEBHOOKS} workflow webhooks already")
    if catalog is None:
        raise PermanentError("no catalog: Team webhooks cannot be read")
    target = actions.webhook_target(
        await catalog.team(action.team),
        action.team,
        action.webhook,
        namespaced=bool(ref.namespace),
        namespace=str(meta["namespace"]),
        private=bool((current.get("spec") or {}).get("private", False)),
    )
    if isinstance(target, str):
        raise PermanentError(target)
    return ident, {
        "team": target.team,
        "webhook": target.name,
        "workflow": f"{ref.display} {action.name}"[:256],
        "namespaced": bool(ref.namespace),
        "key": f"{meta.get('uid', '')}/{step.key}"[:512],
        "state": "owed",
    }


def _attempts(body: Mapping[str, Any]) -> dict[str, outbox.Attempt]:
    """The outbox's attempt records of ``body`` (``status.outbox``)."""
    raw = (body.get("status") or {}).get("outbox") or {}
    return attempts_of(IncidentStatus.model_validate({"outbox": raw}))


@dataclass
class Sent:
    """What one delivery pass did (for tests and logs)."""

    delivered: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class WorkflowWebhooks:
    """Delivers the webhooks the sendWebhook steps owe an incident, each once."""

    def __init__(
        self,
        store: ResourceStore,
        clock: Clock,
        catalog: CatalogService | None,
        webhooks: TeamWebhooks | None,
        summary: Callable[[Mapping[str, Any]], Awaitable[IncidentSummary]],
    ) -> None:
        self._store = store
        self._clock = clock
        self._catalog = catalog
        self._webhooks = webhooks
        self._summary = summary

    @property
    def enabled(self) -> bool:
        """Whether Team webhooks' signing secrets can be read (a catalog Secret namespace)."""
        return self._catalog is not None and self._webhooks is not None

    @staticmethod
    def owed(body: Mapping[str, Any]) -> list[str]:
        recorded = _workflows(body).get("webhooks") or {}
        return sorted(k for k, v in recorded.items() if (v or {}).get("state") != "delivered")

    def due(self, body: Mapping[str, Any]) -> bool:
        """Whether a delivery ``body`` owes is due now (none backing off): worth a fresh read."""
        owed = self.owed(body)
        if not owed:
            return False
        attempts = _attempts(body)
        ops = [outbox.Op(f"{OUTBOX_PREFIX}{i}", outbox.OpKind.WORKFLOW_WEBHOOK, i) for i in owed]
        return bool(outbox.due(ops, attempts, self._clock.now()))

    async def deliver(self, body: Mapping[str, Any]) -> Sent:
        """Every owed delivery whose backoff has passed: attempt on record, POST, confirm."""
        sent = Sent()
        now = self._clock.now()
        attempts = _attempts(body)
        for ident in self.owed(body):
            key = f"{OUTBOX_PREFIX}{ident}"
            previous = attempts.get(key)
            op = outbox.Op(key, outbox.OpKind.WORKFLOW_WEBHOOK, ident)
            if previous is not None and not outbox.due([op], attempts, now):
                continue  # backing off
            count = (previous.attempts if previous else 0) + 1
            kind = outbox.OpKind.WORKFLOW_WEBHOOK
            body = await self._patch(body, {"outbox": {key: attempt_record(kind, count, now)}})
            record = dict(_workflows(body).get("webhooks", {}).get(ident) or {})
            try:
                await self._send(body, record)
            except IncidentOperatorError as exc:
                sent.failed.append(ident)
                retry_after = exc.retry_after if isinstance(exc, TemporaryError) else None
                rejected = not isinstance(exc, TemporaryError)
                wait = outbox.backoff(count, retry_after=retry_after, rejected=rejected, key=key)
                failed = attempt_record(kind, count, now, error=safe_error(exc), next_at=now + wait)
                body = await self._patch(body, {"outbox": {key: failed}})
                log.warning("workflow webhook %s failed: %s", ident, safe_error(exc))
                continue
            sent.delivered.append(ident)
            done = {"state": "delivered", "deliveredAt": iso(self._clock.now())}
            body = await self._patch(
                body, {"workflows": {"webhooks": {ident: done}}, "outbox": {key: None}}
            )
        return sent

    async def _send(self, body: Mapping[str, Any], record: Mapping[str, Any]) -> None:
        """POST once more on the step's key, the authority checked again (the Team may no
        longer admit the namespace, or the incident may have turned private)."""
        if self._catalog is None or self._webhooks is None:
            raise DeliveryRejected(
                "Team webhooks are not read (no catalog Secret namespace)", code="no_catalog"
            )
        meta = body["metadata"]
        team = str(record.get("team", ""))
        target = actions.webhook_target(
            await self._catalog.team(team),
            team,
            str(record.get("webhook", "")),
            namespaced=bool(record.get("namespaced", False)),
            namespace=str(meta["namespace"]),
            private=bool((body.get("spec") or {}).get("private", False)),
        )
        if isinstance(target, str):
            raise DeliveryRejected(target, code="refused")
        notifier = await self._webhooks.notifier(target)
        if notifier is None:
            raise DeliveryRejected(
                f"the signing secret of webhook {target.name} of team {target.team} cannot be read",
                code="no_secret",
            )
        summary = await self._summary(body)
        await notifier.notify(summary, event=WEBHOOK_EVENT, idempotency_key=str(record["key"]))

    async def _patch(self, body: Mapping[str, Any], status: Body) -> Body:
        meta = body["metadata"]
        return await self._store.patch_incident(meta["namespace"], meta["name"], status=status)
