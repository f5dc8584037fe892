"""The compact SLO record gives the engine exactly what the full pydantic model gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from incident_operator.adapters.ports import WindowMeasurements
from incident_operator.api.v1alpha1.slo import ServiceLevelObjective, ServiceLevelObjectiveStatus
from incident_operator.domain.burn import Measurement, blindness, evaluate
from incident_operator.domain.durations import parse_duration
from incident_operator.domain.episodes import decide
from incident_operator.services.slo_records import ParsedSlos, SloRecord, load

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
EPISODE = {
    "incident": "api-burn-1",
    "startedAt": "2026-12-07T10:00:00Z",
    "lastFiringAt": "2026-12-07T11:50:00Z",
    "severity": "sev-2",
    "pair": "1h/5m",
    "stoppedAt": "2026-12-07T11:55:00Z",
    "pairFiringAt": "2026-12-07T11:50:00Z",
}


def body(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "api", "namespace": "shop", "uid": "u1", "resourceVersion": "7"},
        "spec": {"service": "api", "target": 99.9, **spec},
        **({"status": status} if status is not None else {}),
    }


RATIO = {"ratio": {"errors": 'rate(e{job="api"}[{{window}}])', "total": "rate(t[{{window}}])"}}
BODIES = {
    "defaults, recorded": body({"indicator": {"recorded": {"provider": "sloth", "name": "api"}}}),
    "everything set, raw": body(
        {
            "indicator": RATIO,
            "window": "28d",
            "declare": {
                "enabled": True,
                "autoResolve": True,
                "rotationRef": "api-oncall",
                "labels": {"team": "payments"},
            },
            "alerting": {
                "holdDown": "20m",
                "noDataAfter": "3m",
                "minRequests": 5,
                "windows": [{"long": "2h", "short": "10m", "factor": 10, "severity": "sev-1"}],
            },
        },
        {"episode": EPISODE, "noDataSince": "2026-12-07T11:58:00Z", "burnNow": "2x/5m"},
    ),
    "pyrra": body({"indicator": {"recorded": {"provider": "pyrra", "name": "api"}}}),
    "unreadable status": body({"indicator": RATIO}, {"episode": {"incident": 5}}),
}


def full_model(raw: dict[str, Any]) -> ServiceLevelObjective:
    """The model as the record was made from before it became compact (status: the fields
    the engine reads, or none when they are unreadable)."""
    model = ServiceLevelObjective.model_validate({k: v for k, v in raw.items() if k != "status"})
    status = raw.get("status") or {}
    try:
        read = ServiceLevelObjectiveStatus.model_validate(
            {k: status[k] for k in ("episode", "noDataSince") if k in status}
        )
    except ValidationError:
        return model
    return model.model_copy(update={"status": read})


@pytest.mark.parametrize("name", list(BODIES))
def test_the_record_holds_what_the_model_says(name: str) -> None:
    raw = BODIES[name]
    record = load(raw)
    assert record is not None
    model = full_model(raw)
    spec = model.spec
    assert record.body is raw
    assert record.objective == spec.to_domain()
    assert record.sli == spec.sli()
    assert (record.service, record.declare, record.auto_resolve) == (
        spec.service,
        spec.declare.enabled,
        spec.declare.auto_resolve,
    )
    assert (record.rotation_ref, dict(record.labels)) == (
        spec.declare.rotation_ref,
        spec.declare.labels,
    )
    assert (record.hold_down, record.no_data_after) == (
        spec.alerting.hold_down,
        spec.alerting.no_data_after,
    )
    episode = model.status.episode
    assert record.episode == (episode.to_domain() if episode else None)
    assert record.no_data_since == model.status.no_data_since


def test_the_status_fields_are_read() -> None:
    """The case above that has them really carries an episode and noDataSince."""
    record = load(BODIES["everything set, raw"])
    assert record is not None
    assert record.episode is not None
    assert record.episode.incident == "api-burn-1"
    assert record.episode.stopped_at == datetime(2026, 12, 7, 11, 55, tzinfo=UTC)
    assert record.no_data_since == datetime(2026, 12, 7, 11, 58, tzinfo=UTC)
    unreadable = load(BODIES["unreadable status"])
    assert unreadable is not None
    assert (unreadable.episode, unreadable.no_data_since) == (None, None)


def decision_inputs(record: SloRecord) -> dict[str, Any]:
    return {
        "hold_down": parse_duration(record.hold_down),
        "declare": record.declare,
        "auto_resolve": record.auto_resolve,
        "episode": record.episode,
        "burn_began": None,
        "incident_open": False,
    }


@pytest.mark.parametrize("ratio", [0.0, 0.5])
@pytest.mark.parametrize("name", list(BODIES))
def test_a_decision_from_the_record_equals_one_from_the_model(name: str, ratio: float) -> None:
    raw = BODIES[name]
    record = load(raw)
    assert record is not None
    model = full_model(raw)
    spec = model.spec
    objective = spec.to_domain()
    measurements: WindowMeasurements = {
        w: Measurement(ratio, 1000.0) for w in objective.windows if w != timedelta(minutes=5)
    }
    evaluation = evaluate(record.objective, measurements)
    episode = model.status.episode
    from_model = decide(
        slo="api",
        objective=objective,
        episode=episode.to_domain() if episode else None,
        evaluation=evaluate(objective, measurements),
        now=NOW,
        hold_down=parse_duration(spec.alerting.hold_down),
        declare=spec.declare.enabled,
        auto_resolve=spec.declare.auto_resolve,
        burn_began=None,
        incident_open=False,
    )
    from_record = decide(
        slo="api", objective=record.objective, evaluation=evaluation, now=NOW,
        **decision_inputs(record),
    )  # fmt: skip
    assert from_record == from_model
    assert blindness(
        evaluation, record.no_data_since, NOW, parse_duration(record.no_data_after)
    ) == blindness(
        evaluate(objective, measurements),
        model.status.no_data_since,
        NOW,
        parse_duration(spec.alerting.no_data_after),
    )


def test_slos_with_equal_objectives_share_one() -> None:
    """Parsed once per resourceVersion, and one Objective for equal ones, equal to each's."""
    bodies = [
        body({"indicator": {"recorded": {"provider": "sloth", "name": f"s{i}"}}})
        | {
            "metadata": {
                "name": f"s{i}",
                "namespace": "shop",
                "uid": f"u{i}",
                "resourceVersion": "1",
            }
        }
        for i in range(3)
    ]
    bodies[2]["spec"]["target"] = 99.5
    parsed = ParsedSlos()
    first = parsed.load_all(bodies)
    assert first[0].objective is first[1].objective
    assert first[2].objective is not first[0].objective
    for record, raw in zip(first, bodies, strict=True):
        assert record.objective == full_model(raw).spec.to_domain()
    again = parsed.load_all(list(reversed(bodies)))
    assert {id(r) for r in again} == {id(r) for r in first}, "unchanged: not parsed again"
