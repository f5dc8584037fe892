"""API <-> domain conversion, in one tested place."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from incident_operator.domain import conditions as domain

from .common import CommonStatus, Condition, ConditionStatus


def condition_to_domain(condition: Condition) -> domain.Condition:
    return domain.Condition(
        type=condition.type,
        status=domain.Status(condition.status.value),
        reason=condition.reason,
        message=condition.message,
        last_transition_time=condition.last_transition_time,
        observed_generation=condition.observed_generation,
    )


def condition_from_domain(condition: domain.Condition) -> Condition:
    return Condition(
        type=condition.type,
        status=ConditionStatus(condition.status.value),
        reason=condition.reason,
        message=condition.message,
        last_transition_time=condition.last_transition_time,
        observed_generation=condition.observed_generation,
    )


def conditions_to_domain(conditions: Iterable[Condition]) -> tuple[domain.Condition, ...]:
    return tuple(condition_to_domain(c) for c in conditions)


def existing_conditions(body: Mapping[str, Any]) -> tuple[domain.Condition, ...]:
    """The conditions an object's status already holds; an unreadable status counts as none.

    The status is our own earlier observation: when it cannot be read it is rewritten, and
    never a reason to stop reconciling the object.
    """
    try:
        status = CommonStatus.model_validate(body.get("status") or {})
    except ValidationError:
        return ()
    return conditions_to_domain(status.conditions)
