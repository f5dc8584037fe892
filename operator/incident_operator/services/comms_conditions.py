"""The delivery conditions on an incident: ``ChatDegraded`` and ``PagingDegraded`` follow the
comms outbox (True while deliveries of that medium keep failing), ``SubscribersDegraded`` the
status page subscribers' deliveries; a Warning Event when one turns True.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from incident_operator.adapters.ports import Body, ResourceStore
from incident_operator.api.v1alpha1.convert import conditions_status, existing_conditions
from incident_operator.domain import outbox
from incident_operator.domain.conditions import Condition, Status, set_condition
from incident_operator.errors import Conflict

CONDITION_WRITE_ATTEMPTS = 5
"""Conditional writes of the degraded conditions before giving up to the next sync."""


DEGRADED = {outbox.Medium.CHAT: "ChatDegraded", outbox.Medium.PAGER: "PagingDegraded"}
SUBSCRIBERS_DEGRADED = "SubscribersDegraded"

Failing = Mapping[str, tuple[str, Sequence[tuple[str, outbox.Attempt]]]]
"""Condition type -> (what is delivered, e.g. ``chat``; its failing operations by key)."""


async def report_degraded(
    store: ResourceStore, body: Body, attempts: Mapping[str, outbox.Attempt], now: datetime
) -> None:
    """ChatDegraded / PagingDegraded follow the outbox; an Event when one turns True."""
    failing = {
        type_: (medium.value, outbox.degraded(attempts, medium))
        for medium, type_ in DEGRADED.items()
    }
    await report_failing(store, body, failing, now)


async def report_failing(store: ResourceStore, body: Body, failing: Failing, now: datetime) -> None:
    """Each condition of ``failing`` True while its operations fail (False once none do, if it
    was written before); an Event when one turns True.

    The conditions list is shared with the lifecycle handler: written only onto the
    version it was read from, re-read and recomputed when that version is gone.
    """
    for _attempt in range(CONDITION_WRITE_ATTEMPTS):
        try:
            await _report_once(store, body, failing, now)
            return
        except Conflict:
            continue
    raise Conflict(
        f"incident {body['metadata']['name']} kept changing; conditions tried "
        f"{CONDITION_WRITE_ATTEMPTS} times"
    )


async def _report_once(store: ResourceStore, body: Body, failing: Failing, now: datetime) -> None:
    current = await store.get_incident(body["metadata"]["namespace"], body["metadata"]["name"])
    if current is None:
        return
    conditions = existing_conditions(current)
    before = {c.type: c.status for c in conditions}
    generation = int(current["metadata"].get("generation", 0))
    changed = False
    turned_true: list[Condition] = []
    for type_, (medium, operations) in failing.items():
        if operations:
            key, attempt = operations[0]
            message = (
                f"{len(operations)} {medium} deliveries failing; {key}: {attempt.error} "
                f"(attempt {attempt.attempts}); everything is retried until it goes out"
            )
            condition = Condition(type_, Status.TRUE, "DeliveryFailing", message, now, generation)
        elif type_ in before:
            condition = Condition(
                type_,
                Status.FALSE,
                "Delivered",
                f"{medium} deliveries up to date",
                now,
                generation,
            )
        else:
            continue
        if before.get(type_) != condition.status:
            changed = True
            conditions = set_condition(conditions, condition)
            if condition.status is Status.TRUE:
                turned_true.append(condition)
    if not changed:
        return
    meta = current["metadata"]
    await store.patch_incident(
        meta["namespace"],
        meta["name"],
        status={"conditions": conditions_status(conditions)},
        resource_version=meta.get("resourceVersion"),
    )
    # After the write: a conflict retried above must not announce the same change twice.
    for condition in turned_true:
        await store.emit_event(current, condition.type, condition.message, warning=True)
