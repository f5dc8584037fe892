"""The postmortem service against in-memory fakes: creation, links, close refusal, regeneration."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from incident_operator.adapters.postmortem_ports import STATE_ANNOTATION
from incident_operator.domain.postmortem import Counts
from incident_operator.services.incident_lifecycle import IncidentLifecycleService
from incident_operator.services.postmortem_creation import NOT_REQUIRED
from incident_operator.services.postmortems import PostmortemService
from tests.builders.objects import incident, severity
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.postmortems import (
    PNG_MAGIC,
    FakeCharts,
    FakeImpact,
    FakePostmortems,
)
from tests.fakes.ports.store import FakeStore

NS, NAME = "shop", "checkout-burn"
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
DETECTED, DECLARED, RESOLVED = T0, T0 + timedelta(minutes=4), T0 + timedelta(minutes=34)


SLO = {
    "apiVersion": "sre.dev/v1alpha1",
    "kind": "ServiceLevelObjective",
    "metadata": {"name": "checkout", "namespace": NS},
    "spec": {
        "service": "checkout",
        "target": 99.9,
        "indicator": {"ratio": {"errors": "e[{{window}}]", "total": "t[{{window}}]"}},
    },
}


def resolved_incident() -> dict[str, Any]:
    return incident(
        NAME,
        NS,
        created="2026-11-27T09:04:00Z",
        metadata={"uid": "u-1", "generation": 3, "labels": {"sre.dev/slo": "checkout"}},
        title="checkout burns",
        state="resolved",
        roles={"commander": "alice"},
        source={"type": "slo", "ref": "checkout", "detectedAt": "2026-11-27T09:00:00Z"},
        status={
            "phase": "resolved",
            "roles": {"commander": "alice"},
            "timestamps": {
                "detected": "2026-11-27T09:00:00Z",
                "declared": "2026-11-27T09:04:00Z",
                "acknowledged": "2026-11-27T09:06:00Z",
                "mitigated": "2026-11-27T09:20:00Z",
                "resolved": "2026-11-27T09:34:00Z",
            },
            "timeline": [
                {
                    "at": "2026-11-27T09:04:00Z",
                    "type": "declared",
                    "message": "Declared",
                    "key": "declared",
                },
            ],
        },
    )


class World:
    def __init__(self, **policy: Any) -> None:
        self.store = FakeStore()
        self.store.severities["sev-2"] = severity(postmortem=policy)
        self.store.incidents[(NS, NAME)] = resolved_incident()
        self.postmortems = FakePostmortems(incidents=self.store.incidents)
        self.postmortems.slos[(NS, "checkout")] = copy.deepcopy(SLO)
        self.postmortems.events.append(
            {
                "uid": "ev1",
                "at": T0 + timedelta(minutes=25),
                "reason": "Rollback",
                "message": "rolled back to v41",
                "type": "Normal",
                "kind": "Incident",
                "name": NAME,
                "component": "incident-operator",
            }
        )
        # 34 minutes at 100 req/s, 40 % failing; 30 days at 100 req/s.
        self.impact = FakeImpact(
            {
                timedelta(minutes=34): Counts(204_000, 81_600),
                timedelta(days=30): Counts(259_200_000, 81_600),
            }
        )
        self.charts = FakeCharts()
        self.clock = FakeClock(RESOLVED + timedelta(seconds=5))
        self.service = PostmortemService(
            self.store, self.postmortems, self.clock, impact=self.impact, charts=self.charts
        )

    @property
    def incident(self) -> dict[str, Any]:
        return self.store.incidents[(NS, NAME)]


async def test_required_by_severity_creates_links_both_ways_with_due_date() -> None:
    world = World(required=True, dueWithin="5d")
    assert await world.service.ensure(world.incident) == NAME
    pm = world.postmortems.postmortems[(NS, NAME)]
    assert pm["spec"] == {"incidentRef": NAME, "state": "draft", "owner": "alice"}
    assert pm["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert pm["status"] == {"due": "2026-12-02T09:34:00Z", "reason": "SeverityRequires"}
    assert world.incident["status"]["postmortemRef"] == NAME
    assert world.incident["metadata"]["annotations"][STATE_ANNOTATION] == "draft"
    assert any(
        e["key"] == f"postmortem/{NAME}/created" for e in world.incident["status"]["timeline"]
    )
    # A second call (timer retry) does nothing new.
    assert await world.service.ensure(world.incident) == NAME
    assert len(world.postmortems.links) == 1


async def test_budget_share_decides_when_the_severity_does_not_require() -> None:
    world = World(required=False, budgetShare=10)
    assert await world.service.ensure(world.incident) == NAME  # 31 % > 10 %
    assert world.postmortems.postmortems[(NS, NAME)]["status"]["reason"] == "BudgetBurned"
    calm = World(required=False, budgetShare=50)
    assert await calm.service.ensure(calm.incident) is None
    assert calm.postmortems.postmortems == {}
    assert calm.incident["metadata"]["annotations"][STATE_ANNOTATION] == NOT_REQUIRED


async def test_regenerate_fills_facts_renders_and_keeps_human_sections() -> None:
    world = World(required=True)
    await world.service.ensure(world.incident)
    pm = world.postmortems.postmortems[(NS, NAME)]
    pm["spec"]["summary"] = "A config change broke checkout."
    pm["spec"]["actionItems"] = [{"title": "Cap retries", "due": "2026-11-28"}]
    world.clock.current = datetime(2026, 11, 30, tzinfo=UTC)
    before = copy.deepcopy(pm["spec"])
    status = await world.service.regenerate(pm)
    assert pm["spec"] == before
    (impact,) = status["impact"]
    assert impact["totalRequests"] == 204_000
    assert impact["failedRequests"] == 81_600
    assert impact["errorBudgetConsumed"] == pytest.approx(81_600 / 259_200)
    assert impact["errorBudgetRemaining"] == pytest.approx(1 - 81_600 / 259_200)
    assert impact["durationSeconds"] == 34 * 60
    assert status["durations"] == {
        "timeToDetect": 240.0,
        "timeToAcknowledge": 120.0,
        "timeToMitigate": 960.0,
        "timeToResolve": 1800.0,
    }
    assert status["keyTimes"]["detected"] == "2026-11-27T09:00:00Z"  # as the incident's
    types = [e["type"] for e in status["timeline"]]
    assert types[:2] == ["declared", "event"]
    assert status["overdueActionItems"] == 1
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions == {"Ready": "True", "ImpactMeasured": "True", "ActionItemsOverdue": "True"}
    data, binary = world.postmortems.config_maps[(NS, f"{NAME}-postmortem")]
    assert "A config change broke checkout." in data["postmortem.md"]
    assert "31.48%" in data["postmortem.md"]
    assert json.loads(data["postmortem.json"])["impact"][0]["failedRequests"] == 81_600
    assert binary["chart.png"].startswith(PNG_MAGIC)
    assert world.charts.rendered[0].moments[0][0] == "detected"
    reminders = [e for e in world.incident["status"]["timeline"] if "/overdue/" in e["key"]]
    assert len(reminders) == 1
    # The incident's own new entries (draft ready, reminder) arrive with the next round; then
    # nothing changed and nothing is written.
    pm["status"] = {**pm["status"], **status}
    again = await world.service.regenerate(pm)
    assert set(again) == {"timeline", "generatedAt"}
    assert [e["key"] for e in again["timeline"]][-2:] == [
        f"postmortem/{NAME}/drafted",
        f"postmortem/{NAME}/overdue/Cap retries/2026-11-30",
    ]
    pm["status"] = {**pm["status"], **again}
    assert await world.service.regenerate(pm) == {}


async def test_prometheus_down_is_a_condition_not_a_failure() -> None:
    world = World(required=True)
    await world.service.ensure(world.incident)
    world.impact.available = False
    status = await world.service.regenerate(world.postmortems.postmortems[(NS, NAME)])
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["ImpactMeasured"]["reason"] == "PrometheusUnavailable"
    assert "Prometheus unavailable" in status["impact"][0]["note"]


async def test_closing_waits_for_the_published_postmortem() -> None:
    world = World(required=True)
    lifecycle = IncidentLifecycleService(world.store, world.clock, postmortems=world.postmortems)
    world.incident["spec"]["state"] = "closed"
    world.incident["metadata"]["generation"] = 4
    plan = await lifecycle.plan(world.incident)
    assert plan.status.get("phase", "resolved") == "resolved"
    refused = {c["type"]: c for c in plan.status["conditions"]}["TransitionRefused"]
    assert refused["reason"] == "PostmortemNotPublished"
    assert "not been created" in refused["message"]
    await world.service.ensure(world.incident)
    plan = await lifecycle.plan(world.incident)
    refused = {c["type"]: c for c in plan.status["conditions"]}["TransitionRefused"]
    assert refused["message"] == (
        f"cannot close: its postmortem {NAME} is draft; publish it first (spec.state: published)"
    )
    world.postmortems.postmortems[(NS, NAME)]["spec"]["state"] = "published"
    plan = await lifecycle.plan(world.incident)
    assert plan.status["phase"] == "closed"


async def test_without_a_postmortem_store_closing_is_not_blocked() -> None:
    world = World(required=True)
    world.incident["spec"]["state"] = "closed"
    plan = await IncidentLifecycleService(world.store, world.clock).plan(world.incident)
    assert plan.status["phase"] == "closed"


def test_action_item_due_is_a_date() -> None:
    assert date.fromisoformat("2026-11-28") < date(2026, 11, 30)


async def test_periodic_pass_skips_prometheus_until_something_changed() -> None:
    world = World(required=True)
    await world.service.ensure(world.incident)
    pm = world.postmortems.postmortems[(NS, NAME)]
    pm["spec"]["actionItems"] = [{"title": "Cap retries", "due": "2026-12-01"}]
    world.clock.current = datetime(2026, 11, 28, tzinfo=UTC)
    for _ in range(3):  # converge (the incident's own postmortem entries come back once)
        pm["status"] = {**pm["status"], **await world.service.regenerate(pm)}
    pm["status"]["observedGeneration"] = pm["metadata"]["generation"]
    asked = len(world.impact.asked)
    assert await world.service.regenerate(pm, only_if_stale=True) == {}
    assert len(world.impact.asked) == asked  # no Prometheus query, no rendering
    world.clock.current = datetime(2026, 12, 2, tzinfo=UTC)  # the item became overdue
    late = await world.service.regenerate(pm, only_if_stale=True)
    assert late["overdueActionItems"] == 1
    assert len(world.impact.asked) > asked
    pm["status"] = {**pm["status"], **late}
    pm["status"] = {**pm["status"], **await world.service.regenerate(pm)}  # its reminder
    assert await world.service.regenerate(pm, only_if_stale=True) == {}
    world.incident["status"]["timeline"].append(
        {"at": "2026-11-27T09:40:00Z", "type": "note", "message": "late note", "key": "n/9"}
    )
    fresh = await world.service.regenerate(pm, only_if_stale=True)
    assert "n/9" in [e.get("key") for e in fresh["timeline"]]


async def test_due_and_reason_reach_status_even_if_the_first_patch_was_lost() -> None:
    world = World(required=True, dueWithin="3d")
    await world.service.ensure(world.incident)
    pm = world.postmortems.postmortems[(NS, NAME)]
    pm["status"] = {}  # e.g. the operator stopped between create and the status patch
    status = await world.service.regenerate(pm)
    assert (status["due"], status["reason"]) == ("2026-11-30T09:34:00Z", "SeverityRequires")
    markdown = world.postmortems.config_maps[(NS, f"{NAME}-postmortem")][0]["postmortem.md"]
    assert "| Due | 2026-11-30T09:34:00Z |" in markdown


async def test_events_of_mitigation_targets_join_the_timeline() -> None:
    world = World(required=True)
    world.incident["status"]["mitigations"] = [
        {
            "name": "rollback-checkout",
            "action": "rollback",
            "target": "deployment/checkout",
            "state": "verified",
            "startedAt": "2026-11-27T09:12:00Z",
            "finishedAt": "2026-11-27T09:14:00Z",
        }
    ]
    world.postmortems.events.append(
        {
            "uid": "ev2",
            "at": T0 + timedelta(minutes=13),
            "reason": "ScalingReplicaSet",
            "message": "Scaled up replica set checkout-7d9 to 3",
            "type": "Normal",
            "kind": "Deployment",
            "name": "checkout",
            "component": "deployment-controller",
        }
    )
    await world.service.ensure(world.incident)
    status = await world.service.regenerate(world.postmortems.postmortems[(NS, NAME)])
    messages = [(e["type"], e["message"]) for e in status["timeline"]]
    assert messages.index(
        (
            "mitigation-started",
            "Mitigation rollback-checkout started: rollback of deployment/checkout",
        )
    ) < messages.index(
        ("event", "Deployment checkout: ScalingReplicaSet: Scaled up replica set checkout-7d9 to 3")
    )
    assert status["mitigations"][0]["state"] == "verified"


async def test_the_chart_never_draws_past_now_and_is_redrawn_whole_later() -> None:
    world = World(required=True)
    minute = timedelta(minutes=1)
    world.impact.series = [(T0 - 60 * minute + i * minute, 0.01) for i in range(240)]
    await world.service.ensure(world.incident)
    pm = world.postmortems.postmortems[(NS, NAME)]
    world.clock.current = RESOLVED + 2 * minute  # right after resolution
    pm["status"] = {**pm["status"], **await world.service.regenerate(pm)}
    cut = world.charts.rendered[-1]
    assert cut.ratio[-1][0] == RESOLVED + 2 * minute, "ends at now, not 10 min later"
    assert max(t for t, _ in cut.remaining) <= world.clock.current
    for _ in range(2):  # converge on the incident's own postmortem entries
        pm["status"] = {**pm["status"], **await world.service.regenerate(pm)}
    pm["status"]["observedGeneration"] = pm["metadata"]["generation"]
    world.clock.current = RESOLVED + 4 * minute  # still inside the pad: the chart grows again
    rendered = len(world.charts.rendered)
    grown = await world.service.regenerate(pm, only_if_stale=True)
    assert len(world.charts.rendered) == rendered + 1
    assert world.charts.rendered[-1].ratio[-1][0] == RESOLVED + 4 * minute
    pm["status"] = {**pm["status"], **grown}
    world.clock.current = RESOLVED + 3 * 60 * minute  # the refresh hours later: drawn whole
    whole = await world.service.regenerate(pm, only_if_stale=True)
    assert world.charts.rendered[-1].ratio[-1][0] == RESOLVED + 10 * minute
    assert whole["generatedAt"] == "2026-11-27T12:34:00Z"
    pm["status"] = {**pm["status"], **whole}
    rendered = len(world.charts.rendered)
    assert await world.service.regenerate(pm, only_if_stale=True) == {}
    assert len(world.charts.rendered) == rendered, "a whole chart is not drawn again"
