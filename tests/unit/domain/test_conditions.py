from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incident_operator.domain.conditions import Condition, Status, set_condition
from incident_operator.domain.readiness import READY, observe

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def cond(status: Status, at: datetime, type_: str = READY, reason: str = "R") -> Condition:
    return Condition(type_, status, reason, "m", at, 1)


def test_adding_a_new_condition_appends_it() -> None:
    other = cond(Status.TRUE, T0, type_="Burning")
    assert set_condition([other], cond(Status.TRUE, T1)) == (other, cond(Status.TRUE, T1))


def test_same_status_keeps_transition_time_but_takes_new_reason() -> None:
    result = set_condition([cond(Status.TRUE, T0)], cond(Status.TRUE, T1, reason="New"))
    assert result == (Condition(READY, Status.TRUE, "New", "m", T0, 1),)


def test_flipped_status_moves_transition_time() -> None:
    result = set_condition([cond(Status.TRUE, T0)], cond(Status.FALSE, T1))
    assert result == (cond(Status.FALSE, T1),)


def test_observe_valid_spec_is_ready() -> None:
    observation = observe(generation=3, existing=(), problems=(), now=T0)
    assert observation.observed_generation == 3
    (ready,) = observation.conditions
    assert (ready.type, ready.status, ready.reason, ready.observed_generation) == (
        READY,
        Status.TRUE,
        "Reconciled",
        3,
    )


def test_observe_lists_every_problem() -> None:
    observation = observe(generation=1, existing=(), problems=("a: bad", "b: worse"), now=T0)
    (ready,) = observation.conditions
    assert ready.status is Status.FALSE
    assert ready.reason == "InvalidSpec"
    assert ready.message == "a: bad; b: worse"
