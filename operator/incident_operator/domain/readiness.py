"""What an object's Ready condition says after a reconcile."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from .conditions import Condition, Status, set_condition

READY = "Ready"


@dataclass(frozen=True)
class Observation:
    """The status the operator writes after looking at one object."""

    observed_generation: int
    conditions: tuple[Condition, ...]


def observe(
    *,
    generation: int,
    existing: Iterable[Condition],
    problems: tuple[str, ...],
    now: datetime,
) -> Observation:
    """Ready=True when the spec was understood, otherwise False with every problem listed."""
    if problems:
        ready = Condition(
            type=READY,
            status=Status.FALSE,
            reason="InvalidSpec",
            message="; ".join(problems),
            last_transition_time=now,
            observed_generation=generation,
        )
    else:
        ready = Condition(
            type=READY,
            status=Status.TRUE,
            reason="Reconciled",
            message="The operator accepted this object.",
            last_transition_time=now,
            observed_generation=generation,
        )
    return Observation(generation, set_condition(existing, ready))
