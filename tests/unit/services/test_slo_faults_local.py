"""One SLO that cannot be measured or read says so on itself; every other SLO carries on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incident_operator.adapters.ports import IndicatorProblem
from incident_operator.domain.episodes import incident_name
from incident_operator.domain.names import bounded, label_value
from incident_operator.services.postmortems import config_map_name
from incident_operator.services.slo_evaluation import SloEvaluationService
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.metrics import FakeMetrics
from tests.fakes.ports.store import FakeStore

T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
NS = "shop"
LONG = "checkout-availability-of-the-payment-path-in-eu-west-01"  # 55 characters


def slo_body(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": name, "namespace": NS, "uid": f"u-{name}"},
        "spec": {
            "service": "checkout",
            "target": 99.9,
            "indicator": {"ratio": {"errors": "e[{{window}}]", "total": "t[{{window}}]"}},
            "declare": {"enabled": True},
            **spec,
        },
    }


def conditions(store: FakeStore, name: str) -> dict[str, tuple[str, str]]:
    status = store.slos[(NS, name)].get("status") or {}
    return {c["type"]: (c["status"], c["reason"]) for c in status.get("conditions", [])}


async def world(*bodies: dict[str, Any]) -> tuple[FakeStore, FakeMetrics, SloEvaluationService]:
    store = FakeStore()
    store.severities["sev-2"] = {"spec": {"level": 2}}
    for body in bodies:
        store.add_slo(body)
    metrics = FakeMetrics()
    return store, metrics, SloEvaluationService(store, metrics, FakeClock(T0))


async def test_an_indicator_problem_is_a_condition_and_one_warning_on_that_slo_only() -> None:
    store, metrics, service = await world(slo_body("good"), slo_body("hostile"))
    metrics.set(f"{NS}/good", 1.0)
    metrics.problems[f"{NS}/hostile"] = IndicatorProblem(
        "InvalidIndicator", "indicator.ratio.errors: uses the reserved label"
    )
    report = await service.cycle()
    assert report.declared == (f"{NS}/good-20261127-1400",), "the healthy SLO still declares"
    assert conditions(store, "hostile")["InvalidIndicator"] == ("True", "InvalidIndicator")
    assert conditions(store, "hostile")["Burning"] == ("Unknown", "InvalidIndicator")
    assert conditions(store, "good")["InvalidIndicator"] == ("False", "Accepted")
    assert conditions(store, "good")["Burning"] == ("True", "BurnRateAboveThreshold")
    warnings = [(e[0], e[1]) for e in store.events if e[3]]
    assert warnings == [("hostile", "InvalidIndicator")]
    await service.cycle()
    assert [(e[0], e[1]) for e in store.events if e[3]] == warnings, "not repeated every cycle"
    del metrics.problems[f"{NS}/hostile"]
    await service.cycle()
    assert conditions(store, "hostile")["InvalidIndicator"] == ("False", "Accepted")


async def test_an_indicator_problem_never_ends_an_open_episode() -> None:
    store, metrics, service = await world(slo_body("flaky"))
    metrics.set(f"{NS}/flaky", 1.0)
    await service.cycle()
    metrics.set(f"{NS}/flaky", 0.0)
    metrics.problems[f"{NS}/flaky"] = IndicatorProblem("QueryFailed", "422 execution error")
    for _ in range(3):
        service._clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
        await service.cycle()
    status = store.slos[(NS, "flaky")]["status"]
    assert status["activeIncident"] == "flaky-20261127-1400", "not declared over on no data"


BAD_SPECS = [
    ("zero-window", {"window": "0d"}),
    (
        "zero-short",
        {
            "alerting": {
                "windows": [{"long": "1h", "short": "0s", "factor": 14.4, "severity": "sev-2"}]
            }
        },
    ),
    (
        "short-not-shorter",
        {
            "alerting": {
                "windows": [{"long": "1h", "short": "1h", "factor": 2, "severity": "sev-2"}]
            }
        },
    ),
    ("defaults-do-not-fit", {"window": "1d"}),
    ("overflowing-window", {"window": "99999999999w"}),
]


@pytest.mark.parametrize(("name", "spec"), BAD_SPECS, ids=[n for n, _ in BAD_SPECS])
async def test_a_spec_the_engine_cannot_evaluate_is_reported_on_itself(
    name: str, spec: dict[str, Any]
) -> None:
    store, metrics, service = await world(slo_body("good"), slo_body(name, **spec))
    metrics.set(f"{NS}/good", 1.0)
    report = await service.cycle()
    assert report.slos == 1
    assert report.declared == (f"{NS}/good-20261127-1400",)
    assert conditions(store, name)["Healthy"] == ("Unknown", "InvalidSpec")
    warnings = [e for e in store.events if e[3]]
    assert [(e[0], e[1]) for e in warnings] == [(name, "InvalidSpec")]
    assert warnings[0][2], "says what is wrong"
    await service.cycle()
    assert len([e for e in store.events if e[3]]) == 1, "once, not every cycle"


async def test_a_long_slo_name_declares_an_incident_whose_name_fits_a_label() -> None:
    store, metrics, service = await world(slo_body(LONG))
    metrics.set(f"{NS}/{LONG}", 1.0)
    (declared,) = (await service.cycle()).declared
    (incident,) = store.incidents.values()
    name = incident["metadata"]["name"]
    assert declared == f"{NS}/{name}"
    assert len(name) <= 63
    assert name.endswith("-20261127-1400")
    assert incident["spec"]["source"]["ref"] == LONG, "the relationship, in the spec"
    assert incident["metadata"]["labels"]["sre.dev/slo"] == label_value(LONG)
    # A restart before the status write adopts the same incident instead of a second one.
    store.slos[(NS, LONG)]["status"] = {}
    service = SloEvaluationService(store, metrics, FakeClock(T0 + timedelta(minutes=2)))
    await service.cycle()
    assert len(store.incidents) == 1


STAMP = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
NAMES = [
    # (input, expected incident name)
    ("checkout", "checkout-20261205-0930"),
    ("a" * 49, "a" * 49 + "-20261205-0930"),  # exactly 63: unchanged
    ("a" * 50, None),
    (LONG, None),
    ("x" * 253, None),
    ("ab-" + "-" * 40 + "z" * 20, None),  # a cut ending in '-' is trimmed
    ("dotted.name." + "d" * 60, None),
]


@pytest.mark.parametrize(("slo", "expected"), NAMES)
def test_incident_names_are_deterministic_valid_labels(slo: str, expected: str | None) -> None:
    name = incident_name(slo, STAMP)
    assert name == incident_name(slo, STAMP)
    assert len(name) <= 63
    assert name[0].isalnum()
    assert name[-1].isalnum()
    if expected is not None:
        assert name == expected
    else:
        assert name.endswith("-20261205-0930")
        assert incident_name(slo + "x", STAMP) != name, "no collision on a shared prefix"


def test_postmortem_config_maps_of_long_names_never_collide() -> None:
    first, second = LONG + "-20261205-0930", LONG + "-20261205-0931"
    assert config_map_name(first) != config_map_name(second)
    assert len(config_map_name(first)) <= 63
    assert config_map_name("checkout-20261205-0930") == "checkout-20261205-0930-postmortem"


@pytest.mark.parametrize("text", ["short", "a" * 63, "a" * 64, "b" * 253, "c-" * 40])
def test_bounded_values_fit_and_keep_short_ones(text: str) -> None:
    value = bounded(text)
    assert len(value) <= 63
    assert value == text if len(text) <= 63 else value != text
    assert value[-1].isalnum()


async def test_a_declaration_at_an_unknown_severity_or_rotation_warns_on_the_slo() -> None:
    store, metrics, service = await world(
        slo_body(
            "typo",
            alerting={"windows": [{"long": "1h", "short": "5m", "factor": 1, "severity": "sev-9"}]},
            declare={"enabled": True, "rotationRef": "nobody"},
        ),
        slo_body("fine"),
    )
    metrics.set(f"{NS}/typo", 1.0)
    metrics.set(f"{NS}/fine", 1.0)
    report = await service.cycle()
    assert len(report.declared) == 2, "an incident still beats none"
    warned = sorted((e[0], e[1]) for e in store.events if e[3])
    assert warned == [("typo", "RotationUnavailable"), ("typo", "SeverityNotFound")]
    message = next(e[2] for e in store.events if e[1] == "SeverityNotFound")
    assert "sev-9" in message
