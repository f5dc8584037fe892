"""User-written YAML (the examples) into the models, defaults, and API<->domain conversion."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from incident_operator.api.v1alpha1 import (
    BY_KIND,
    Incident,
    OnCallRotation,
    Service,
    ServiceLevelObjective,
    Team,
)
from incident_operator.api.v1alpha1.common import Condition, ConditionStatus
from incident_operator.api.v1alpha1.convert import condition_from_domain, condition_to_domain
from incident_operator.api.v1alpha1.incident import IncidentState
from incident_operator.api.v1alpha1.mitigation import MitigationMode
from incident_operator.domain import catalog
from incident_operator.domain import conditions as domain
from incident_operator.domain.lifecycle import ACTIVE, TERMINAL, Phase
from tests.kube import REPO, load_documents

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


def example(kind: str, name: str) -> dict[str, object]:
    for path in EXAMPLES:
        for doc in load_documents(path):
            if doc["kind"] == kind and doc["metadata"]["name"] == name:
                return doc
    raise LookupError(f"{kind}/{name} not in examples/")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_validates_against_its_model(path: Path) -> None:
    documents = list(load_documents(path))
    assert documents, f"{path} is empty"
    for doc in documents:
        if doc["apiVersion"] == "sre.dev/v1alpha1":
            BY_KIND[doc["kind"]].model.model_validate(doc)


def test_slo_example_reads_as_written_with_defaults_filled() -> None:
    slo = ServiceLevelObjective.model_validate(example("ServiceLevelObjective", "checkout-latency"))
    assert slo.spec.target == 99
    assert slo.spec.window == "28d"
    assert slo.spec.indicator.latency is not None
    assert slo.spec.indicator.latency.threshold == 0.3
    assert [(w.long, w.short, w.factor, w.severity) for w in slo.spec.alerting.windows] == [
        ("1h", "5m", 14.4, "sev-2"),
        ("6h", "30m", 6, "sev-2"),
        ("1d", "2h", 3, "sev-3"),
        ("3d", "6h", 1, "sev-4"),
    ]
    assert slo.spec.mitigation_policy.mode is MitigationMode.SUGGEST
    assert slo.spec.declare.enabled is False


def test_rotation_example_keeps_restriction_from_alias() -> None:
    rotation = OnCallRotation.model_validate(example("OnCallRotation", "checkout-oncall"))
    restriction = rotation.spec.layers[2].restrictions[0]
    assert (restriction.from_, restriction.to) == ("09:00", "18:00")
    assert rotation.spec.overrides[0].start == datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
    dumped = rotation.model_dump(by_alias=True, exclude_none=True)
    assert dumped["spec"]["layers"][2]["restrictions"][0]["from"] == "09:00"


def test_incident_example() -> None:
    incident = Incident.model_validate(example("Incident", "checkout-errors-20261127"))
    assert incident.spec.state is IncidentState.INVESTIGATING
    assert incident.spec.roles.commander == "alice"
    assert incident.spec.roles.operations is None
    public = incident.spec.public
    assert public.title == "Some card payments fail at checkout"
    assert public.impact.startswith("Some customers cannot pay by card")
    [update] = public.updates
    assert (update.at, update.status.value, update.author) == (
        datetime(2026, 11, 27, 14, 20, tzinfo=UTC),
        "investigating",
        "bob",
    )


def test_an_incident_without_a_public_face_has_an_empty_one() -> None:
    doc = example("Incident", "checkout-errors-20261127")
    spec = {k: v for k, v in doc["spec"].items() if k != "public"}  # type: ignore[attr-defined]
    incident = Incident.model_validate({**doc, "spec": spec})
    assert (incident.spec.public.title, incident.spec.public.updates) == ("", [])
    bad = {**spec, "public": {"updates": [{"at": "2026-11-27T14:20:00Z", "status": "fixed"}]}}
    with pytest.raises(ValidationError):
        Incident.model_validate({**doc, "spec": bad})


def test_models_refuse_what_the_schema_refuses() -> None:
    doc = example("ServiceLevelObjective", "checkout-availability")
    bad = {**doc, "spec": {**doc["spec"], "target": 100}}  # type: ignore[dict-item]
    with pytest.raises(ValidationError, match="less than 100"):
        ServiceLevelObjective.model_validate(bad)


def test_condition_round_trip_between_api_and_domain() -> None:
    at = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    api = Condition(
        type="Ready",
        status=ConditionStatus.FALSE,
        reason="InvalidSpec",
        message="x",
        last_transition_time=at,
        observed_generation=2,
    )
    converted = condition_to_domain(api)
    assert converted == domain.Condition("Ready", domain.Status.FALSE, "InvalidSpec", "x", at, 2)
    assert condition_from_domain(converted) == api


def test_the_api_states_are_the_lifecycle_phases() -> None:
    """spec.state and status.phase take exactly the lifecycle's phases, no more, no fewer."""
    assert [s.value for s in IncidentState] == [p.value for p in Phase]
    assert ACTIVE | TERMINAL | {Phase.RESOLVED} == set(Phase)
    assert not ACTIVE & TERMINAL


def test_catalog_examples_read_as_written_into_the_domain() -> None:
    team = Team.model_validate(example("Team", "payments")).to_domain()
    assert team.admits("shop")
    assert not team.admits("other")
    assert team.routing_key == catalog.SecretRef("payments-pagerduty", "routing-key")
    assert team.routes == {
        "critical": catalog.SecretRef("payments-pagerduty", "critical-routing-key")
    }
    assert team.slack_members == ("U0AAAAAAA", "U0BBBBBBB")
    assert team.slack_user_group == "S0PAYMENTS"
    service = Service.model_validate(example("Service", "checkout")).to_domain()
    assert service == catalog.ServiceEntry(
        "shop", "checkout", "payments", "tier-1", ("payments-gateway",), "critical"
    )
    resolution = catalog.resolve("shop", ["checkout"], {"checkout": service}, {"payments": team})
    assert resolution.page_route == catalog.PageRoute(
        "payments", "critical", catalog.SecretRef("payments-pagerduty", "critical-routing-key")
    )


def test_catalog_rejects_what_would_widen_a_tenant_reach() -> None:
    # A Service has no field for a Secret: routing keys are named by Teams only.
    assert "secret" not in json.dumps(Service.model_json_schema()).lower()
    with pytest.raises(ValidationError):
        Team.model_validate(
            {
                "apiVersion": "sre.dev/v1alpha1",
                "kind": "Team",
                "metadata": {"name": "t"},
                "spec": {"namespaces": ["shop*"]},
            }
        )
