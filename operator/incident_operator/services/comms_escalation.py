"""Escalation that reaches people: whom each step that ran messages and pages, and on which key.

The response policy records each step that ran in ``status.response.escalations``; comms
owes each a direct message to the person it reached and a page of its own
(``domain/outbox``, "Escalation that reaches people"). This module turns those records into
``outbox.Reach`` values and chooses the pager of each escalation page:

* a ``team/<name>`` step pages that Team's default routing key, when the Team admits the
  incident's namespace (the rule a Service there must meet to claim it): a tenant's rotation
  cannot page a team that does not accept its namespace; otherwise, like every other step,
  it pages the incident's own route (the owning team's key, or the operator's global key);
* acknowledge and resolve go to the key recorded with the trigger
  (``status.pager.escalationPages[].team/route``), as the incident's own page does.

Events v2 cannot address a person, so a ``person``/``layer`` step reaches its person through
the direct message and the page's text (which names them); the page itself is a new alert on
the route, so PagerDuty notifies again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from incident_operator.adapters.comms_ports import Pager
from incident_operator.adapters.ports import Body
from incident_operator.api.v1alpha1.incident import IncidentStatus
from incident_operator.domain import outbox, response
from incident_operator.domain.catalog import PageRoute
from incident_operator.domain.comms import IncidentSummary
from incident_operator.errors import DeliveryRejected

from .catalog import CatalogService
from .comms_facts import slack_ids


def reaches(status: IncidentStatus, rotation: Body | None) -> tuple[outbox.Reach, ...]:
    """The steps that ran, with the Slack id of the person each reached (from the rotation)."""
    records = status.response.escalations if status.response else []
    out = []
    for record in records:
        target = response.Target.parse(record.target)
        person = record.person or ""
        ids = sorted(slack_ids(rotation, [person])) if person else []
        team = target.name if target.kind is response.TargetKind.TEAM else ""
        out.append(outbox.Reach(record.level, person, ids[0] if ids else "", team))
    return tuple(out)


def escalated_summary(summary: IncidentSummary, reach: outbox.Reach) -> IncidentSummary:
    """The page's text names the step and whom it is for (Events v2 cannot address them)."""
    who = reach.person or (f"team {reach.team}" if reach.team else "the next responder")
    lead = f"Escalation level {reach.level} to {who}: nobody acknowledged"
    detail = "\n\n".join(t for t in (lead, summary.summary) if t)
    return replace(
        summary, title=f"[escalation {reach.level}: {who}] {summary.title}", summary=detail
    )


def direct_text(summary: IncidentSummary, reach: outbox.Reach, channel_id: str) -> str:
    """The direct message: what, why, and where to acknowledge."""
    where = f" in <#{channel_id}>" if channel_id else ""
    return (
        f":rotating_light: You are escalation level {reach.level} for "
        f"{summary.severity_display} incident {summary.key}{where}: nobody acknowledged it. "
        f"Acknowledge with `/incident ack`{where} or `kubectl incident ack`."
    )


class EscalationPagers:
    """The pager of each escalation page for one sync (see the module docstring)."""

    def __init__(
        self,
        *,
        default: Pager | None,
        incident: Pager | None,
        route: PageRoute | None,
        catalog: CatalogService | None,
        namespace: str,
        status: IncidentStatus,
    ) -> None:
        self._default = default
        self._incident = incident
        self._route = route
        self._catalog = catalog
        self._namespace = namespace
        pager = status.pager
        self.workflow_routes: dict[str, tuple[str, str | None]] = {
            k: (p.team, p.route) for k, p in (pager.workflow_pages if pager else {}).items()
        }
        self.records: dict[int, dict[str, Any]] = {
            p.level: {"level": p.level, "state": p.state, "team": p.team, "route": p.route}
            for p in (pager.escalation_pages if pager else [])
        }

    async def for_trigger(self, reach: outbox.Reach) -> Pager:
        """The pager for a step's trigger; its route is recorded for the follow-ups."""
        if reach.team and self._catalog is not None:
            paging = await self._catalog.team_paging(reach.team, self._namespace)
            if paging.pager is not None and paging.route is not None:
                self._remember(reach.level, paging.route.team, paging.route.route)
                return paging.pager
        route = self._route
        self._remember(reach.level, route.team if route else None, route.route if route else None)
        return self._usable(self._incident, reach.level)

    async def for_follow_up(self, level: int) -> Pager:
        """The pager the trigger went to: acknowledge and resolve must reach that alert."""
        record = self.records.get(level) or {}
        team = record.get("team")
        if team is None or self._catalog is None:
            return self._usable(self._default or self._incident, level)
        kept = await self._catalog.recorded_paging(team, record.get("route"))
        return self._usable(kept.pager or self._default, level)

    async def for_workflow_page(self, page: str) -> Pager:
        """The pager a workflow page was triggered with (its Team's recorded route)."""
        team, route = self.workflow_routes.get(page, (None, None))
        if team is None or self._catalog is None:
            raise DeliveryRejected(f"no pager for workflow page {page}", code="no_pager")
        kept = await self._catalog.recorded_paging(team, route)
        if kept.pager is None:
            raise DeliveryRejected(f"team {team}'s routing key cannot be read", code="no_pager")
        return kept.pager

    def status(self, states: Mapping[int, str]) -> Body:
        """``status.pager.escalationPages`` in full (a merge patch replaces a list whole)."""
        pages = []
        for level in sorted(states):
            record = {**(self.records.get(level) or {"team": None, "route": None})}
            record.update(level=level, state=states[level])
            pages.append(record)
        return {"pager": {"escalationPages": pages}}

    def _remember(self, level: int, team: str | None, route: str | None) -> None:
        self.records[level] = {"level": level, "state": "", "team": team, "route": route}

    @staticmethod
    def _usable(pager: Pager | None, level: int) -> Pager:
        if pager is None:
            raise DeliveryRejected(f"no pager for escalation level {level}", code="no_pager")
        return pager
