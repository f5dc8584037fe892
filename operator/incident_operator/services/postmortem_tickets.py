"""Ticket sync: one tracker ticket per postmortem action item, effectively once.

Missing tickets are created (after looking for one an earlier pass created and died before
recording), the others read back for their state; the links land in ``status.tickets``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from incident_operator.adapters.ports import Body
from incident_operator.adapters.tickets_port import Ticket, TicketRequest, TicketTracker
from incident_operator.domain import postmortem as pm
from incident_operator.domain import tickets as ticket_plan
from incident_operator.domain.conditions import Condition, Status
from incident_operator.domain.times import iso
from incident_operator.errors import IncidentOperatorError

from .keyed_locks import KeyedLocks

log = logging.getLogger(__name__)


TICKETS_SYNCED = "TicketsSynced"


def _link(
    title: str, tracker: str, ticket: Ticket, now: datetime, previous: Mapping[str, Any] | None
) -> Body:
    """The status entry; ``syncedAt`` moves only when something else did (no idle writes)."""
    link = {"title": title, "tracker": tracker, "ref": ticket.ref, "url": ticket.url}
    link["status"] = ticket.status
    if previous is not None and without_sync_time(previous) == link:
        return {**link, "syncedAt": previous.get("syncedAt") or iso(now)}
    return {**link, "syncedAt": iso(now)}


def without_sync_time(link: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in link.items() if k != "syncedAt"}


def with_tickets(
    items: Sequence[pm.ActionItem], links: Sequence[Mapping[str, Any]]
) -> list[pm.ActionItem]:
    """Action items as the document shows them: the ticket link and the tracker's state."""
    by_title = {str(link.get("title")): link for link in links}
    out = []
    for item in items:
        link = by_title.get(item.title)
        if link is None:
            out.append(item)
            continue
        out.append(
            replace(
                item,
                ticket=item.ticket or str(link.get("url") or "") or None,
                status=str(link.get("status") or item.status),
            )
        )
    return out


class TicketSync:
    def __init__(self, tracker: TicketTracker | None) -> None:
        self._tracker = tracker
        self._locks = KeyedLocks[tuple[str, str]]()

    async def sync(
        self,
        namespace: str,
        name: str,
        incident: str,
        items: Sequence[pm.ActionItem],
        *,
        status: Mapping[str, Any],
        now: datetime,
    ) -> tuple[list[Body], str | None]:
        """One ticket sync per postmortem at a time.

        The update handler and the refresh timer can regenerate the same postmortem at once,
        both from a status without the ticket: without the lock both look up "none" and both
        create (the e2e caught a second Jira issue). Serialised, the second one's look-up
        finds the first one's ticket.
        """
        async with self._locks.hold((namespace, name)):
            return await self._sync_once(namespace, name, incident, items, status=status, now=now)

    async def _sync_once(
        self,
        namespace: str,
        name: str,
        incident: str,
        items: Sequence[pm.ActionItem],
        *,
        status: Mapping[str, Any],
        now: datetime,
    ) -> tuple[list[Body], str | None]:
        """Create the missing tickets, read the others back; (links, first error or None).

        A failing tracker never stops the regeneration: what was synced before is kept.
        Effectively once: an item without a recorded ticket is first looked up by its marker
        (an earlier pass may have created the ticket and died before its status was written)
        and the ticket found is adopted; only when the look-up answers "none" is one created.
        A failing look-up creates nothing — the next pass asks again.
        """
        kept = [t for t in status.get("tickets") or [] if isinstance(t, dict)]
        tracker = self._tracker
        if tracker is None:
            return kept, None
        by_title = {str(t.get("title")): dict(t) for t in kept}
        synced = {
            title: str(t["ref"])
            for title, t in by_title.items()
            if t.get("tracker") == tracker.name and t.get("ref")
        }
        creates, reads = ticket_plan.plan(items, synced, tracker.owns)
        problem = None
        for create in creates:
            request = TicketRequest(
                create.item.title,
                ticket_plan.description(create.item, name, incident),
                create.item.due,
                ("postmortem", f"incident-{incident}"),
                ticket_plan.marker(namespace, name, create.item.title),
            )
            try:
                ticket = await tracker.find(request)
                if ticket is None:
                    ticket = await tracker.create(request)
                else:
                    log.info(
                        "postmortem %s/%s: action item %r already has ticket %s (adopted)",
                        namespace,
                        name,
                        create.item.title,
                        ticket.ref,
                    )
            except IncidentOperatorError as exc:
                problem = problem or str(exc)
                continue
            by_title[create.item.title] = _link(create.item.title, tracker.name, ticket, now, None)
        for read in reads:
            try:
                ticket = await tracker.get(read.ref)
            except IncidentOperatorError as exc:
                problem = problem or str(exc)
                continue
            by_title[read.title] = _link(
                read.title, tracker.name, ticket, now, by_title.get(read.title)
            )
        titles = [i.title for i in items]
        links = [by_title[t] for t in titles if t in by_title]
        return links[:64], problem

    def condition(
        self, links: Sequence[Body], problem: str | None, now: datetime, generation: int
    ) -> Condition | None:
        """``TicketsSynced``; None without a tracker (the condition is not shown at all)."""
        if self._tracker is None:
            return None
        return Condition(
            TICKETS_SYNCED,
            Status.FALSE if problem else Status.TRUE,
            "TrackerError" if problem else "Synced",
            problem or f"{len(links)} ticket(s) in {self._tracker.name}",
            now,
            generation,
        )
