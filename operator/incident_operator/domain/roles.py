"""Incident roles: who holds each role, and what changed — pure.

Why here: the same rule decides roles for an SLO-declared incident (the SLO service writes
them into ``spec.roles`` when it creates the object) and for a human-declared one (the
lifecycle service fills ``status.roles`` once), so both paths must agree on one function.

The rule: a human's ``spec.roles`` always win. Where a role is empty, the rotation's answer
*at the declaration instant* fills it: the commander is the person of the topmost layer that
has someone (the same person the engine would page, ``rotation.top``); with
``operations_from_next_layer`` the operations lead is the person of the first layer below the
commander's layer that has someone else (the same person twice would leave the incident with
one pair of hands while looking staffed). Other roles are never taken from a rotation: a
rotation says who is on call, not who writes the status page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .rotation import LayerOnCall

ROLES = ("commander", "communications", "operations", "scribe")
"""Every incident role, in the order humans read them."""

Roles = Mapping[str, str | None]


@dataclass(frozen=True)
class RoleAssignment:
    roles: dict[str, str]
    """Effective roles: only filled ones appear."""
    from_rotation: frozenset[str]
    """Which of ``roles`` came from the rotation rather than from a human."""


@dataclass(frozen=True)
class RotationRoles:
    """What the rotation offers at the declaration instant, before any human override."""

    commander: str | None
    operations: str | None
    commander_layer: str | None
    operations_layer: str | None


def roles_from_layers(
    layers: Sequence[LayerOnCall], *, operations_from_next_layer: bool
) -> RotationRoles:
    """Commander from the first layer with someone; operations from a later layer if asked."""
    index = next((i for i, e in enumerate(layers) if e.person is not None), None)
    if index is None:
        return RotationRoles(None, None, None, None)
    commander = layers[index]
    if not operations_from_next_layer:
        return RotationRoles(commander.person, None, commander.layer, None)
    below = next(
        (e for e in layers[index + 1 :] if e.person is not None and e.person != commander.person),
        None,
    )
    return RotationRoles(
        commander.person,
        below.person if below else None,
        commander.layer,
        below.layer if below else None,
    )


def effective_roles(spec: Roles, rotation: RotationRoles | None) -> RoleAssignment:
    """Spec roles, with empty commander/operations filled from the rotation's answer."""
    roles = {r: str(spec[r]) for r in ROLES if spec.get(r)}
    filled: set[str] = set()
    if rotation is not None:
        for role, person in (
            ("commander", rotation.commander),
            ("operations", rotation.operations),
        ):
            if person and role not in roles:
                roles[role] = person
                filled.add(role)
    return RoleAssignment(roles, frozenset(filled))


@dataclass(frozen=True)
class RoleEntry:
    """A timeline entry to append (the caller adds the instant, author and source)."""

    type: str
    message: str
    key: str


def role_entries(
    old: Roles, new: Roles, *, from_rotation: frozenset[str] = frozenset(), version: str
) -> tuple[RoleEntry, ...]:
    """One entry per role whose holder changed between ``old`` and ``new`` effective roles.

    ``role-assigned`` when the role was empty before, ``role-changed`` otherwise (including a
    role emptied). The dedup key holds ``version`` (the incident's generation) so the same
    change seen again on a retry is recorded once, while a later change back to an earlier
    person is still recorded. The SLO engine writes its declaration's roles with version 1,
    the generation it creates, so its entry and the lifecycle's for the same fact share a key.
    """
    out = []
    for role in ROLES:
        before, after = old.get(role) or None, new.get(role) or None
        if before == after:
            continue
        origin = " (from the on-call rotation)" if role in from_rotation else ""
        key = f"role/{role}/{version}"
        if before is None:
            out.append(RoleEntry("role-assigned", f"{role}: {after}{origin}", key))
        else:
            out.append(
                RoleEntry(
                    "role-changed",
                    f"{role}: {before} -> {after or '(nobody)'}{origin}",
                    key,
                )
            )
    return tuple(out)
