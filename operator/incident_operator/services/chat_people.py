"""Who is who in chat: Slack users as the participants of the incident's OnCallRotation.

The rotation is the incident's ``spec.rotationRef``, else its Severity's; a Slack user is
the one participant whose ``slackUserId`` it is (an id two participants claim identifies
nobody). Roles go to participants only, and only the commander approves mitigations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from incident_operator.adapters.ports import Body, ResourceStore
from incident_operator.domain.slack_requests import Person
from incident_operator.errors import CommandRefused
from incident_operator.services.incidents import severity_of

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class Participants:
    """The incident's rotation participants; ``rotation`` "" when there is none."""

    rotation: str
    by_user: dict[str, str]
    names: frozenset[str]
    shared: frozenset[str] = frozenset()
    """Slack user ids more than one participant claims (they identify nobody)."""


def commander_of_incident(incident: Body) -> str:
    """The effective commander: spec.roles, else what the operator filled in status.roles."""
    for part in ("spec", "status"):
        commander = ((incident.get(part) or {}).get("roles") or {}).get("commander")
        if isinstance(commander, str) and commander:
            return commander
    return ""


class ChatPeople:
    def __init__(self, store: ResourceStore) -> None:
        self._store = store

    async def participants(self, incident: Body) -> Participants:
        spec = incident.get("spec") or {}
        rotation_ref = spec.get("rotationRef")
        if not isinstance(rotation_ref, str) or not rotation_ref:
            ref = severity_of(incident)
            severity = await self._store.get_severity(ref) if ref else None
            rotation_ref = ((severity or {}).get("spec") or {}).get("rotationRef")
        if not isinstance(rotation_ref, str) or not rotation_ref:
            return Participants("", {}, frozenset())
        namespace = incident["metadata"]["namespace"]
        rotation = await self._store.get_rotation(namespace, rotation_ref)
        people: list[Any] = ((rotation or {}).get("spec") or {}).get("participants") or []
        claims: dict[str, set[str]] = {}
        for p in people:
            if isinstance(p, dict) and p.get("slackUserId") and p.get("name"):
                claims.setdefault(str(p["slackUserId"]), set()).add(str(p["name"]))
        by_user = {user: next(iter(n)) for user, n in claims.items() if len(n) == 1}
        shared = frozenset(user for user, n in claims.items() if len(n) > 1)
        names = frozenset(str(p["name"]) for p in people if isinstance(p, dict) and p.get("name"))
        return Participants(f"{namespace}/{rotation_ref}", by_user, names, shared)

    async def author(self, incident: Body, user_id: str) -> str:
        return (await self.participants(incident)).by_user.get(user_id, user_id)

    async def person(self, incident: Body, who: Person) -> str:
        """The participant name for a mention or a name; CommandRefused when unknown."""
        people = await self.participants(incident)
        if who.user_id is not None:
            if who.user_id in people.by_user:
                return people.by_user[who.user_id]
            if who.user_id in people.shared:
                raise CommandRefused(
                    f"<@{who.user_id}> is the slackUserId of several participants of "
                    f"OnCallRotation {people.rotation}. Use the participant name instead."
                )
            if not people.rotation:
                raise CommandRefused(
                    f"Cannot map <@{who.user_id}> to a participant: the incident's severity "
                    "names no OnCallRotation. Use the participant name instead."
                )
            raise CommandRefused(
                f"<@{who.user_id}> is not a participant of OnCallRotation {people.rotation} "
                "(no participant has that slackUserId)."
            )
        if people.rotation and who.name not in people.names:
            raise CommandRefused(
                f"{who.name} is not a participant of OnCallRotation {people.rotation}."
            )
        if not _NAME.match(who.name):
            raise CommandRefused(f"{who.name!r} is not a valid participant name.")
        return who.name

    async def commander_of(self, incident: Body, user_id: str) -> str:
        """The commander's participant name when ``user_id`` maps to it; else CommandRefused."""
        meta = incident["metadata"]
        where = f"{meta['namespace']}/{meta['name']}"
        commander = commander_of_incident(incident)
        if not commander:
            raise CommandRefused(
                f"{where} has no commander: assign one (`/incident role commander @person`) "
                "before approving mitigations."
            )
        people = await self.participants(incident)
        who = people.by_user.get(user_id)
        if who == commander:
            return commander
        if who:
            reason = f"you are {who}"
        elif user_id in people.shared:
            reason = (
                f"<@{user_id}> is the slackUserId of several participants of OnCallRotation "
                f"{people.rotation}, so it identifies none of them"
            )
        elif people.rotation:
            reason = f"<@{user_id}> is not a participant of OnCallRotation {people.rotation}"
        else:
            reason = "the incident names no OnCallRotation to map your Slack user to a person"
        raise CommandRefused(
            f"Only the commander ({commander}) can approve mitigations for {where}: {reason}. "
            f"(kubectl: `kubectl incident mitigate {meta['name']} --approve NAME`)"
        )
