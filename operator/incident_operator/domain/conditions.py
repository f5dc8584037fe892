"""Kubernetes-style conditions as values, and the rule for updating them.

lastTransitionTime only moves when the status flips; a reconcile that finds the same
truth must not churn the object (watchers would see a change every cycle).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class Condition:
    type: str
    status: Status
    reason: str
    message: str
    last_transition_time: datetime
    observed_generation: int | None = None


def set_condition(existing: Iterable[Condition], new: Condition) -> tuple[Condition, ...]:
    """Return ``existing`` with ``new`` merged in, keeping the transition time when unchanged."""
    result: list[Condition] = []
    found = False
    for current in existing:
        if current.type != new.type:
            result.append(current)
            continue
        found = True
        if current.status == new.status:
            new = replace(new, last_transition_time=current.last_transition_time)
        result.append(new)
    if not found:
        result.append(new)
    return tuple(result)
