"""kopf's lifecycle for our handlers: every due handler in one pass (one patch per change),
change correlation after them."""

from __future__ import annotations

from dataclasses import dataclass

from incident_operator.handlers import settings


@dataclass(frozen=True)
class Due:
    id: str


def ids(handlers: object) -> list[str]:
    return [h.id for h in handlers]  # type: ignore[attr-defined]


def test_an_update_runs_every_due_handler_in_one_pass() -> None:
    due = [Due("lifecycle"), Due("catalog/spec")]
    assert ids(settings.together(due)) == ["lifecycle", "catalog/spec"]


def test_change_correlation_waits_for_the_others_on_creation() -> None:
    due = [Due("lifecycle"), Due("catalog"), Due("change-correlation")]
    assert ids(settings.together(due)) == ["lifecycle", "catalog"]
    assert ids(settings.together([Due("change-correlation")])) == ["change-correlation"]


def test_nothing_due_runs_nothing() -> None:
    assert ids(settings.together([])) == []
