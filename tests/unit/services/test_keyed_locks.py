"""KeyedLocks: mutual exclusion per key, and a map no larger than the work in flight."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from incident_operator.domain.alertmanager import AlertGroup
from incident_operator.services.alertmanager import AlertmanagerService
from incident_operator.services.comms import CommsService
from incident_operator.services.deletion import DeletionService
from incident_operator.services.freeze import FreezeService
from incident_operator.services.keyed_locks import KeyedLocks
from incident_operator.web.alertmanager_payload import WebhookPayload
from tests.builders.alertmanager import payload
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.store import FakeStore
from tests.fakes.ports.workloads import FakeWorkloads

SERVICES = Path(__file__).parents[3] / "operator" / "incident_operator" / "services"


async def test_one_holder_per_key_and_independent_keys() -> None:
    locks = KeyedLocks[str]()
    inside: dict[str, int] = {"a": 0, "b": 0}
    most: dict[str, int] = {"a": 0, "b": 0}

    async def work(key: str) -> None:
        async with locks.hold(key):
            inside[key] += 1
            most[key] = max(most[key], inside[key])
            await asyncio.sleep(0.01)
            inside[key] -= 1

    started = asyncio.get_running_loop().time()
    await asyncio.gather(*(work(k) for k in "ababab"))
    elapsed = asyncio.get_running_loop().time() - started
    assert most == {"a": 1, "b": 1}
    assert elapsed < 0.06 * 2, "keys a and b ran side by side"
    assert len(locks) == 0


async def test_idle_keys_are_forgotten_and_busy_ones_kept() -> None:
    locks = KeyedLocks[tuple[str, str]]()
    for i in range(1000):
        async with locks.hold(("ns", f"incident-{i}")):
            assert len(locks) == 1
            assert locks.locked(("ns", f"incident-{i}"))
    assert len(locks) == 0
    assert not locks.locked(("ns", "incident-1"))

    release = asyncio.Event()

    async def holder() -> None:
        async with locks.hold(("ns", "x")):
            await release.wait()

    task = asyncio.create_task(holder())
    waiter = asyncio.create_task(holder())
    await asyncio.sleep(0)
    assert len(locks) == 1
    assert locks.locked(("ns", "x"))
    release.set()
    await asyncio.gather(task, waiter)
    assert len(locks) == 0


async def test_a_cancelled_waiter_or_a_failing_holder_leaves_nothing_behind() -> None:
    locks = KeyedLocks[str]()
    release = asyncio.Event()

    async def hold_until_released() -> None:
        async with locks.hold("k"):
            await release.wait()

    holder = asyncio.create_task(hold_until_released())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold_until_released())
    await asyncio.sleep(0)
    waiter.cancel()
    release.set()
    await asyncio.gather(holder, waiter, return_exceptions=True)
    assert len(locks) == 0

    try:
        async with locks.hold("k"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert len(locks) == 0


def _group(key: str) -> AlertGroup:
    return WebhookPayload.model_validate({**payload(), "groupKey": key}).to_domain()


async def test_the_alertmanager_service_keeps_no_lock_per_group_it_has_seen() -> None:
    service = AlertmanagerService(FakeStore(), FakeClock(datetime(2026, 11, 27, tzinfo=UTC)))
    for i in range(200):
        await service.receive(_group(f'{{}}:{{alertname="a{i}"}}'))
    assert len(service._locks) == 0


def test_every_per_key_lock_map_is_a_keyed_locks() -> None:
    """One implementation: no service builds its own ``dict`` of locks (they never shrink)."""
    pattern = re.compile(r"asyncio\.Lock\b|defaultdict\(")
    found = {
        path.name: pattern.findall(path.read_text())
        for path in SERVICES.glob("*.py")
        if path.name != "keyed_locks.py"
    }
    assert {name: hits for name, hits in found.items() if hits} == {}
    users = [p.name for p in SERVICES.glob("*.py") if "KeyedLocks[" in p.read_text()]
    wanted = ["alertmanager.py", "comms.py", "deletion.py", "postmortem_tickets.py"]
    assert sorted(users) == wanted, json.dumps(users)


async def test_the_comms_service_keeps_no_lock_per_incident_it_has_synced() -> None:
    service = CommsService(FakeStore(), FakeClock(datetime(2026, 11, 27, tzinfo=UTC)))
    for i in range(200):
        await service.sync("shop", f"incident-{i}")
    assert len(service._locks) == 0


async def test_the_deletion_service_keeps_no_lock_per_incident_it_has_reconciled() -> None:
    store = FakeStore()
    clock = FakeClock(datetime(2026, 11, 27, tzinfo=UTC))
    service = DeletionService(store, FreezeService(store, FakeWorkloads(), clock))
    for i in range(200):
        assert await service.reconcile("shop", f"incident-{i}")
    assert len(service._locks) == 0
