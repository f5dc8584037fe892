"""Ask an incident's on-call rotation who takes its roles at the declaration instant.

Shared by the SLO engine (roles go into the Incident it creates) and the lifecycle service
(roles fill ``status`` of a human-declared incident). Every way of not getting an answer — the
rotation is missing, unreadable, names an unknown time zone, or has nobody on call — becomes a
``problem`` sentence for the timeline, never an exception: an incident is declared anyway, and
a commander-less incident that says why is better than one that is not declared at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from incident_operator.adapters.ports import Body, ResourceStore
from incident_operator.api.v1alpha1.rotation import OnCallRotation
from incident_operator.domain import roles
from incident_operator.domain.rotation import UnknownTimeZone, on_call_across
from incident_operator.domain.times import iso

from .rotation_status import all_versions

UNFILLED = "roles-unfilled"
"""Timeline entry type when the rotation could not provide a commander."""


@dataclass(frozen=True)
class RotationAnswer:
    roles: roles.RotationRoles | None
    problem: str | None
    """Why no commander came from the rotation; None when one did."""


async def ask_rotation(
    store: ResourceStore, namespace: str, name: str, at: datetime
) -> RotationAnswer:
    """The rotation's commander (and operations lead, if it says so) at ``at``."""
    body = await store.get_rotation(namespace, name)
    if body is None:
        return RotationAnswer(None, f"OnCallRotation {namespace}/{name} not found: no commander")
    return answer(body, f"{namespace}/{name}", at)


def answer(body: Body, label: str, at: datetime) -> RotationAnswer:
    """Pure part of ``ask_rotation``: the stored object in, the roles or the reason out."""
    try:
        spec = OnCallRotation.model_validate({k: v for k, v in body.items() if k != "status"}).spec
        layers = on_call_across(all_versions(body, spec), at)
    except (ValidationError, ValueError, UnknownTimeZone) as exc:
        first = str(exc).splitlines()[0]
        return RotationAnswer(None, f"OnCallRotation {label} unreadable ({first}): no commander")
    found = roles.roles_from_layers(
        layers, operations_from_next_layer=spec.operations_from_next_layer
    )
    if found.commander is None:
        return RotationAnswer(
            found, f"Nobody on call in OnCallRotation {label} at {iso(at)}: no commander"
        )
    return RotationAnswer(found, None)
