"""Writing a person's intent into an Incident's spec without fighting Git (issue 16).

The operator changes a spec only on someone's behalf (a Slack command), as that person's
edit under the operator's field manager; a field a GitOps tool applied is refused, never
forced, and the refusal is a ``FieldConflict`` condition on the incident as well as the
error the caller reports.
"""

from __future__ import annotations

from datetime import datetime

from incident_operator.adapters.ports import Body, ResourceStore
from incident_operator.api.v1alpha1.convert import conditions_status, existing_conditions
from incident_operator.domain.conditions import Condition, Status, set_condition
from incident_operator.errors import Conflict, FieldOwnedElsewhere

FIELD_CONFLICT = "FieldConflict"
"""Condition type: True when a change asked for touched a field Git declares; the lifecycle
turns it False once the spec moved on (a later generation: a change that did apply)."""


async def apply_intent(store: ResourceStore, incident: Body, spec: Body, now: datetime) -> Body:
    """Change ``spec`` for a person; FieldOwnedElsewhere (after the condition) if refused."""
    meta = incident["metadata"]
    namespace, name = str(meta["namespace"]), str(meta["name"])
    try:
        applied = await store.edit_incident(namespace, name, {"spec": spec})
    except FieldOwnedElsewhere as exc:
        owners = ", ".join(f"{f} is applied by {m}" for f, m in exc.fields.items())
        await _condition(
            store,
            incident,
            Condition(
                FIELD_CONFLICT,
                Status.TRUE,
                "OwnedByAnotherManager",
                f"not changed: {owners}; change it where it is declared (Git)",
                now,
                int(meta.get("generation") or 0),
            ),
        )
        raise
    return applied


async def _condition(store: ResourceStore, incident: Body, condition: Condition) -> None:
    """Set one condition on the version read (the list is one field: never a blind write)."""
    meta = incident["metadata"]
    conditions = set_condition(existing_conditions(incident), condition)
    try:
        await store.patch_incident(
            str(meta["namespace"]),
            str(meta["name"]),
            status={"conditions": conditions_status(conditions)},
            resource_version=str(meta.get("resourceVersion") or "") or None,
        )
    except Conflict:
        fresh = await store.get_incident(str(meta["namespace"]), str(meta["name"]))
        if fresh is not None:
            conditions = set_condition(existing_conditions(fresh), condition)
            await store.patch_incident(
                str(meta["namespace"]),
                str(meta["name"]),
                status={"conditions": conditions_status(conditions)},
            )
