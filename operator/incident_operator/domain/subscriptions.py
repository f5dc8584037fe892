"""Status page subscribers: who is told what, under which key, and the tokens that let a
reader confirm or leave without an account — pure.

Decisions, and why:

* **Only public updates are sent** — the words a person wrote for customers
  (``spec.public.updates``), never the page's own per-phase sentences: an inbox is more
  intrusive than a page, so every message carries a human's word. What may be sent follows
  the page's rules (:func:`notifiable`): the Severity publishes, the incident is not private,
  neither declined nor merged. Only public words leave: the public title (else the
  Severity's drafted title, else "Incident affecting <service>" — never the internal title),
  the public impact, the update's text and status, the components the page shows it on
  (from the service catalog where it knows the service, else the incident's service) and the
  page's opaque incident id. Never the namespace, name,
  internal title, summary or timeline.
* **One notification per (subscriber, incident, public update)**, keyed by
  :func:`delivery_key` — a digest of the subscriber id, the opaque incident id and the
  update's identity (its instant and status, :func:`update_key`). The same key is the outbox
  attempt's key, the webhook's ``Idempotency-Key`` and the e-mail's ``Message-ID``, so a
  restart or a retry after an unconfirmed attempt produces the same key, and a receiver can
  drop a repeat. Editing an update's text does not send it again (a correction is a new
  update).
* **Nothing from before a subscription**: a subscriber gets updates published at or after
  they subscribed (``since``), and none older than :data:`MAX_AGE` — a page switched to
  publish, or an operator back from a long outage, does not flood inboxes with history.
  The same window bounds what is remembered as delivered (:func:`still_relevant`): a key
  that can never be owed again is forgotten.
* **Per component**: a subscriber with components gets only incidents of those services.
* **Tokens** are HMAC-SHA256 under the operator's subscription key: an unsubscribe token
  names one subscriber and never expires (an old e-mail's link keeps working); a confirm
  token carries the address, components and an expiry, so a pending subscription needs no
  storage and cannot be forged or widened.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from .status_page import (
    HIDDEN,
    IncidentRecord,
    IncidentStatus,
    PublicNote,
    Site,
    public_service,
    record_components,
)
from .times import iso

MAX_AGE = timedelta(hours=24)
"""Public updates older than this are never sent (nor remembered as sent)."""
CONFIRM_VALIDITY = timedelta(hours=24)
"""How long a confirmation link works."""
PAYLOAD_VERSION = 1
EVENT = "incident-update"
"""The webhook event of a public update (``X-Incident-Operator-Event``)."""
MAX_COMPONENTS = 20
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


class Kind(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


def _digest(text: str, length: int = 24) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def subscriber_id(kind: Kind, address: str) -> str:
    """Stable id of a subscription (one per kind and address; e-mail case-insensitive)."""
    canonical = address.strip().lower() if kind is Kind.EMAIL else address.strip()
    return _digest(f"{kind.value}\x00{canonical}", 16)


@dataclass(frozen=True)
class Subscriber:
    kind: Kind
    address: str
    """An e-mail address, or the webhook's https URL."""
    since: datetime
    """When the subscription started: nothing published before it is sent."""
    components: frozenset[str] = frozenset()
    """Services whose incidents are sent; empty: all."""
    secret: str = ""
    """The webhook's signing secret (per subscriber); unused for e-mail."""

    @property
    def id(self) -> str:
        return subscriber_id(self.kind, self.address)

    def wants(self, components: Iterable[str]) -> bool:
        """Every incident without a component filter, else those affecting one it chose."""
        return not self.components or not self.components.isdisjoint(components)

    def __repr__(self) -> str:  # addresses and secrets are nobody's log line
        return f"Subscriber(kind={self.kind.value!r}, id={self.id!r})"


@dataclass(frozen=True)
class PublicIncident:
    """An incident as a subscriber may be told about it: public words only."""

    id: str
    title: str
    component: str
    impact: str
    """Statuspage impact: none, minor, major or critical."""
    impact_text: str
    created: datetime


@dataclass(frozen=True)
class PublicUpdateItem:
    id: str
    """:func:`update_key`."""
    at: datetime
    status: IncidentStatus
    body: str


@dataclass(frozen=True)
class Notification:
    key: str
    """:func:`delivery_key`: the outbox key, Idempotency-Key and Message-ID."""
    subscriber: Subscriber
    incident: PublicIncident
    update: PublicUpdateItem

    def __repr__(self) -> str:
        return f"Notification(key={self.key!r}, subscriber={self.subscriber!r})"


def notifiable(record: IncidentRecord) -> bool:
    """The page's rules: its Severity publishes, it is not private, not declined or merged."""
    return record.published and not record.private and record.phase not in HIDDEN


def public_title(record: IncidentRecord) -> str:
    """Never the internal title: the public one, else the Severity's draft, else generic."""
    affected = public_service(record)
    generic = f"Incident affecting {affected}" if affected else "Incident"
    return record.public_title or record.drafted_title or generic


def update_key(incident_id: str, note: PublicNote) -> str:
    """A public update's identity: its incident, instant and status (not its text)."""
    return _digest(f"{incident_id}/{iso(note.at)}/{note.status.value}", 20)


def delivery_key(subscriber: str, incident_id: str, update: str) -> str:
    return _digest(f"{subscriber}/{incident_id}/{update}")


def public_incident(record: IncidentRecord) -> PublicIncident:
    return PublicIncident(
        id=record.id,
        title=public_title(record),
        component=public_service(record),
        impact=record.impact.value,
        impact_text=record.public_impact,
        created=record.declared or min((n.at for n in record.public_updates), default=_EPOCH),
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def candidates(
    record: IncidentRecord, subscribers: Iterable[Subscriber], now: datetime
) -> tuple[Notification, ...]:
    """Every notification this incident calls for at ``now``, delivered or not, oldest
    update first: each recent public update to each subscriber who wants its component and
    subscribed before it was published. None for an incident the page does not show."""
    if not notifiable(record):
        return ()
    incident = public_incident(record)
    components = record_components(record)
    oldest = now - MAX_AGE
    notes = sorted(
        (n for n in record.public_updates if n.at >= oldest),
        key=lambda n: (n.at, n.status.value),
    )
    out: list[Notification] = []
    for note in notes:
        item = PublicUpdateItem(update_key(record.id, note), note.at, note.status, note.body)
        for subscriber in sorted(subscribers, key=lambda s: s.id):
            if subscriber.wants(components) and note.at >= subscriber.since:
                key = delivery_key(subscriber.id, record.id, item.id)
                out.append(Notification(key, subscriber, incident, item))
    return tuple(out)


def owed(
    record: IncidentRecord,
    subscribers: Iterable[Subscriber],
    delivered: Iterable[str],
    now: datetime,
) -> tuple[Notification, ...]:
    """The notifications not delivered yet, in the order they should go out."""
    done = set(delivered)
    return tuple(n for n in candidates(record, subscribers, now) if n.key not in done)


def still_relevant(
    delivered: Iterable[str], notifications: Sequence[Notification]
) -> tuple[str, ...]:
    """The delivered keys worth remembering: those that could still be owed (the rest left
    the window or lost their subscriber and can never be owed again)."""
    keys = {n.key for n in notifications}
    return tuple(sorted(k for k in set(delivered) if k in keys))


# --- What is sent -------------------------------------------------------------------------


def webhook_payload(
    notification: Notification, site: Site, *, unsubscribe_url: str, now: datetime
) -> dict[str, Any]:
    """The JSON a webhook subscriber receives (documented in docs/status-page.md)."""
    incident, update = notification.incident, notification.update
    return {
        "version": PAYLOAD_VERSION,
        "event": EVENT,
        "sentAt": iso(now),
        "page": {"id": site.id, "name": site.name, "url": site.url},
        "incident": {
            "id": incident.id,
            "name": incident.title,
            "impact": incident.impact,
            "impactText": incident.impact_text,
            "component": incident.component,
            "createdAt": iso(incident.created),
            "shortlink": f"{site.url}#incident-{incident.id}",
        },
        "update": {
            "id": update.id,
            "status": update.status.value,
            "body": update.body,
            "createdAt": iso(update.at),
        },
        "unsubscribeUrl": unsubscribe_url,
    }


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    key: str
    """Becomes the Message-ID: a receiving system can drop a repeat."""
    unsubscribe_url: str = ""
    """``List-Unsubscribe`` (RFC 2369) with one-click POST (RFC 8058)."""

    def __repr__(self) -> str:
        return f"Email(key={self.key!r})"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def update_email(notification: Notification, site: Site, *, unsubscribe_url: str) -> Email:
    incident, update = notification.incident, notification.update
    label = update.status.value.capitalize()
    lines = [
        incident.title,
        "",
        f"{label}: {update.body}",
        "",
        f"Posted {update.at.strftime('%b %d, %H:%M UTC')} · Affects {incident.component}",
    ]
    if incident.impact_text:
        lines += ["", f"Impact: {incident.impact_text}"]
    lines += [
        "",
        f"Status page: {site.url}#incident-{incident.id}",
        "",
        "--",
        f"You receive this because you subscribed to {site.name}.",
        f"Unsubscribe: {unsubscribe_url}",
    ]
    return Email(
        to=notification.subscriber.address,
        subject=_one_line(f"[{site.name}] {incident.title}: {label}")[:200],
        text="\n".join(lines) + "\n",
        key=notification.key,
        unsubscribe_url=unsubscribe_url,
    )


def confirm_email(
    address: str, site: Site, *, confirm_url: str, components: Sequence[str], key: str
) -> Email:
    which = f" for {', '.join(components)}" if components else ""
    text = (
        f"Someone (hopefully you) asked to receive incident updates from {site.name}{which} "
        "at this address.\n\n"
        f"Confirm the subscription: {confirm_url}\n\n"
        f"The link works for {int(CONFIRM_VALIDITY.total_seconds() // 3600)} hours. "
        "If you did not ask for this, ignore this message: nothing is sent without "
        "confirmation.\n"
    )
    return Email(address, _one_line(f"[{site.name}] Confirm your subscription"), text, key)


# --- Tokens -------------------------------------------------------------------------------


class TokenInvalid(Exception):
    """A confirm or unsubscribe token is malformed, forged or expired (says which, never
    what would have been valid)."""


def _mac(key: bytes, purpose: str, message: bytes) -> str:
    return hmac.new(key, purpose.encode() + b"\x00" + message, hashlib.sha256).hexdigest()


def unsubscribe_token(key: bytes, subscriber: str) -> str:
    return _mac(key, "unsubscribe", subscriber.encode())[:32]


def valid_unsubscribe(key: bytes, subscriber: str, token: str) -> bool:
    """Constant-time; an empty key never validates (no key configured: no unsubscribe)."""
    if not key or not subscriber or not token:
        return False
    return hmac.compare_digest(unsubscribe_token(key, subscriber), token)


@dataclass(frozen=True)
class ConfirmRequest:
    address: str
    components: tuple[str, ...]
    expires: datetime


def valid_email(address: str) -> bool:
    """A plausible single address (no display name, no CR/LF: nothing for header injection)."""
    return len(address) <= 254 and _EMAIL.fullmatch(address) is not None


def confirm_token(key: bytes, request: ConfirmRequest) -> str:
    payload = json.dumps(
        {
            "a": request.address,
            "c": list(request.components),
            "e": int(request.expires.timestamp()),
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    encoded = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{encoded}.{_mac(key, 'confirm', encoded.encode())}"


def read_confirm_token(key: bytes, token: str, now: datetime) -> ConfirmRequest:
    """The request a genuine, unexpired token stands for; TokenInvalid otherwise."""
    if not key:
        raise TokenInvalid("subscriptions are not configured")
    encoded, _, mac = token.partition(".")
    if not encoded or not mac or len(token) > 4096:
        raise TokenInvalid("malformed token")
    if not hmac.compare_digest(_mac(key, "confirm", encoded.encode()), mac):
        raise TokenInvalid("forged token")
    try:
        data = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        address, components, expires = str(data["a"]), data["c"], int(data["e"])
        request = ConfirmRequest(
            address, tuple(str(c) for c in components), datetime.fromtimestamp(expires, tz=UTC)
        )
    except (ValueError, KeyError, TypeError, binascii.Error, OverflowError, OSError):
        raise TokenInvalid("malformed token") from None
    if request.expires < now:
        raise TokenInvalid("expired token")
    return request


# --- Links --------------------------------------------------------------------------------

SUBSCRIBE_PATH = "/status/subscribe"
CONFIRM_PATH = "/status/subscribe/confirm"
UNSUBSCRIBE_PATH = "/status/unsubscribe"


def base_url(page_url: str) -> str:
    """The site root of the status page's public URL (``https://status.example.com/status``
    -> ``https://status.example.com``); links in e-mails must be absolute."""
    return page_url.removesuffix("/").removesuffix("/status")


def unsubscribe_url(base: str, key: bytes, subscriber: str) -> str:
    return f"{base}{UNSUBSCRIBE_PATH}?s={subscriber}&t={unsubscribe_token(key, subscriber)}"


def confirm_url(base: str, token: str) -> str:
    return f"{base}{CONFIRM_PATH}?t={token}"
