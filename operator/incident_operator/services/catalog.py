"""Use case: resolve incidents' services to the catalog (Service, Team) and say what did not.

``resolve`` looks the incident's services up in its own namespace only (never another) and
their owner Teams, and lets domain/catalog.py decide. ``incident_status`` is the outcome as
``status.catalog`` and the ``ServiceResolved`` condition, ``service_status`` a Service's
``owner`` and ``OwnerResolved`` condition (the handlers write both). ``paging`` gives comms
the owning team's pager (never the key itself), ``invitees`` the people the involved teams
bring (their listed members and their Slack user groups' members).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError

from incident_operator.adapters.catalog_port import CatalogStore, TeamPagers
from incident_operator.adapters.comms_ports import Pager, UserGroups
from incident_operator.adapters.ports import Body, Clock, ResourceStore
from incident_operator.api.v1alpha1.catalog import Service, Team
from incident_operator.api.v1alpha1.convert import conditions_status, existing_conditions
from incident_operator.domain import catalog
from incident_operator.domain.conditions import Condition, Status, set_condition
from incident_operator.errors import (
    DeliveryRejected,
    IncidentOperatorError,
    PermanentError,
    TemporaryError,
)

log = logging.getLogger(__name__)
GROUP_TTL = timedelta(minutes=5)
"""How long a Slack user group's members are taken as read (one ask per group per TTL)."""


@dataclass(frozen=True)
class Paging:
    """The pager for one incident: the owning team's, or None (use the global pager)."""

    pager: Pager | None
    route: catalog.PageRoute | None


class CatalogService:
    def __init__(
        self,
        catalog_store: CatalogStore,
        incidents: ResourceStore,
        clock: Clock,
        *,
        pagers: TeamPagers | None = None,
    ) -> None:
        self._catalog = catalog_store
        self._incidents = incidents
        self._clock = clock
        self._pagers = pagers
        self._groups: UserGroups | None = None
        self._group_members: dict[str, tuple[datetime, tuple[str, ...]]] = {}

    def attach_groups(self, groups: UserGroups) -> None:
        """Where the involved teams' Slack user groups are looked up (the chat adapter, built
        after the catalog); without it only the teams' listed members are invited."""
        self._groups = groups

    async def invitees(self, resolution: catalog.Resolution) -> frozenset[str]:
        """Who the involved teams bring to the incident's channel: their listed members and
        the members of their Slack user groups."""
        people = set(resolution.invitees())
        if self._groups is not None:
            for group in resolution.user_groups():
                people.update(await self._members(self._groups, group))
        return frozenset(people)

    async def _members(self, groups: UserGroups, group: str) -> tuple[str, ...]:
        """A user group's members, asked at most every GROUP_TTL per group (comms resolves an
        incident on every pass). A group that cannot be read counts with the members last
        read (none at first) until the next ask, and is logged: the listed members are still
        invited, and a missing scope does not stop the rest of the comms pass."""
        now = self._clock.now()
        cached = self._group_members.get(group)
        if cached is not None and now - cached[0] < GROUP_TTL:
            return cached[1]
        try:
            members = await groups.group_members(group)
        except (DeliveryRejected, TemporaryError) as exc:
            log.warning("members of Slack user group %s not read: %s", group, exc)
            members = cached[1] if cached is not None else ()
        self._group_members[group] = (now, members)
        return members

    @property
    def pages(self) -> bool:
        """Whether team routing keys can be read at all."""
        return self._pagers is not None

    async def resolve(self, namespace: str, services: Sequence[str]) -> catalog.Resolution:
        """The incident's services against the catalog of ``namespace`` (and every Team)."""
        entries: dict[str, catalog.ServiceEntry] = {}
        teams: dict[str, catalog.TeamEntry] = {}
        for name in dict.fromkeys(services):
            body = await self._catalog.get_service(namespace, name)
            entry = _service(body)
            if entry is None or entry.namespace != namespace:
                continue
            entries[name] = entry
            if entry.owner not in teams:
                team = _team(await self._catalog.get_team(entry.owner))
                if team is not None:
                    teams[team.name] = team
        return catalog.resolve(namespace, services, entries, teams)

    async def resolve_incident(self, body: Body) -> catalog.Resolution:
        spec = body.get("spec") or {}
        namespace = str(body["metadata"]["namespace"])
        names = catalog.services_of(str(spec.get("service", "")), spec.get("services") or [])
        return await self.resolve(namespace, [n for n in names if n])

    async def paging(self, resolution: catalog.Resolution) -> Paging:
        """The owning team's pager; None when no team has a key or it cannot be read (the
        global pager then, with the ServiceResolved condition telling why)."""
        route = resolution.page_route
        if route is None or self._pagers is None:
            return Paging(None, None)
        try:
            pager = await self._pagers.pager(route.secret)
        except PermanentError as exc:
            # e.g. 403: the operator may not read that Secret. A temporary error propagates
            # (the page waits for the right key); this one would never pass, so the incident
            # is paged on the global key and the condition says why.
            log.warning("routing key of team %s unreadable: %s", route.team, exc)
            pager = None
        return Paging(pager, route if pager is not None else None)

    async def recorded_paging(self, team: str | None, route: str | None) -> Paging:
        """The pager of the route an open page was triggered with (PagerRef.team/route), so
        its acknowledge and resolve reach the same alert after ownership moved; a pager of
        None when that team or its key is gone (the caller falls back)."""
        if team is None or self._pagers is None:
            return Paging(None, None)
        entry = _team(await self._catalog.get_team(team))
        if entry is None:
            return Paging(None, None)
        secret = entry.routes.get(route) if route is not None else entry.routing_key
        if secret is None:
            return Paging(None, None)
        try:
            pager = await self._pagers.pager(secret)
        except PermanentError:
            pager = None
        return Paging(pager, catalog.PageRoute(team, route, secret) if pager else None)

    async def team_paging(self, team: str, namespace: str) -> Paging:
        """The default routing key of a Team an escalation step names, when that Team admits
        ``namespace`` (as it must for a Service there to claim it): a tenant's rotation can
        page only teams that accept its namespace. A pager of None otherwise."""
        if self._pagers is None:
            return Paging(None, None)
        entry = _team(await self._catalog.get_team(team))
        if entry is None or not entry.admits(namespace) or entry.routing_key is None:
            return Paging(None, None)
        try:
            pager = await self._pagers.pager(entry.routing_key)
        except PermanentError as exc:
            log.warning("routing key of team %s unreadable: %s", team, exc)
            return Paging(None, None)
        return Paging(pager, catalog.PageRoute(team, None, entry.routing_key))

    async def teams(self) -> list[catalog.TeamEntry]:
        """Every valid Team (an invalid one admits nobody)."""
        return [t for t in map(_team, await self._catalog.list_teams()) if t is not None]

    async def team(self, name: str) -> catalog.TeamEntry | None:
        """The Team ``name`` as the catalog decides with it; None when missing or invalid."""
        return _team(await self._catalog.get_team(name))

    async def route_pager(self, route: catalog.PageRoute) -> Pager | None:
        """A pager on ``route``'s routing key; None when keys are not read here or that key
        is missing or unreadable (a temporary error propagates: the caller retries)."""
        if self._pagers is None:
            return None
        try:
            return await self._pagers.pager(route.secret)
        except PermanentError as exc:
            log.warning("routing key of team %s unreadable: %s", route.team, exc)
            return None

    async def incident_status(self, body: Body) -> tuple[catalog.Resolution, Body]:
        """The resolution and the status to merge (status.catalog, ServiceResolved); an empty
        status when nothing changed. A Warning Event when it turns False for a Service whose
        owner does not resolve."""
        resolution = await self.resolve_incident(body)
        paging = await self.paging(resolution)
        meta = body["metadata"]
        status = body.get("status") or {}
        ok, reason, message = resolution.condition()
        route = resolution.page_route
        if route is not None and paging.route is None:
            why = (
                "cannot be read"
                if self._pagers is not None
                else "is not read (no catalog Secret namespace configured)"
            )
            message += f"; team {route.team}'s routing key {why}, pages use the global key"
        wanted_catalog: Body = {
            "owners": [
                {"service": o.service, "team": o.team.name}
                for o in resolution.owners
                if o.team is not None
            ],
            "teams": list(resolution.teams),
            "pagingTeam": paging.route.team if paging.route else None,
            "pagingRoute": paging.route.route if paging.route else None,
        }
        condition = self._condition(catalog.SERVICE_RESOLVED, ok, reason, message, meta)
        existing = existing_conditions(body)
        same_condition = _same(existing, condition)
        if same_condition and _compact(status.get("catalog") or {}) == _compact(wanted_catalog):
            return resolution, {}
        patch: Body = {"catalog": wanted_catalog}
        if not same_condition:
            patch["conditions"] = conditions_status(set_condition(existing, condition))
            # A Warning Event for a broken catalog entry only: an incident on a service nobody
            # catalogued (every incident of a cluster without a catalog) has the condition.
            if not ok and reason != "UnknownService":
                await self._warn(body, reason, message)
        return resolution, patch

    async def slo_status(self, body: Body) -> Body:
        """An SLO's ServiceResolved condition (its spec.service against the catalog of its
        namespace, as the incidents it declares will be); empty when unchanged."""
        namespace = str(body["metadata"]["namespace"])
        service = str((body.get("spec") or {}).get("service", ""))
        resolution = await self.resolve(namespace, [service] if service else [])
        ok, reason, message = resolution.condition()
        condition = self._condition(catalog.SERVICE_RESOLVED, ok, reason, message, body["metadata"])
        existing = existing_conditions(body)
        if _same(existing, condition):
            return {}
        return {"conditions": conditions_status(set_condition(existing, condition))}

    async def service_status(self, body: Body) -> Body:
        """A Service's status.owner and OwnerResolved condition; empty when unchanged."""
        entry = _service(body)
        if entry is None:
            return {}
        team = _team(await self._catalog.get_team(entry.owner))
        owner = catalog.ownership(entry, team)
        ok, reason, message = catalog.service_condition(owner)
        condition = self._condition(catalog.OWNER_RESOLVED, ok, reason, message, body["metadata"])
        existing = existing_conditions(body)
        resolved_owner = owner.team.name if owner.team is not None else None
        status = body.get("status") or {}
        if _same(existing, condition) and status.get("owner") == resolved_owner:
            return {}
        return {
            "owner": resolved_owner,
            "conditions": conditions_status(set_condition(existing, condition)),
        }

    async def _warn(self, body: Body, reason: str, message: str) -> None:
        """The Event is best effort: the condition is what records the problem (an Event
        refused, e.g. in a namespace being deleted, must not keep it from being written)."""
        try:
            await self._incidents.emit_event(body, reason, message, warning=True)
        except IncidentOperatorError as exc:
            log.warning("event %s for %s not emitted: %s", reason, body["metadata"]["name"], exc)

    def _condition(self, type_: str, ok: bool, reason: str, message: str, meta: Body) -> Condition:
        return Condition(
            type_,
            Status.TRUE if ok else Status.FALSE,
            reason,
            message,
            self._clock.now(),
            int(meta.get("generation", 0)),
        )


def _same(existing: Sequence[Condition], condition: Condition) -> bool:
    current = next((c for c in existing if c.type == condition.type), None)
    return current is not None and (
        current.status,
        current.reason,
        current.message,
        current.observed_generation,
    ) == (condition.status, condition.reason, condition.message, condition.observed_generation)


def _compact(recorded: Body) -> Body:
    return {k: v for k, v in recorded.items() if v not in (None, [])}


def _service(body: Body | None) -> catalog.ServiceEntry | None:
    if body is None:
        return None
    try:
        return Service.model_validate({k: v for k, v in body.items() if k != "status"}).to_domain()
    except ValidationError:
        return None


def _team(body: Body | None) -> catalog.TeamEntry | None:
    if body is None:
        return None
    try:
        return Team.model_validate({k: v for k, v in body.items() if k != "status"}).to_domain()
    except ValidationError:
        return None
