"""The catalog's retries run only where a catalog exists (issue 15: one kopf task per
unresolved SLO or incident, and without any Team or Service every one is unresolved). SLOs:
tests/unit/services/test_slo_bookkeeping.py."""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator.adapters.watch_cache import WatchedObjects
from incident_operator.handlers.catalog import _open_and_unresolved, _unresolved
from tests.fakes.context import operator_memo

UNRESOLVED: dict[str, Any] = {
    "phase": "investigating",
    "conditions": [{"type": "ServiceResolved", "status": "False", "reason": "UnknownService"}],
}
RESOLVED: dict[str, Any] = {
    "phase": "investigating",
    "conditions": [{"type": "ServiceResolved", "status": "True", "reason": "Resolved"}],
}


def status(raw: dict[str, Any]) -> kopf.Status:
    return kopf.Body({"status": raw}).status


def test_no_retry_timer_without_a_team_or_a_service() -> None:
    memo = operator_memo(team_cache=WatchedObjects(), service_cache=WatchedObjects())
    assert not _unresolved(status(UNRESOLVED), memo)
    assert not _open_and_unresolved(status(UNRESOLVED), memo)
    assert not _unresolved(status(UNRESOLVED), operator_memo())  # no caches at all


def test_the_first_team_or_service_turns_the_retries_on() -> None:
    for which in ("team_cache", "service_cache"):
        cache = WatchedObjects()
        memo = operator_memo(**{which: cache})
        cache.observe("payments", {"metadata": {"name": "payments"}}, deleted=False)
        assert _unresolved(status(UNRESOLVED), memo)
        assert _open_and_unresolved(status(UNRESOLVED), memo)
        assert not _unresolved(status(RESOLVED), memo)
        assert not _open_and_unresolved(status({**UNRESOLVED, "phase": "closed"}), memo)
        cache.observe("payments", {"metadata": {"name": "payments"}}, deleted=True)
        assert not _unresolved(status(UNRESOLVED), memo), "gone again: no catalog"
