"""kopf's lifecycle for our handlers: every due handler in one pass (one patch per change), and
no Incident handler that needs a pass of its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import kopf

from incident_operator.api.bookkeeping import CHANGE_CORRELATION, LIFECYCLE
from incident_operator.handlers import runner, settings


@dataclass(frozen=True)
class Due:
    id: str


def test_every_due_handler_runs_in_one_pass() -> None:
    due: list[Any] = [Due("lifecycle"), Due("catalog"), Due("change-correlation")]
    body = kopf.Body({"metadata": {"uid": "u-1"}})
    for reason in (kopf.Reason.CREATE, kopf.Reason.UPDATE, kopf.Reason.RESUME):
        assert list(settings.LIFECYCLE(due, state={}, body=body, reason=reason)) == due
    assert list(settings.LIFECYCLE([], state={}, body=body, reason=kopf.Reason.UPDATE)) == []


def incident_handlers(handlers: object) -> list[Any]:
    return [
        h
        for h in handlers  # type: ignore[attr-defined]
        if h.selector is not None and h.selector.any_name == "incidents"
    ]


def test_change_correlation_is_no_creation_handler() -> None:
    """A creation handler run after the lifecycle's pass made kopf record an edit that arrived
    in between as handled: the lifecycle never saw it (the status-page e2e's incident, resolved
    right after its declaration, stayed open)."""
    assert runner.HANDLER_MODULES  # imported: every handler module has registered
    changing = {
        h.id for h in incident_handlers(kopf.get_default_registry()._changing.get_all_handlers())
    }
    assert LIFECYCLE in changing
    assert CHANGE_CORRELATION not in changing


def test_change_correlation_is_a_one_shot_timer() -> None:
    assert runner.HANDLER_MODULES
    spawning = incident_handlers(kopf.get_default_registry()._spawning.get_all_handlers())
    (timer,) = [h for h in spawning if h.id == CHANGE_CORRELATION]
    assert type(timer).__name__ == "TimerHandler"
    # Neither an interval nor idling: one run, retried until it succeeds.
    assert getattr(timer, "interval", 0) is None
    assert getattr(timer, "idle", 0) is None
