"""Roles from the on-call rotation through both writers, on the in-memory store.

SLO-declared incidents get ``spec.roles`` when they are created; human-declared ones get
``status.roles`` filled once at their first reconcile; spec roles always win; a missing
rotation or nobody on call declares anyway and says why in the timeline.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from incident_operator.services.incident_lifecycle import IncidentLifecycleService
from incident_operator.services.slo_evaluation import SloEvaluationService
from tests.builders.objects import incident, severity
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.metrics import FakeMetrics
from tests.fakes.ports.store import FakeStore

NS = "shop"
T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)  # a Friday; week 0 of the rotation below


def rotation(name: str = "oncall", *, operations: bool = False, start: str = "2026-11-23") -> Any:
    """Weekly layers from Monday 2026-11-23 09:00 Berlin: primary alice, secondary bob."""
    turn = {"type": "weekly", "start": f"{start}T09:00:00", "handoffTime": "09:00"}
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "OnCallRotation",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "timeZone": "Europe/Berlin",
            "participants": [{"name": "alice"}, {"name": "bob"}],
            "layers": [
                {"name": "primary", "members": ["alice", "bob"], "rotation": turn},
                {"name": "secondary", "members": ["bob", "alice"], "rotation": turn},
            ],
            "operationsFromNextLayer": operations,
        },
    }


class Lifecycle:
    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.clock = FakeClock(T0)
        self.service = IncidentLifecycleService(store, self.clock)

    async def reconcile(self, name: str = "inc", after: timedelta = timedelta()) -> Any:
        self.clock.advance(after)
        body = await self.store.get_incident(NS, name)
        assert body is not None
        await self.service.reconcile(body)
        return await self.store.get_incident(NS, name)


def types(body: dict[str, Any]) -> list[str]:
    return [e["type"] for e in body["status"].get("timeline", [])]


async def test_a_manual_incident_without_commander_gets_the_rotation_commander_once() -> None:
    store = FakeStore(severities={"sev-2": severity(rotationRef="oncall")})
    store.rotations[(NS, "oncall")] = rotation(operations=True)
    await store.create_incident(NS, incident("inc"))
    life = Lifecycle(store)
    body = await life.reconcile()
    assert body["status"]["roles"] == {"commander": "alice", "operations": "bob"}
    assert body["status"]["rotationRoles"] == {"commander": "alice", "operations": "bob"}
    assert [e["message"] for e in body["status"]["timeline"]] == [
        "commander: alice (from the on-call rotation)",
        "operations: bob (from the on-call rotation)",
    ]
    # Ten days later bob is primary; the incident keeps who was on call at declaration.
    store.rotations[(NS, "oncall")] = rotation(operations=True, start="2026-11-16")
    body = await life.reconcile(after=timedelta(days=10))
    assert body["status"]["roles"] == {"commander": "alice", "operations": "bob"}
    assert types(body) == ["role-assigned", "role-assigned"]


async def test_spec_roles_override_and_changes_are_recorded_with_the_generation() -> None:
    store = FakeStore(severities={"sev-2": severity(rotationRef="oncall")})
    store.rotations[(NS, "oncall")] = rotation()
    await store.create_incident(NS, incident("inc"))
    life = Lifecycle(store)
    await life.reconcile()
    await store.patch_incident(NS, "inc", spec={"roles": {"commander": "carol"}})
    body = await life.reconcile(after=timedelta(minutes=1))
    assert body["status"]["roles"] == {"commander": "carol"}
    assert body["status"]["timeline"][-1] | {"at": None} == {
        "at": None,
        "type": "role-changed",
        "message": "commander: alice -> carol",
        "source": "operator",
        "key": "role/commander/2",
    }
    # The human steps back: the rotation's answer at declaration is the fallback again.
    await store.patch_incident(NS, "inc", spec={"roles": {"commander": None}})
    body = await life.reconcile(after=timedelta(minutes=1))
    assert body["status"]["roles"] == {"commander": "alice"}
    assert body["status"]["timeline"][-1]["message"] == (
        "commander: carol -> alice (from the on-call rotation)"
    )
    again = await life.reconcile(after=timedelta(minutes=1))
    assert len(again["status"]["timeline"]) == len(body["status"]["timeline"]), "no repeats"


async def test_a_commander_in_the_spec_means_the_rotation_is_not_asked() -> None:
    store = FakeStore(severities={"sev-2": severity(rotationRef="oncall")})
    store.rotations[(NS, "oncall")] = rotation()
    await store.create_incident(NS, incident("inc", roles={"commander": "carol"}))
    body = await Lifecycle(store).reconcile()
    assert body["status"]["roles"] == {"commander": "carol"}
    assert "rotationRoles" not in body["status"]
    assert types(body) == [], "the declaration's own roles are not news"


async def test_a_missing_rotation_leaves_roles_empty_and_says_why() -> None:
    store = FakeStore(severities={"sev-2": severity(rotationRef="gone")})
    await store.create_incident(NS, incident("inc"))
    body = await Lifecycle(store).reconcile()
    assert body["status"]["phase"] == "triage"
    assert "roles" not in body["status"] or not body["status"]["roles"]
    (why,) = body["status"]["timeline"]
    assert why["type"] == "roles-unfilled"
    assert why["message"] == "OnCallRotation shop/gone not found: no commander"


def slo(**declare: Any) -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "checkout", "namespace": NS, "uid": "u-1"},
        "spec": {
            "service": "checkout",
            "target": 99.9,
            "indicator": {"ratio": {"errors": "e[{{window}}]", "total": "t[{{window}}]"}},
            "declare": {"enabled": True, **declare},
        },
    }


async def declare(store: FakeStore) -> dict[str, Any]:
    metrics = FakeMetrics()
    metrics.set(f"{NS}/checkout", 1.0)
    service = SloEvaluationService(store, metrics, FakeClock(T0))
    report = await service.cycle()
    (name,) = report.declared
    body = await store.get_incident(NS, name.split("/")[1])
    assert body is not None
    return body


async def test_an_slo_declares_with_the_commander_and_operations_of_its_rotation() -> None:
    store = FakeStore()
    store.add_slo(slo(rotationRef="oncall"))
    store.rotations[(NS, "oncall")] = rotation(operations=True)
    body = await declare(store)
    assert body["spec"]["roles"] == {"commander": "alice", "operations": "bob"}
    entries = {e["type"]: e for e in body["status"]["timeline"]}
    assert entries["role-assigned"]["key"] == "role/operations/1"
    # The lifecycle's first reconcile neither asks again nor repeats the entries.
    after = await Lifecycle(store).reconcile(body["metadata"]["name"])
    assert after["status"]["roles"] == {"commander": "alice", "operations": "bob"}
    assert types(after).count("role-assigned") == 2


async def test_an_slo_without_its_own_rotation_uses_the_severity_rotation() -> None:
    store = FakeStore(severities={"sev-2": severity(rotationRef="oncall")})
    store.add_slo(slo())
    store.rotations[(NS, "oncall")] = rotation()
    body = await declare(store)
    assert body["spec"]["roles"] == {"commander": "alice"}


async def test_an_slo_declares_anyway_when_nobody_is_on_call() -> None:
    store = FakeStore()
    store.add_slo(slo(rotationRef="oncall"))
    store.rotations[(NS, "oncall")] = rotation(start="2027-01-04")  # starts next year
    body = await declare(store)
    assert "roles" not in body["spec"]
    (why,) = [e for e in body["status"]["timeline"] if e["type"] == "roles-unfilled"]
    assert why["message"] == (
        "Nobody on call in OnCallRotation shop/oncall at 2026-11-27T14:00:00Z: no commander"
    )
