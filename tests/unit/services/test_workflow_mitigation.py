"""A workflow's mitigate step: requested once per incident, then run by the mitigation service
exactly as an SLO's listed mitigation is (the gate, the target's consent, maxActions)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from incident_operator.api.v1alpha1.workflow import IncidentWorkflow
from incident_operator.domain import mitigation as m
from incident_operator.domain import workflows as wf
from incident_operator.errors import TemporaryError
from incident_operator.services.mitigation import MitigationService
from tests.builders.objects import severity
from tests.fakes.ports.workloads import FakeWorkloads
from tests.unit.domain.test_mitigation_domain import deployment
from tests.unit.services.test_workflow_service import (
    NS,
    DiesBeforeTheWorkflowStatus,
    Harness,
    steps_workflow,
    workflow_body,
)

DRAIN = {"type": "mitigate", "mitigation": {"name": "drain", "scale": {"name": "checkout",
                                                                       "replicas": 0}}}  # fmt: skip
ROLLBACK = {"type": "mitigate", "mitigation": {"rollback": {"deployment": "checkout"}}}


class World:
    """The workflow service and the mitigation service on one store, one incident."""

    def __init__(
        self, *actions: dict[str, Any], auto_allowed: bool, store: Any = None, **opt: Any
    ) -> None:
        self.h = Harness(steps_workflow(*actions), store=store)
        self.h.add()
        self.h.store.severities["sev-2"] = severity(mitigation={"autoAllowed": auto_allowed})
        self.workloads = FakeWorkloads()
        target = deployment(replicas=2)
        target["metadata"]["namespace"] = NS
        if not opt.get("opted_in", True):
            del target["metadata"]["annotations"][m.OPT_IN_ANNOTATION]
        self.workloads.add(target)
        self.mitigation = MitigationService(self.h.store, self.workloads, self.h.clock)

    def fire(self) -> None:
        self.h.body()["metadata"].setdefault("labels", {})["tier"] = "1"

    async def tick(self) -> dict[str, dict[str, Any]]:
        await self.h.tick()
        await self.mitigation.reconcile(copy.deepcopy(self.h.body()))
        return {r["name"]: r for r in self.h.body()["status"].get("mitigations") or []}

    def requested(self) -> dict[str, Any]:
        return dict(self.h.body()["status"]["workflows"].get("mitigations") or {})

    def entries(self) -> list[dict[str, Any]]:
        return [
            e for e in self.h.store.timeline(NS, "db-down") if e["type"] == "workflow-mitigation"
        ]

    def replicas(self) -> Any:
        return self.workloads.object("Deployment", NS, "checkout")["spec"].get("replicas")


async def test_a_mitigate_step_is_requested_once_and_waits_for_approval_without_auto() -> None:
    world = World(DRAIN, auto_allowed=False)
    await world.tick()  # the first look records the snapshot
    world.fire()
    for _ in range(4):
        results = await world.tick()
    (entry,) = world.entries()
    assert entry["key"] == "wf/uid-tier1/change-1/0"
    assert entry["message"] == (
        "IncidentWorkflow payments/tier1 requested mitigation drain (scale deployment/checkout);"
        " it runs through the mitigation guard like an SLO's"
    )
    assert world.requested() == {
        "drain": {
            "mitigation": {"name": "drain", "scale": {"kind": "Deployment", "name": "checkout",
                                                      "replicas": 0}, "dryRun": False},
            "workflow": "IncidentWorkflow payments/tier1 0-mitigate",
            "key": "wf/uid-tier1/change-1/0",
        }
    }  # fmt: skip
    assert results["drain"]["source"] == "workflow"
    assert results["drain"]["state"] == "pending-approval"
    assert "severity does not allow automatic mitigation" in results["drain"]["message"]
    assert "kubectl incident mitigate db-down --approve drain" in results["drain"]["message"]
    assert world.replicas() == 2
    assert world.workloads.applied == []
    # The commander's approval (spec.approvedMitigations) lets it run, once.
    world.h.body()["spec"]["approvedMitigations"] = ["drain"]
    results = await world.tick()
    assert results["drain"]["state"] == "applied"
    assert world.replicas() == 0
    await world.tick()
    assert len(world.workloads.applied) == 1


async def test_with_auto_allowed_it_runs_and_the_targets_consent_still_decides() -> None:
    world = World(DRAIN, auto_allowed=True)
    await world.tick()
    world.fire()
    results = await world.tick()
    assert results["drain"]["state"] == "applied"
    assert world.replicas() == 0

    refused = World(DRAIN, auto_allowed=True, opted_in=False)
    await refused.tick()
    refused.fire()
    results = await refused.tick()
    assert results["drain"]["state"] == "refused"
    assert "has not opted in" in results["drain"]["message"]
    assert refused.workloads.applied == []


async def test_max_actions_bounds_a_workflows_mitigations_like_an_slos() -> None:
    world = World(
        DRAIN,
        {**ROLLBACK, "continueOnError": True},
        auto_allowed=True,
    )
    await world.tick()
    world.fire()
    results = await world.tick()
    assert set(world.requested()) == {"drain", "rollback-checkout"}
    assert results["drain"]["state"] == "applied"  # one change per tick; no SLO to verify
    results = await world.tick()
    assert results["rollback-checkout"]["state"] == "blocked"
    assert "maxActions 1 reached" in results["rollback-checkout"]["message"]


async def test_a_restart_before_the_status_write_requests_nothing_twice() -> None:
    store = DiesBeforeTheWorkflowStatus()
    world = World(DRAIN, auto_allowed=False, store=store)
    await world.tick()
    world.fire()
    store.dying = True
    with pytest.raises(TemporaryError):
        await world.h.tick()
    assert "mitigations" not in world.h.body()["status"]["workflows"]
    store.dying = False
    for _ in range(3):
        await world.tick()
    assert list(world.requested()) == ["drain"]
    assert len([e for e in world.entries() if e["key"] == "wf/uid-tier1/change-1/0"]) == 1


async def test_a_later_occurrence_or_another_workflow_adds_nothing_for_the_same_name() -> None:
    world = World(DRAIN, auto_allowed=False)
    other = workflow_body("other")
    other["spec"]["actions"] = [DRAIN]
    world.h.index.observe(other)
    await world.tick()
    world.fire()
    world.h.escalate()  # sev-1 + tier 1: the other workflow's condition holds too
    await world.tick()
    world.h.body()["metadata"]["labels"]["tier"] = "2"  # a second occurrence of everyTrigger
    await world.tick()
    (record,) = world.requested().values()
    assert record["workflow"] == "IncidentWorkflow payments/other 0-mitigate"  # by name: first
    assert len(world.entries()) == 1
    runs = world.h.body()["status"]["workflows"]["runs"]
    assert {r["result"] for r in runs} == {"succeeded"}


async def test_a_name_the_incident_already_uses_fails_the_step_and_says_why() -> None:
    world = World(DRAIN, auto_allowed=True)
    world.h.body()["spec"]["mitigations"] = [
        {"name": "drain", "scale": {"name": "checkout", "replicas": 1}}
    ]
    await world.tick()
    world.fire()
    await world.tick()
    assert world.requested() == {}
    (run,) = world.h.body()["status"]["workflows"]["runs"]
    assert run["result"] == "failed"
    assert "already has a mitigation named drain (source incident)" in run["message"]


def test_a_mitigate_step_carries_the_incident_or_slo_mitigation_model() -> None:
    body = steps_workflow(ROLLBACK)
    model = IncidentWorkflow.model_validate(body)
    ref = wf.WorkflowRef("IncidentWorkflow", NS, "tier1", "uid-tier1")
    (action,) = model.spec.to_domain(ref).actions
    assert action.mitigation is not None
    assert action.mitigation.source is m.Source.WORKFLOW
    assert (action.mitigation.name, action.mitigation.target.text) == (
        "rollback-checkout",
        "deployment/checkout",
    )
    assert action.mitigation.target.namespace == ""  # the incident's, filled in at run time
