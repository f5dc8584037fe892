"""MitigationService with the in-memory store and workloads: run, hold, refuse, verify."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incident_operator.domain import mitigation as m
from incident_operator.domain.times import iso
from incident_operator.services.incidents import requested_state
from incident_operator.services.mitigation import MitigationService
from tests.builders import objects
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.store import FakeStore
from tests.fakes.ports.workloads import FakeWorkloads
from tests.unit.domain.test_mitigation_domain import deployment, replicaset, template

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
NS = "shop"


def slo(mode: str = "auto", mitigations: list[Any] | None = None, **policy: Any) -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "checkout", "namespace": NS},
        "spec": {
            "service": "checkout",
            "target": 99.9,
            "indicator": {"ratio": {"errors": "e[{{window}}]", "total": "t[{{window}}]"}},
            "alerting": {
                "windows": [{"long": "1h", "short": "5m", "factor": 14.4, "severity": "sev-2"}]
            },
            "mitigations": mitigations
            if mitigations is not None
            else [{"rollback": {"deployment": "checkout"}}],
            "mitigationPolicy": {"mode": mode, "verifyWithin": "10m", **policy},
        },
        "status": burning_status(30.0, NOW - MIN),
    }


def burning_status(short_burn: float, at: datetime) -> dict[str, Any]:
    return {
        "lastEvaluationTime": iso(at),
        "burnRates": [{"window": "1h", "burnRate": 40.0}, {"window": "5m", "burnRate": short_burn}],
        "episode": {
            "incident": "inc",
            "startedAt": iso(NOW - 10 * MIN),
            "lastFiringAt": iso(at),
            "severity": "sev-2",
            "pair": "1h/5m",
        },
    }


def incident(name: str = "inc", **spec: Any) -> dict[str, Any]:
    """An SLO's incident as the lifecycle accepted it: services decide on status.phase."""
    spec = {
        "title": "checkout burns",
        "state": "triage",
        "source": {"type": "slo", "ref": "checkout"},
        **spec,
    }
    return objects.incident(
        name,
        NS,
        created=None,
        metadata={"generation": 1, "uid": "i-uid" if name == "inc" else f"{name}-uid"},
        status={"phase": spec["state"]},
        **spec,
    )


class World:
    def __init__(self, slo_body: dict[str, Any] | None, *, auto_allowed: bool = True, **spec: Any):
        self.store = FakeStore()
        self.workloads = FakeWorkloads()
        self.clock = FakeClock(NOW)
        self.store.severities["sev-2"] = objects.severity(mitigation={"autoAllowed": auto_allowed})
        self.store.incidents[(NS, "inc")] = incident(**spec)
        if slo_body is not None:
            self.workloads.add(slo_body)
        dep = deployment()
        self.workloads.add(dep)
        for rs in (replicaset(1, "checkout:v1", "deploy v1"), replicaset(2, "checkout:v2")):
            rs.update(apiVersion="apps/v1", kind="ReplicaSet")
            rs["metadata"].update(
                namespace=NS, ownerReferences=[{"uid": "d-uid", "controller": True}]
            )
            self.workloads.add(rs)
        self.service = MitigationService(self.store, self.workloads, self.clock)

    async def tick(self) -> dict[str, dict[str, Any]]:
        await self.service.reconcile(copy.deepcopy(self.store.incidents[(NS, "inc")]))
        status = self.store.incidents[(NS, "inc")].get("status") or {}
        return {r["name"]: r for r in status.get("mitigations", [])}

    def image(self) -> str:
        dep = self.workloads.object("Deployment", NS, "checkout")
        return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])

    def set_burn(self, short_burn: float) -> None:
        body = self.workloads.objects[("ServiceLevelObjective", NS, "checkout")]
        body["status"] = burning_status(short_burn, self.clock.now())

    def timeline_types(self) -> list[str]:
        """Types, with a mitigation entry's step (the end of its key): mitigation-applied."""
        return [
            f"mitigation-{e['key'].rsplit('/', 1)[-1]}" if e["type"] == "mitigation" else e["type"]
            for e in self.store.timeline(NS, "inc")
        ]


class OrderStore(FakeStore):
    """Records, at each spec change, what status.mitigations said at that moment."""

    def __init__(self) -> None:
        super().__init__()
        self.seen_at_conclusion: list[dict[str, str]] = []

    async def patch_incident(self, namespace: str, name: str, **parts: Any) -> Any:
        if "conclusions" in (parts.get("status") or {}):
            status = self.incidents[(namespace, name)].get("status") or {}
            self.seen_at_conclusion.append(
                {r["name"]: r["state"] for r in status.get("mitigations", [])}
            )
        return await super().patch_incident(namespace, name, **parts)


async def test_verified_result_is_written_before_the_incident_is_mitigated() -> None:
    """A reader that sees the incident mitigated must see the verified result that moved it."""
    world = World(slo())
    store = OrderStore()
    store.severities, store.incidents = world.store.severities, world.store.incidents
    world.store = store
    world.service = MitigationService(store, world.workloads, world.clock)
    await world.tick()
    world.clock.advance(2 * MIN)
    world.set_burn(2.0)
    await world.tick()
    assert requested_state(store.incidents[(NS, "inc")]) == "mitigated"
    # A conclusion in status: the spec a human (or Git) owns is never rewritten.
    assert store.incidents[(NS, "inc")]["spec"]["state"] == "triage"
    assert store.incidents[(NS, "inc")]["status"]["conclusions"]["state"]["reason"] == (
        "MitigationVerified"
    )
    assert store.seen_at_conclusion == [{"rollback-checkout": "verified"}]


async def test_auto_rollback_then_burn_stops_then_incident_mitigated() -> None:
    world = World(slo())
    results = await world.tick()
    assert world.image() == "checkout:v1"
    result = results["rollback-checkout"]
    assert result["state"] == "applied"
    assert result["source"] == "slo"
    assert result["verifyBy"] == iso(NOW + 10 * MIN)
    assert "from revision 2 to revision 1" in result["message"]
    reasons = {(name, reason) for name, reason, _, _ in world.store.events}
    assert {("inc", "MitigationApplied"), ("checkout", "MitigationApplied")} <= reasons

    world.clock.advance(MIN)
    assert (await world.tick())["rollback-checkout"]["state"] == "applied"  # still burning
    world.clock.advance(MIN)
    world.set_burn(2.0)
    results = await world.tick()
    assert results["rollback-checkout"]["state"] == "verified"
    assert requested_state(world.store.incidents[(NS, "inc")]) == "mitigated"
    # The lifecycle accepted the conclusion like a requested state (its own entry).
    assert world.timeline_types() == ["mitigation-applied", "mitigation-verified", "state-changed"]
    reasons = {(name, reason) for name, reason, _, _ in world.store.events}
    assert {("inc", "MitigationVerified"), ("checkout", "MitigationVerified")} <= reasons
    # A further tick changes nothing and runs nothing.
    applied_before = len(world.workloads.applied)
    world.clock.advance(MIN)
    await world.tick()
    assert len(world.workloads.applied) == applied_before


async def test_a_rollback_before_the_slo_recorded_its_episode_is_still_verified() -> None:
    """The declaration's first mitigation tick can beat the SLO's own status write: the action
    runs, and its verification starts once the SLO holds the burn (it stayed "confirm by
    hand" for good, so the incident never concluded mitigated: the GitOps e2e under load)."""
    unrecorded = slo()
    unrecorded["status"] = {}  # declared, its episode not yet written
    world = World(unrecorded)
    results = await world.tick()
    assert world.image() == "checkout:v1"  # acting is not held back
    assert results["rollback-checkout"]["state"] == "applied"
    assert "verifyBy" not in results["rollback-checkout"]
    assert results["rollback-checkout"]["message"].endswith(
        "; verifying once the SLO records its burn episode"
    )
    world.clock.advance(MIN)
    world.set_burn(30.0)  # the SLO's status write lands, still burning
    results = await world.tick()
    assert results["rollback-checkout"]["state"] == "applied"
    assert results["rollback-checkout"]["verifyBy"] == iso(NOW + 10 * MIN)  # from the action
    assert "must fall below 14.4x by" in results["rollback-checkout"]["message"]
    world.clock.advance(MIN)
    world.set_burn(2.0)
    results = await world.tick()
    assert results["rollback-checkout"]["state"] == "verified"
    assert results["rollback-checkout"]["message"].startswith(
        "rolled deployment/checkout back from revision 2 to revision 1"
    )
    assert "once the SLO" not in results["rollback-checkout"]["message"]
    assert requested_state(world.store.incidents[(NS, "inc")]) == "mitigated"


async def test_without_a_declaring_slo_an_applied_action_is_left_to_a_person() -> None:
    world = World(
        None, mitigations=[{"rollback": {"deployment": "checkout"}}], source={"type": "manual"}
    )
    results = await world.tick()
    assert results["rollback-checkout"]["message"].endswith("confirm by hand")
    world.clock.advance(MIN)
    results = await world.tick()
    assert results["rollback-checkout"]["state"] == "applied"
    assert "verifyBy" not in results["rollback-checkout"]


async def test_burn_that_does_not_stop_fails_and_escalates() -> None:
    world = World(slo())
    await world.tick()
    world.clock.advance(11 * MIN)
    world.set_burn(30.0)
    results = await world.tick()
    assert results["rollback-checkout"]["state"] == "failed"
    assert "still 30.00x" in results["rollback-checkout"]["message"]
    assert world.timeline_types()[-2:] == ["mitigation-failed", "escalated"]
    assert requested_state(world.store.incidents[(NS, "inc")]) == "triage"
    assert any(r == "MitigationFailed" and w for _, r, _, w in world.store.events)


async def test_suggest_waits_for_the_commanders_approval() -> None:
    world = World(slo("suggest"))
    results = await world.tick()
    assert results["rollback-checkout"]["state"] == "pending-approval"
    assert (
        "kubectl incident mitigate inc --approve rollback-checkout"
        in (results["rollback-checkout"]["message"])
    )
    assert world.image() == "checkout:v2"
    await world.tick()
    assert world.timeline_types() == ["mitigation-pending-approval"]  # said once
    world.store.incidents[(NS, "inc")]["spec"]["approvedMitigations"] = ["rollback-checkout"]
    assert (await world.tick())["rollback-checkout"]["state"] == "applied"
    assert world.image() == "checkout:v1"


async def test_auto_at_a_severity_without_auto_allowed_is_a_suggestion() -> None:
    world = World(slo("auto"), auto_allowed=False)
    results = await world.tick()
    assert results["rollback-checkout"]["state"] == "pending-approval"
    assert "severity does not allow automatic mitigation" in results["rollback-checkout"]["message"]


async def test_mode_off_runs_and_records_nothing() -> None:
    world = World(slo("off"))
    assert await world.tick() == {}
    assert world.workloads.applied == []


async def test_dry_run_changes_nothing_and_says_what_it_would_do() -> None:
    world = World(slo("auto", dryRun=True))
    before = world.workloads.object("Deployment", NS, "checkout")
    results = await world.tick()
    assert world.workloads.object("Deployment", NS, "checkout") == before
    assert results["rollback-checkout"]["state"] == "dry-run"
    assert results["rollback-checkout"]["dryRun"] is True
    assert "would have rolled deployment/checkout back" in results["rollback-checkout"]["message"]
    assert [dry for _, dry in world.workloads.applied] == [True]
    await world.tick()
    assert len(world.workloads.applied) == 1


async def test_target_without_opt_in_is_untouched_and_the_refusal_is_an_event() -> None:
    world = World(slo())
    dep = world.workloads.objects[("Deployment", NS, "checkout")]
    del dep["metadata"]["annotations"][m.OPT_IN_ANNOTATION]
    results = await world.tick()
    assert results["rollback-checkout"]["state"] == "refused"
    assert "has not opted in" in results["rollback-checkout"]["message"]
    assert world.workloads.applied == []
    refusals = [(n, w) for n, r, _, w in world.store.events if r == "MitigationRefused"]
    assert refusals == [("inc", True), ("checkout", True)]


async def test_max_actions_stops_a_second_action() -> None:
    mitigations = [
        {"rollback": {"deployment": "checkout"}},
        {"name": "scale-down", "scale": {"name": "checkout", "replicas": 0}},
    ]
    world = World(slo(mitigations=mitigations, maxActions=1, cooldown="1m"))
    await world.tick()
    world.clock.advance(11 * MIN)  # the rollback fails verification
    results = await world.tick()
    assert results["rollback-checkout"]["state"] == "failed"
    world.clock.advance(MIN)
    results = await world.tick()
    assert results["scale-down"]["state"] == "blocked"
    assert "maxActions 1 reached" in results["scale-down"]["message"]
    assert world.workloads.object("Deployment", NS, "checkout")["spec"].get("replicas") is None


async def test_cooldown_holds_the_second_action_until_it_passed() -> None:
    mitigations = [
        {"rollback": {"deployment": "checkout"}},
        {"name": "scale-up", "scale": {"name": "checkout", "replicas": 5}},
    ]
    world = World(slo(mitigations=mitigations, maxActions=2, cooldown="15m", verifyWithin="2m"))
    await world.tick()
    world.clock.advance(3 * MIN)
    results = await world.tick()
    assert results["rollback-checkout"]["state"] == "failed"
    world.clock.advance(MIN)
    results = await world.tick()
    assert results["scale-up"]["state"] == "waiting"
    assert "cooldown" in results["scale-up"]["message"]
    world.clock.advance(12 * MIN)
    results = await world.tick()
    assert results["scale-up"]["state"] == "applied"
    assert world.workloads.object("Deployment", NS, "checkout")["spec"]["replicas"] == 5


async def test_manual_request_on_the_incident_runs_without_approval_and_without_slo() -> None:
    world = World(
        None,
        source={"type": "manual"},
        mitigations=[{"name": "undo", "rollback": {"deployment": "checkout", "toRevision": 1}}],
    )
    results = await world.tick()
    assert results["undo"]["state"] == "applied"
    assert results["undo"]["source"] == "incident"
    assert "confirm by hand" in results["undo"]["message"]
    assert "verifyBy" not in results["undo"]
    assert world.image() == "checkout:v1"


async def test_a_crash_after_the_patch_is_recorded_as_applied_not_as_a_no_op() -> None:
    world = World(slo())
    dep = world.workloads.objects[("Deployment", NS, "checkout")]
    dep["spec"]["template"] = template("checkout:v1")  # the patch landed ...
    world.store.incidents[(NS, "inc")]["status"] = {  # ... and status still says running
        "mitigations": [
            {
                "name": "rollback-checkout",
                "action": "rollback",
                "target": "deployment/checkout",
                "state": "running",
                "source": "slo",
                "startedAt": iso(NOW),
            }
        ]
    }
    results = await world.tick()
    assert results["rollback-checkout"]["state"] == "applied"
    assert world.workloads.applied == []


@pytest.mark.parametrize("state", ["resolved", "closed"])
async def test_closed_incidents_are_left_alone(state: str) -> None:
    world = World(slo(), state=state)
    assert await world.tick() == {}
    assert world.workloads.applied == []


async def test_a_refused_resolve_leaves_the_incident_worked() -> None:
    """spec.state asks; status.phase says what happened: a refused resolve stops nothing."""
    world = World(slo())
    world.store.incidents[(NS, "inc")]["spec"]["state"] = "resolved"  # phase still triage
    results = await world.tick()
    assert results["rollback-checkout"]["state"] == "applied"
    assert world.image() == "checkout:v1"


async def test_revert_on_failure_puts_the_previous_revision_back() -> None:
    world = World(slo(revertOnFailure=True))
    results = await world.tick()
    assert '"toRevision":2' in results["rollback-checkout"]["undo"]
    assert world.image() == "checkout:v1"
    world.clock.advance(11 * MIN)
    results = await world.tick()
    assert results["rollback-checkout"]["state"] == "failed"
    assert "reverted: rolled deployment/checkout back" in results["rollback-checkout"]["message"]
    assert world.image() == "checkout:v2"
    assert "mitigation-reverted" in world.timeline_types()
    assert any(r == "MitigationReverted" for _, r, _, _ in world.store.events)


async def test_without_revert_on_failure_the_change_stays() -> None:
    world = World(slo())
    await world.tick()
    world.clock.advance(11 * MIN)
    await world.tick()
    assert world.image() == "checkout:v1"


async def test_a_spec_changed_under_the_plan_stays_running_and_is_replanned() -> None:
    world = World(slo())
    dep = world.workloads.objects[("Deployment", NS, "checkout")]
    dep["metadata"]["generation"] = 2
    real_get = world.workloads.get

    async def stale_get(target: m.Target) -> dict[str, Any] | None:
        found = await real_get(target)
        if found is not None and target.kind == "Deployment":
            found["metadata"]["generation"] = 1  # planned against an older spec
        return found

    world.workloads.get = stale_get  # type: ignore[method-assign]
    results = await world.tick()
    assert results["rollback-checkout"]["state"] == "running"
    assert world.image() == "checkout:v2"
    world.workloads.get = real_get  # type: ignore[method-assign]
    results = await world.tick()
    assert results["rollback-checkout"]["state"] == "applied"
    assert world.image() == "checkout:v1"


async def test_a_rollback_stamped_by_a_clock_ahead_is_verified_at_the_true_time() -> None:
    """The chaos run's clock jump: the rollback ran while the clock was an hour ahead, and
    verification waited for an SLO evaluation newer than that stamp, i.e. for an hour."""
    world = World(slo())
    world.clock.advance(60 * MIN)
    assert (await world.tick())["rollback-checkout"]["state"] == "applied"
    world.clock.advance(-59 * MIN)  # the restarted process has the true time again
    result = (await world.tick())["rollback-checkout"]
    assert result["state"] == "applied"
    assert result["startedAt"] == iso(NOW + MIN)
    assert result["verifyBy"] == iso(NOW + 11 * MIN)
    world.clock.advance(MIN)
    world.set_burn(2.0)
    assert (await world.tick())["rollback-checkout"]["state"] == "verified"
    assert requested_state(world.store.incidents[(NS, "inc")]) == "mitigated"
