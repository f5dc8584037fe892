"""The SLO evaluation use case on in-memory ports: declaration, dedup, restarts, no data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incident_operator.services.incidents import requested_state, severity_of
from incident_operator.services.slo_evaluation import SloEvaluationService
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.metrics import FakeMetrics
from tests.fakes.ports.store import FakeStore

T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
NS, SLO = "shop", "checkout-availability"
KEY = f"{NS}/{SLO}"


def slo_body(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": SLO, "namespace": NS, "uid": "u-1"},
        "spec": {
            "service": "checkout",
            "target": 99.9,
            "indicator": {"ratio": {"errors": "e[{{window}}]", "total": "t[{{window}}]"}},
            "declare": {"enabled": True},
            **spec,
        },
    }


class World:
    def __init__(self, **spec: Any) -> None:
        self.store = FakeStore()
        for level in (2, 3, 4):
            self.store.severities[f"sev-{level}"] = {"spec": {"level": level}}
        self.store.add_slo(slo_body(**spec))
        self.metrics = FakeMetrics()
        self.clock = FakeClock(T0)
        self.service = self.restart()

    def restart(self) -> SloEvaluationService:
        self.service = SloEvaluationService(self.store, self.metrics, self.clock)
        return self.service

    async def cycle(
        self, ratio: float | None = None, advance: timedelta = timedelta(seconds=30)
    ) -> Any:
        self.clock.advance(advance)
        if ratio is not None:
            self.metrics.set(KEY, ratio)
        return await self.service.cycle()

    @property
    def status(self) -> dict[str, Any]:
        return dict(self.store.slos[(NS, SLO)].get("status", {}))

    def condition(self, kind: str) -> str:
        found: str = next(c["status"] for c in self.status["conditions"] if c["type"] == kind)
        return found

    @property
    def incidents(self) -> list[dict[str, Any]]:
        return list(self.store.incidents.values())


async def test_a_burn_declares_exactly_one_incident_with_detection_from_prometheus() -> None:
    world = World()
    began = T0 + timedelta(seconds=5)
    world.metrics.history = [
        (T0 - timedelta(minutes=2), 0.0),
        (began, 0.9),
        (T0 + timedelta(seconds=20), 1.0),
    ]
    report = await world.cycle(ratio=1.0)
    assert report.declared == (f"{NS}/{SLO}-20261127-1400",)
    (incident,) = world.incidents
    assert severity_of(incident) == "sev-2"
    assert incident["spec"]["source"] == {
        "type": "slo",
        "ref": SLO,
        "detectedAt": "2026-11-27T14:00:05Z",
    }
    assert incident["metadata"]["labels"]["sre.dev/slo"] == SLO
    assert incident["status"]["timestamps"] == {
        "detected": "2026-11-27T14:00:05Z",
        "declared": "2026-11-27T14:00:30Z",
    }
    assert incident["status"]["durations"]["timeToDetect"] == 25
    assert [e["type"] for e in incident["status"]["timeline"]] == ["burn-began", "declared"]
    assert world.status["activeIncident"] == incident["metadata"]["name"]
    assert world.condition("Burning") == "True"
    assert world.condition("Healthy") == "False"
    assert [e[1] for e in world.store.events] == ["IncidentDeclared"]
    for _ in range(5):
        await world.cycle(ratio=1.0)
    assert len(world.incidents) == 1, "still the same episode"


async def test_restart_mid_burn_does_not_declare_again() -> None:
    world = World()
    await world.cycle(ratio=1.0)
    world.restart()
    await world.cycle(ratio=1.0)
    await world.cycle(ratio=1.0)
    assert len(world.incidents) == 1
    assert len(world.store.events) == 1


async def test_crash_after_create_adopts_instead_of_duplicating() -> None:
    world = World()
    world.store.fail_create_after_store = True
    report = await world.cycle(ratio=1.0)
    assert report.declared == ()
    assert len(world.incidents) == 1, "the API server stored it before we crashed"
    assert "activeIncident" not in world.status
    world.restart()
    await world.cycle(ratio=1.0, advance=timedelta(minutes=3))
    (incident,) = world.incidents
    assert world.status["activeIncident"] == incident["metadata"]["name"]
    assert [e["type"] for e in incident["status"]["timeline"]] == ["burn-began", "declared"]


async def test_prometheus_down_never_declares_and_never_ends_an_episode() -> None:
    world = World()
    world.metrics.available = False
    await world.cycle(ratio=1.0)
    assert world.incidents == []
    assert world.condition("PrometheusUnavailable") == "True"
    assert world.condition("Burning") == "Unknown"
    world.metrics.available = True
    await world.cycle(ratio=1.0)
    assert len(world.incidents) == 1
    world.metrics.available = False
    await world.cycle(advance=timedelta(hours=2))
    (incident,) = world.incidents
    assert [e["type"] for e in incident["status"]["timeline"]] == ["burn-began", "declared"]
    assert "stoppedAt" not in world.status["episode"]


async def test_absent_metric_is_no_data_not_a_burn_and_not_a_recovery() -> None:
    world = World()
    await world.cycle(ratio=None)
    assert world.incidents == []
    assert world.condition("NoData") == "True"
    assert world.condition("Healthy") == "False"
    await world.cycle(ratio=1.0)
    world.metrics.set(KEY, None)
    await world.cycle(advance=timedelta(hours=3))
    (incident,) = world.incidents
    assert "burn-stopped" not in [e["type"] for e in incident["status"]["timeline"]]


async def test_a_faster_pair_raises_the_severity() -> None:
    world = World()
    await world.cycle(ratio=0.004)  # 4x: only 3x/1d and 1x/3d fire
    (incident,) = world.incidents
    assert severity_of(incident) == "sev-3"
    await world.cycle(ratio=0.05)  # 50x: 14.4x/1h fires too
    (incident,) = world.incidents
    assert severity_of(incident) == "sev-2"
    raised = [e for e in incident["status"]["timeline"] if e["type"] == "severity-raised"]
    assert len(raised) == 1
    assert "sev-3 -> sev-2" in raised[0]["message"]
    assert world.status["episode"]["pair"] == "1h/5m"


async def test_a_human_set_severity_is_not_overridden() -> None:
    world = World()
    await world.cycle(ratio=0.004)
    (name,) = [i["metadata"]["name"] for i in world.incidents]
    await world.store.patch_incident(NS, name, spec={"severityRef": "sev-1"})
    await world.cycle(ratio=0.05)
    incident = world.store.incidents[(NS, name)]
    assert severity_of(incident) == "sev-1"
    assert "kept sev-1" in incident["status"]["timeline"][-1]["message"]


async def test_burn_stopped_after_hold_down_and_auto_resolve_only_when_opted_in() -> None:
    for auto_resolve, final_state in ((False, "triage"), (True, "resolved")):
        world = World(
            declare={"enabled": True, "autoResolve": auto_resolve}, alerting={"holdDown": "10m"}
        )
        await world.cycle(ratio=1.0)
        await world.cycle(ratio=0.0, advance=timedelta(minutes=5))
        (incident,) = world.incidents
        assert "burn-stopped" not in [e["type"] for e in incident["status"]["timeline"]]
        await world.cycle(ratio=0.0, advance=timedelta(minutes=6))
        await world.cycle(ratio=0.0, advance=timedelta(minutes=6))
        (incident,) = world.incidents
        stopped = [e for e in incident["status"]["timeline"] if e["type"] == "burn-stopped"]
        assert len(stopped) == 1, "recorded once"
        assert requested_state(incident) == final_state
        assert world.condition("Healthy") == "True"
        assert "activeIncident" not in world.status


async def test_a_new_burn_after_resolution_is_a_new_incident_but_not_while_open() -> None:
    world = World(alerting={"holdDown": "5m"})
    await world.cycle(ratio=1.0)
    await world.cycle(ratio=0.0, advance=timedelta(minutes=6))
    await world.cycle(ratio=1.0, advance=timedelta(minutes=1))
    (incident,) = world.incidents
    assert incident["status"]["timeline"][-1]["type"] == "burn-resumed"
    await world.cycle(ratio=0.0, advance=timedelta(minutes=6))
    world.store.accept_state(NS, incident["metadata"]["name"], "resolved")
    await world.cycle(ratio=1.0, advance=timedelta(hours=1))
    assert len(world.incidents) == 2


async def test_declare_disabled_reports_the_burn_without_an_incident() -> None:
    world = World(declare={"enabled": False})
    await world.cycle(ratio=1.0)
    assert world.incidents == []
    assert world.condition("Burning") == "True"
    assert [f["severity"] for f in world.status["firing"]] == ["sev-2", "sev-2", "sev-3", "sev-4"]


async def test_status_carries_burn_rates_and_budget() -> None:
    world = World()
    await world.cycle(ratio=0.0005)
    burn = {b["window"]: b["burnRate"] for b in world.status["burnRates"]}
    assert burn["5m"] == pytest.approx(0.5)
    assert world.status["errorBudgetRemaining"] == pytest.approx(0.5)
    assert world.condition("Healthy") == "True"


async def test_cost_is_one_query_per_window_for_many_slos() -> None:
    world = World()
    for i in range(50):
        body = slo_body()
        body["metadata"]["name"] = f"slo-{i}"
        world.store.add_slo(body)
    report = await world.cycle(ratio=0.0)
    assert report.slos == 51
    assert report.queries == 8, "5m 30m 1h 2h 6h 1d 3d 30d"


async def test_an_edited_slo_is_read_again_and_an_unchanged_one_is_not_reparsed() -> None:
    world = World(declare={"enabled": False})
    await world.cycle(ratio=1.0)  # writes the status: a new resourceVersion
    await world.cycle(ratio=1.0)  # nothing changed: no write
    assert world.incidents == []
    parsed = dict(world.service._records._parsed)
    await world.cycle(ratio=1.0)
    (key,) = parsed
    assert world.service._records._parsed[key][1] is parsed[key][1], "same resourceVersion: reused"
    body = world.store.slos[(NS, SLO)]
    body["spec"]["declare"]["enabled"] = True
    body["metadata"]["resourceVersion"] = "edited"
    await world.cycle(ratio=1.0)
    assert len(world.incidents) == 1


def timeline_types(incident: dict[str, Any]) -> list[str]:
    return [e["type"] for e in incident["status"]["timeline"]]


async def test_series_vanishing_mid_burn_keeps_the_incident_open_and_reports_blindness() -> None:
    world = World(
        declare={"enabled": True, "autoResolve": True},
        alerting={"holdDown": "10m", "noDataAfter": "5m"},
    )
    await world.cycle(ratio=1.0)
    # The declaring pair's short window loses its series; every other window looks calm.
    world.metrics.set(KEY, 0.0)
    world.metrics.per_window[(KEY, timedelta(minutes=5))] = None
    await world.cycle(advance=timedelta(minutes=3))
    assert world.condition("Blind") == "False"
    assert world.status["noDataSince"] == "2026-11-27T14:03:30Z"
    for _ in range(6):
        await world.cycle(advance=timedelta(minutes=5))
    (incident,) = world.incidents
    assert requested_state(incident) == "triage", "never resolved while a window is blind"
    assert "burn-stopped" not in timeline_types(incident)
    assert world.condition("Blind") == "True"
    assert world.condition("Healthy") == "False"
    blind_events = [e for e in world.store.events if e[1] == "SloBlind"]
    assert len(blind_events) == 1, "once per run of missing data"
    assert blind_events[0][3] is True, "a Warning"
    assert "5m" in blind_events[0][2]
    assert timeline_types(incident).count("slo-blind") == 1
    # Data comes back calm: the hold-down counts from the last blind cycle.
    del world.metrics.per_window[(KEY, timedelta(minutes=5))]
    await world.cycle(advance=timedelta(minutes=1))
    assert world.condition("Blind") == "False"
    assert "noDataSince" not in world.status
    await world.cycle(advance=timedelta(minutes=5))
    (incident,) = world.incidents
    assert requested_state(incident) == "triage"
    await world.cycle(advance=timedelta(minutes=6))
    (incident,) = world.incidents
    assert requested_state(incident) == "resolved"
    assert timeline_types(incident).count("burn-stopped") == 1


async def test_severity_follows_a_calmer_burn_down_after_the_hold_down() -> None:
    world = World(alerting={"holdDown": "10m"})
    await world.cycle(ratio=0.05)  # every pair: sev-2
    await world.cycle(ratio=0.004, advance=timedelta(minutes=5))  # only 1d/2h and 3d/6h
    (incident,) = world.incidents
    assert severity_of(incident) == "sev-2", "within the hold-down"
    await world.cycle(ratio=0.004, advance=timedelta(minutes=6))
    (incident,) = world.incidents
    assert severity_of(incident) == "sev-3"
    assert incident["metadata"]["annotations"]["sre.dev/declared-severity"] == "sev-2"
    assert incident["spec"]["severityRef"] == "sev-2", "the declaration is never rewritten"
    assert incident["status"]["conclusions"]["severity"]["value"] == "sev-3"
    (lowered,) = [e for e in incident["status"]["timeline"] if e["type"] == "severity-lowered"]
    assert "sev-2 -> sev-3" in lowered["message"]
    assert world.status["episode"]["pair"] == "1d/2h"
    await world.cycle(ratio=0.05)
    (incident,) = world.incidents
    assert severity_of(incident) == "sev-2", "and up again at once"


async def test_severity_is_not_lowered_while_the_faster_pair_lacks_data() -> None:
    world = World(alerting={"holdDown": "10m"})
    await world.cycle(ratio=0.05)
    world.metrics.set(KEY, 0.004)
    world.metrics.per_window[(KEY, timedelta(minutes=5))] = None
    for _ in range(5):
        await world.cycle(advance=timedelta(minutes=5))
    (incident,) = world.incidents
    assert severity_of(incident) == "sev-2"
    assert "severity-lowered" not in timeline_types(incident)


async def test_a_human_set_severity_is_not_lowered() -> None:
    world = World(alerting={"holdDown": "10m"})
    await world.cycle(ratio=0.05)
    (name,) = [i["metadata"]["name"] for i in world.incidents]
    await world.store.patch_incident(NS, name, spec={"severityRef": "sev-1"})
    await world.cycle(ratio=0.004, advance=timedelta(minutes=11))
    incident = world.store.incidents[(NS, name)]
    assert severity_of(incident) == "sev-1"
    (suggested,) = [e for e in incident["status"]["timeline"] if e["type"] == "severity-suggested"]
    assert "suggests sev-3; kept sev-1" in suggested["message"]


async def test_successive_raises_are_the_operators_own_and_both_apply() -> None:
    world = World()
    await world.cycle(ratio=0.0015)  # 1.5x: only 3d/6h, sev-4
    await world.cycle(ratio=0.004)  # sev-3
    await world.cycle(ratio=0.05)  # sev-2
    (incident,) = world.incidents
    assert severity_of(incident) == "sev-2"
    raised = [
        e["message"] for e in incident["status"]["timeline"] if e["type"] == "severity-raised"
    ]
    assert ["sev-4 -> sev-3" in raised[0], "sev-3 -> sev-2" in raised[1]] == [True, True]
