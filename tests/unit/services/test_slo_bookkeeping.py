"""The SLOs' bookkeeping loop: Ready, observedGeneration and ServiceResolved written for the
SLOs owed them, once, onto the version they were computed from (issue 15: no kopf handler
per SLO)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

from incident_operator.adapters.watch_cache import WatchedObjects
from incident_operator.handlers.slo_bookkeeping import bookkeeping_loop
from incident_operator.services.catalog import CatalogService
from incident_operator.services.slo_bookkeeping import SloBookkeeping, owed
from tests.fakes.context import operator_context
from tests.fakes.ports.catalog import FakeCatalog
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.store import FakeStore

NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
NS = "shop"


def slo(name: str, service: str, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": name, "namespace": NS, "generation": 1},
        "spec": {
            "service": service,
            "target": 99.9,
            "indicator": {"ratio": {"errors": "e[{{window}}]", "total": "t[{{window}}]"}},
        },
        **({"status": status} if status else {}),
    }


def condition(body: dict[str, Any], type_: str) -> dict[str, Any]:
    (found,) = [c for c in body["status"]["conditions"] if c["type"] == type_]
    return dict(found)


class World:
    def __init__(self, store: FakeStore | None = None) -> None:
        self.store = store or FakeStore()
        self.catalog = FakeCatalog()
        self.catalog.add_team("payments", namespaces=[NS])
        self.service = SloBookkeeping(
            self.store,
            FakeClock(NOW),
            catalog=CatalogService(self.catalog, self.store, FakeClock(NOW)),
        )

    def get(self, name: str) -> dict[str, Any]:
        return self.store.slos[(NS, name)]


async def test_a_new_slo_gets_ready_and_service_resolved_once() -> None:
    world = World()
    world.store.add_slo(slo("fine", "checkout"))
    assert owed(world.get("fine"), catalog_in_use=False)
    assert await world.service.reconcile(catalog_in_use=False) == 1
    body = world.get("fine")
    assert body["status"]["observedGeneration"] == 1
    assert condition(body, "Ready")["status"] == "True"
    assert condition(body, "ServiceResolved")["reason"] == "UnknownService"
    assert not owed(body, catalog_in_use=False), "nothing more without a catalog"
    version = body["metadata"]["resourceVersion"]
    assert await world.service.reconcile(catalog_in_use=False) == 0
    assert world.get("fine")["metadata"]["resourceVersion"] == version


async def test_an_invalid_spec_is_not_ready_with_the_reason() -> None:
    world = World()
    broken = slo("broken", "checkout")
    broken["spec"]["target"] = "lots"
    world.store.add_slo(broken)
    assert await world.service.reconcile(catalog_in_use=False) == 1
    ready = condition(world.get("broken"), "Ready")
    assert ready["status"] == "False"
    assert "target" in ready["message"]


async def test_a_new_generation_is_observed_again() -> None:
    world = World()
    world.store.add_slo(slo("fine", "checkout"))
    await world.service.reconcile(catalog_in_use=False)
    world.get("fine")["metadata"]["generation"] = 2
    world.get("fine")["spec"]["service"] = "inventory"
    assert owed(world.get("fine"), catalog_in_use=False)
    assert await world.service.reconcile(catalog_in_use=False) == 1
    assert world.get("fine")["status"]["observedGeneration"] == 2
    assert condition(world.get("fine"), "ServiceResolved")["observedGeneration"] == 2


async def test_with_a_catalog_an_unresolved_slo_resolves_when_its_service_appears() -> None:
    world = World()
    world.store.add_slo(slo("late", "inventory"))
    assert await world.service.reconcile(catalog_in_use=True) == 1
    assert condition(world.get("late"), "ServiceResolved")["status"] == "False"
    assert owed(world.get("late"), catalog_in_use=True), "retried while a catalog exists"
    assert await world.service.reconcile(catalog_in_use=True) == 0, "unchanged: no write"
    world.catalog.add_service(NS, "inventory", owner="payments")
    assert await world.service.reconcile(catalog_in_use=True) == 1
    assert condition(world.get("late"), "ServiceResolved")["status"] == "True"
    assert not owed(world.get("late"), catalog_in_use=True)


class MovedOn(FakeStore):
    """Lists an SLO as it was before someone else's write landed."""

    async def list_slos(self) -> list[dict[str, Any]]:
        listed = await super().list_slos()
        for body in self.slos.values():
            body["metadata"]["resourceVersion"] += "0"
        return listed


async def test_a_write_never_lands_on_a_newer_slo() -> None:
    world = World(MovedOn())
    world.store.add_slo(slo("late", "inventory"))
    assert await world.service.reconcile(catalog_in_use=True) == 0
    assert "status" not in world.get("late")


async def test_the_loop_resolves_waiting_slos_within_seconds_of_a_wake() -> None:
    world = World()
    services = WatchedObjects()
    context = operator_context(
        slo_bookkeeping=world.service,
        catalog_service=CatalogService(world.catalog, world.store, FakeClock(NOW)),
        service_cache=services,
    )
    world.store.add_slo(slo("late", "inventory"))
    task = asyncio.create_task(bookkeeping_loop(context))
    try:
        for _ in range(40):  # the first look is at start-up
            if "status" in world.get("late"):
                break
            await asyncio.sleep(0.1)
        assert condition(world.get("late"), "ServiceResolved")["status"] == "False"
        world.catalog.add_service(NS, "inventory", owner="payments")
        services.observe("shop/inventory", {"metadata": {"name": "inventory"}}, deleted=False)
        context.state.slos_owed.set()  # as cache_services does on the watch event

        def resolved() -> bool:
            return bool(condition(world.get("late"), "ServiceResolved")["status"] == "True")

        for _ in range(40):
            if resolved():
                break
            await asyncio.sleep(0.1)
        assert resolved(), "not resolved within 4 s of the wake (RETRY_INTERVAL is 60 s)"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
