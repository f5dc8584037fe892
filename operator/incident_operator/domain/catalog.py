"""The service catalog's decisions: which Service and Team an incident's services resolve to,
and where its page goes.

Pure: the caller looks the objects up (Services only in the incident's own namespace, Teams
cluster-wide) and passes what it found; this module decides. Rules:

- a service name resolves only to a Service in the asker's namespace — an entry from another
  namespace is treated as unknown, whatever the caller passed;
- a Service's owner counts only when that Team exists and admits the Service's namespace
  (``Team.spec.namespaces``, cluster-admin written): a tenant cannot route to a team by
  naming it;
- unknown services and unresolved owners are reported, never silently defaulted;
- the page goes to the owner of the first service (``spec.service``) that resolves to a team
  with a routing key (the Service's chosen route, else the team's default); no such team: the
  operator's global key (``None`` here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

SERVICE_RESOLVED = "ServiceResolved"
"""Incident condition: every service the incident names resolves to a Service and its team."""
OWNER_RESOLVED = "OwnerResolved"
"""Service condition: the owner Team exists and admits the Service's namespace."""
ANY_NAMESPACE = "*"


@dataclass(frozen=True)
class SecretRef:
    """A key of a Secret in the operator's catalog Secret namespace (never its value)."""

    name: str
    key: str


@dataclass(frozen=True)
class TeamWebhook:
    """A webhook a cluster admin declared on a Team (``spec.webhooks``): where workflows'
    ``sendWebhook`` steps POST the signed incident summary."""

    team: str
    name: str
    url: str
    secret: SecretRef
    """The HMAC signing secret, in the operator's catalog Secret namespace."""
    include_private: bool = False


@dataclass(frozen=True)
class ServiceEntry:
    namespace: str
    name: str
    owner: str
    tier: str = "tier-2"
    dependencies: tuple[str, ...] = ()
    route: str | None = None


@dataclass(frozen=True)
class TeamEntry:
    name: str
    namespaces: frozenset[str] = frozenset()
    routing_key: SecretRef | None = None
    routes: Mapping[str, SecretRef | None] = field(default_factory=dict)
    slack_channel: str | None = None
    slack_user_group: str | None = None
    slack_members: tuple[str, ...] = ()
    webhooks: Mapping[str, TeamWebhook] = field(default_factory=dict)

    def admits(self, namespace: str) -> bool:
        return ANY_NAMESPACE in self.namespaces or namespace in self.namespaces


class OwnerProblem(StrEnum):
    TEAM_NOT_FOUND = "TeamNotFound"
    TEAM_NOT_ADMITTED = "TeamNotAdmitted"
    UNKNOWN_ROUTE = "UnknownRoute"


@dataclass(frozen=True)
class Ownership:
    """One Service's owner as resolved: ``team`` None when the owner does not count."""

    service: str
    owner: str
    team: TeamEntry | None
    problem: OwnerProblem | None = None
    route: str | None = None
    """The paging route the Service chose (valid only when ``problem`` is None)."""

    @property
    def message(self) -> str:
        if self.problem is OwnerProblem.TEAM_NOT_FOUND:
            return f"owner team {self.owner} does not exist"
        if self.problem is OwnerProblem.TEAM_NOT_ADMITTED:
            return f"team {self.owner} does not admit this namespace (its spec.namespaces)"
        if self.problem is OwnerProblem.UNKNOWN_ROUTE:
            return f"team {self.owner} declares no paging route named in spec.paging.route"
        return f"owned by team {self.owner}"


def ownership(service: ServiceEntry, team: TeamEntry | None) -> Ownership:
    """Whether ``service``'s owner counts; ``team`` is the Team named by its owner, if any."""
    if team is None or team.name != service.owner:
        return Ownership(service.name, service.owner, None, OwnerProblem.TEAM_NOT_FOUND)
    if not team.admits(service.namespace):
        return Ownership(service.name, service.owner, None, OwnerProblem.TEAM_NOT_ADMITTED)
    if service.route is not None and service.route not in team.routes:
        # Still the owner; pages use the team's default key.
        return Ownership(service.name, service.owner, team, OwnerProblem.UNKNOWN_ROUTE)
    return Ownership(service.name, service.owner, team, route=service.route)


@dataclass(frozen=True)
class PageRoute:
    """Where the page goes: a team's routing key Secret (its value is the adapter's)."""

    team: str
    route: str | None
    secret: SecretRef


@dataclass(frozen=True)
class Resolution:
    namespace: str
    services: tuple[str, ...]
    """The services the incident names, spec.service first, without repeats."""
    unknown: tuple[str, ...]
    """Names with no Service in the namespace."""
    owners: tuple[Ownership, ...]
    """One per known service, in ``services`` order."""

    @property
    def teams(self) -> tuple[str, ...]:
        """Every owning team that counts, in first-seen order: all are involved."""
        seen: dict[str, None] = {}
        for owner in self.owners:
            if owner.team is not None:
                seen.setdefault(owner.team.name, None)
        return tuple(seen)

    @property
    def unresolved_owners(self) -> tuple[Ownership, ...]:
        return tuple(o for o in self.owners if o.team is None)

    @property
    def resolved(self) -> bool:
        return not self.unknown and not self.unresolved_owners

    @property
    def page_route(self) -> PageRoute | None:
        """The first owner (in ``services`` order) with a routing key; None: the global key."""
        services = {o.service: o for o in self.owners}
        for name in self.services:
            owner = services.get(name)
            if owner is None or owner.team is None:
                continue
            chosen = _chosen_route(owner, owner.team)
            if chosen is not None:
                return chosen
        return None

    def user_groups(self) -> tuple[str, ...]:
        """Every involved team's Slack user group, in first-seen order (their members are
        invited too: the catalog service looks them up)."""
        out: dict[str, None] = {}
        for owner in self.owners:
            if owner.team is not None and owner.team.slack_user_group:
                out.setdefault(owner.team.slack_user_group, None)
        return tuple(out)

    def invitees(self) -> tuple[str, ...]:
        """Slack ids of every involved team's listed members (conversations.invite takes
        users; the members of the teams' user groups are added by the catalog service)."""
        out: dict[str, None] = {}
        for owner in self.owners:
            if owner.team is not None:
                for member in owner.team.slack_members:
                    out.setdefault(member, None)
        return tuple(out)

    def channels(self) -> tuple[str, ...]:
        """Every involved team's Slack channel (``#name``), in first-seen order."""
        out: dict[str, None] = {}
        for owner in self.owners:
            if owner.team is not None and owner.team.slack_channel:
                out.setdefault("#" + owner.team.slack_channel.lstrip("#"), None)
        return tuple(out)

    def mentions(self) -> dict[str, str]:
        """Team channel (``#name``) -> the team's Slack user group, for teams with both."""
        out: dict[str, str] = {}
        for owner in self.owners:
            team = owner.team
            if team is not None and team.slack_channel and team.slack_user_group:
                out.setdefault("#" + team.slack_channel.lstrip("#"), team.slack_user_group)
        return out

    def condition(self) -> tuple[bool, str, str]:
        """(status, reason, message) of the incident's ServiceResolved condition."""
        if self.unknown:
            names = ", ".join(self.unknown)
            return (
                False,
                "UnknownService",
                f"no Service named {names} in namespace {self.namespace}; create it (kind "
                "Service) to route this incident to its owner team",
            )
        if bad := self.unresolved_owners:
            detail = "; ".join(f"service {o.service}: {o.message}" for o in bad)
            return False, "OwnerUnresolved", detail
        teams = ", ".join(self.teams)
        return True, "Resolved", f"owned by {teams}"


def _chosen_route(owner: Ownership, team: TeamEntry) -> PageRoute | None:
    """The Service's route where it chose one the team declares, else the team's default."""
    if owner.route is not None and (secret := team.routes.get(owner.route)) is not None:
        return PageRoute(team.name, owner.route, secret)
    if team.routing_key is not None:
        return PageRoute(team.name, None, team.routing_key)
    return None


def services_of(service: str, more: Sequence[str]) -> tuple[str, ...]:
    """spec.service then spec.services, first occurrence kept."""
    return tuple(dict.fromkeys([service, *more]))


def resolve(
    namespace: str,
    wanted: Sequence[str],
    services: Mapping[str, ServiceEntry],
    teams: Mapping[str, TeamEntry],
) -> Resolution:
    """Resolve ``wanted`` service names against ``services`` (looked up in ``namespace``)
    and ``teams`` (by name)."""
    names = tuple(dict.fromkeys(wanted))
    unknown: list[str] = []
    owners: list[Ownership] = []
    for name in names:
        entry = services.get(name)
        if entry is None or entry.namespace != namespace or entry.name != name:
            unknown.append(name)
            continue
        owners.append(ownership(entry, teams.get(entry.owner)))
    return Resolution(namespace, names, tuple(unknown), tuple(owners))


def service_condition(owner: Ownership) -> tuple[bool, str, str]:
    """(status, reason, message) of a Service's OwnerResolved condition."""
    if owner.problem is None:
        return True, "Resolved", owner.message
    return False, owner.problem.value, owner.message
