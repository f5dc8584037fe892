"""In-memory TicketTracker and Annotations for service tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from incident_operator.adapters.tickets_port import Ticket, TicketRequest


@dataclass
class FakeTracker:
    name: str = "jira"
    base: str = "https://jira.example.com"
    created: list[TicketRequest] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)
    """ref -> action item state the tracker reports."""
    markers: dict[str, str] = field(default_factory=dict)
    """marker -> ref of the first ticket created with it."""
    lookups: list[str] = field(default_factory=list)

    async def create(self, request: TicketRequest) -> Ticket:
        self.created.append(request)
        ref = f"OPS-{len(self.created)}"
        self.states[ref] = "open"
        if request.marker:
            self.markers.setdefault(request.marker, ref)
        return Ticket(ref, f"{self.base}/browse/{ref}", "open")

    async def find(self, request: TicketRequest) -> Ticket | None:
        self.lookups.append(request.marker)
        ref = self.markers.get(request.marker) if request.marker else None
        return None if ref is None else await self.get(ref)

    async def get(self, ref: str) -> Ticket:
        return Ticket(ref, f"{self.base}/browse/{ref}", self.states.get(ref, "open"))

    def owns(self, url: str) -> str | None:
        prefix = f"{self.base}/browse/"
        return url[len(prefix) :] if url.startswith(prefix) else None


@dataclass
class FakeAnnotations:
    posted: list[tuple[datetime, str, tuple[str, ...]]] = field(default_factory=list)

    async def annotate(self, at: datetime, text: str, tags: tuple[str, ...]) -> str:
        self.posted.append((at, text, tags))
        return str(len(self.posted))
