"""Ports for status page subscriptions: the subscriber list, e-mail and subscriber webhooks.

Errors: ``DeliveryThrottled``, ``DeliveryUnavailable``, ``DeliveryRejected`` for deliveries,
``TemporaryError``/``PermanentError`` for the list — all from :mod:`incident_operator.errors`;
nothing else escapes, and no message carries an address's secret, a password or a URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from incident_operator.domain.subscriptions import Email, Subscriber


class SubscriberList(Protocol):
    """Who is subscribed (real: one Secret; fake: a list)."""

    async def load(self) -> Sequence[Subscriber]:
        """Every subscriber; an entry that cannot be read is left out (and logged by id)."""
        ...

    async def add(self, subscriber: Subscriber) -> bool:
        """Add (or replace the components of) a subscriber; False when already there as is."""
        ...

    async def remove(self, subscriber_id: str) -> bool:
        """False when no such subscriber (unsubscribing twice is fine)."""
        ...


class Mailer(Protocol):
    async def send(self, email: Email) -> None:
        """Hand one message to the mail server (``email.key`` becomes its Message-ID)."""
        ...


class SubscriberWebhook(Protocol):
    async def post(self, url: str, secret: bytes, body: bytes, *, event: str, key: str) -> None:
        """POST ``body`` signed with ``secret`` (HMAC-SHA256 over timestamp and body);
        ``key`` goes out as the Idempotency-Key."""
        ...
