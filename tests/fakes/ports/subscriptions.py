"""In-memory subscriber list, mailer and subscriber webhook (services/subscriptions.py's
ports); the real ones are tested against aiosmtpd and a local receiver."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from incident_operator.domain.subscriptions import Email, Subscriber
from incident_operator.errors import IncidentOperatorError


@dataclass
class FakeSubscriberList:
    subscribers: list[Subscriber] = field(default_factory=list)
    loads: int = 0

    async def load(self) -> Sequence[Subscriber]:
        self.loads += 1
        return list(self.subscribers)

    async def add(self, subscriber: Subscriber) -> bool:
        same = [s for s in self.subscribers if s.id == subscriber.id]
        if same and same[0].components == subscriber.components:
            return False
        kept = same[0].since if same else subscriber.since
        self.subscribers = [s for s in self.subscribers if s.id != subscriber.id]
        self.subscribers.append(replace(subscriber, since=kept))
        return True

    async def remove(self, subscriber_id: str) -> bool:
        before = len(self.subscribers)
        self.subscribers = [s for s in self.subscribers if s.id != subscriber_id]
        return len(self.subscribers) != before


@dataclass
class FakeMailer:
    sent: list[Email] = field(default_factory=list)
    fail_with: IncidentOperatorError | None = None
    attempts: int = 0

    async def send(self, email: Email) -> None:
        self.attempts += 1
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(email)


@dataclass
class FakeSubscriberWebhook:
    posts: list[tuple[str, bytes, bytes, str, str]] = field(default_factory=list)
    """(url, secret, body, event, key)."""
    fail_with: IncidentOperatorError | None = None

    async def post(self, url: str, secret: bytes, body: bytes, *, event: str, key: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.posts.append((url, secret, body, event, key))
