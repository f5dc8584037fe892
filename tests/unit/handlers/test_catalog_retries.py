"""The catalog's retries run only where a catalog exists (issue 15: one kopf task per
unresolved SLO or incident, and without any Team or Service every one is unresolved); SLOs
are retried by one loop, woken by a Team or Service change."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import kopf

from incident_operator.adapters.watch_cache import WatchedObjects
from incident_operator.handlers.catalog import _open_and_unresolved, _unresolved, retry_slos_loop
from incident_operator.services.catalog import CatalogService
from tests.fakes.context import operator_context, operator_memo
from tests.fakes.ports.catalog import FakeCatalog
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.store import FakeStore

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


async def test_a_team_or_service_change_resolves_waiting_slos_within_seconds() -> None:
    store = FakeStore()
    catalog = FakeCatalog()
    catalog.add_team("payments", namespaces=["shop"])
    store.add_slo(
        {
            "metadata": {"name": "late", "namespace": "shop"},
            "spec": {"service": "inventory"},
            "status": {"conditions": UNRESOLVED["conditions"]},
        }
    )
    services = WatchedObjects()
    context = operator_context(
        catalog_service=CatalogService(catalog, store, FakeClock()), service_cache=services
    )
    task = asyncio.create_task(retry_slos_loop(context))
    try:
        catalog.add_service("shop", "inventory", owner="payments")
        services.observe("shop/inventory", {"metadata": {"name": "inventory"}}, deleted=False)
        context.state.catalog_changed.set()  # as cache_services does on the watch event

        def resolved() -> bool:
            conditions = store.slos[("shop", "late")]["status"]["conditions"]
            return bool(conditions[0]["status"] == "True")

        for _ in range(40):
            if resolved():
                break
            await asyncio.sleep(0.1)
        assert resolved(), "not resolved within 4 s of the change (RETRY_INTERVAL is 60 s)"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
