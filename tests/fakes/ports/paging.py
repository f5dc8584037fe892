"""In-memory Pager and Notifier for fast service tests: record calls, fail on request.

They keep PagerDuty's dedup semantics (one alert per open dedup key; a resolved key triggers a
new alert) so a service test can assert "paged once" after replaying its outbox, and they
accept queued failures so tests can drive the outbox's retry and give-up paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from incident_operator.domain.comms import IncidentSummary
from incident_operator.domain.paging import EventAction

TRIGGERED = "triggered"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"


@dataclass(frozen=True)
class PagerCall:
    action: EventAction
    dedup_key: str
    summary: IncidentSummary | None = None
    urgency: str = ""


@dataclass
class FakeAlert:
    dedup_key: str
    summary: IncidentSummary
    urgency: str
    state: str = TRIGGERED
    triggers: int = 1


@dataclass
class FakePager:
    """``calls`` holds every accepted call in order; ``failures`` are raised first, one per
    call (FIFO), before anything is recorded — as a refused HTTP request would be."""

    calls: list[PagerCall] = field(default_factory=list)
    alerts: list[FakeAlert] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)

    def fail_next(self, *errors: Exception) -> None:
        self.failures.extend(errors)

    def _maybe_fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    def open_alert(self, dedup_key: str) -> FakeAlert | None:
        for alert in reversed(self.alerts):
            if alert.dedup_key == dedup_key and alert.state != RESOLVED:
                return alert
        return None

    async def trigger(self, summary: IncidentSummary, *, dedup_key: str, urgency: str) -> None:
        self._maybe_fail()
        self.calls.append(PagerCall(EventAction.TRIGGER, dedup_key, summary, urgency))
        alert = self.open_alert(dedup_key)
        if alert is None:
            self.alerts.append(FakeAlert(dedup_key, summary, urgency))
        else:
            alert.summary, alert.triggers = summary, alert.triggers + 1

    async def acknowledge(self, dedup_key: str) -> None:
        self._maybe_fail()
        self.calls.append(PagerCall(EventAction.ACKNOWLEDGE, dedup_key))
        alert = self.open_alert(dedup_key)
        if alert is not None:
            alert.state = ACKNOWLEDGED

    async def resolve(self, dedup_key: str) -> None:
        self._maybe_fail()
        self.calls.append(PagerCall(EventAction.RESOLVE, dedup_key))
        alert = self.open_alert(dedup_key)
        if alert is not None:
            alert.state = RESOLVED

    @property
    def pages(self) -> int:
        """Distinct alerts opened (what a responder's phone would have rung for)."""
        return len(self.alerts)


@dataclass(frozen=True)
class Notification:
    summary: IncidentSummary
    event: str
    idempotency_key: str


@dataclass
class FakeNotifier:
    """Records notifications; a repeated idempotency key is accepted but not recorded twice,
    like a receiver that honours ``Idempotency-Key``."""

    sent: list[Notification] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)
    attempts: int = 0

    def fail_next(self, *errors: Exception) -> None:
        self.failures.extend(errors)

    async def notify(self, summary: IncidentSummary, *, event: str, idempotency_key: str) -> None:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        if idempotency_key and any(n.idempotency_key == idempotency_key for n in self.sent):
            return
        self.sent.append(Notification(summary, event, idempotency_key))

    @property
    def events(self) -> list[str]:
        return [n.event for n in self.sent]
