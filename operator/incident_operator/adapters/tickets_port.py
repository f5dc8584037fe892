"""Issue trackers for postmortem action items: one Protocol, Jira and GitHub Issues behind it.

Real adapters: ``jira.py`` (Jira Cloud REST API v3), ``github_issues.py`` (GitHub REST
Issues API); in-memory fake: ``tests/fakes/ports/tickets.py``. Errors are our delivery errors
(429 -> DeliveryThrottled, 5xx/network -> DeliveryUnavailable, other refusals ->
DeliveryRejected).

Effectively-once creation: ``create`` stores the request's ``marker`` with the ticket (Jira: a
label; GitHub: a hidden HTML comment in the body) and ``find`` returns the ticket an earlier
``create`` of the same marker left, so a crash between creating a ticket and recording it
never opens a second one. Each adapter's docstring says how its lookup can lag.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol


@dataclass(frozen=True)
class TicketRequest:
    title: str
    description: str
    due: date | None = None
    labels: tuple[str, ...] = ()
    marker: str = ""
    """Idempotency marker (``domain.tickets.marker``) stored with the ticket; empty: none."""


@dataclass(frozen=True)
class Ticket:
    ref: str
    """Jira issue key (OPS-12) or GitHub issue number (as text)."""
    url: str
    """Where a human opens it."""
    status: str
    """Mapped onto the action item states: open, in-progress, done, wont-fix."""


class TicketTracker(Protocol):
    @property
    def name(self) -> str:
        """jira or github."""
        ...

    async def create(self, request: TicketRequest) -> Ticket: ...

    async def get(self, ref: str) -> Ticket: ...

    async def find(self, request: TicketRequest) -> Ticket | None:
        """The ticket an earlier ``create(request)`` left (by ``request.marker``), or None.

        Several (a duplicate from before markers existed, two replicas racing): the oldest,
        so every pass adopts the same one. No marker: None.
        """
        ...

    def owns(self, url: str) -> str | None:
        """The ref of ``url`` if it is one of this tracker's tickets, else None."""
        ...
