"""Operator metrics: the prometheus-client adapter's exposition, what the services report
through the port, the open-incident index, counted reconcile errors and ``GET /metrics``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from incident_operator.adapters.operator_metrics import (
    MAX_OWNERS,
    METRIC_NAMES,
    PrometheusOperatorMetrics,
)
from incident_operator.errors import PermanentError, TemporaryError
from incident_operator.handlers.errors import translated
from incident_operator.services.incident_lifecycle import IncidentLifecycleService
from incident_operator.services.lifecycle_metrics import owner_of
from incident_operator.services.open_incidents import OpenIncidentIndex
from incident_operator.services.slo_evaluation import SloEvaluationService
from incident_operator.web.alertmanager import AlertmanagerWebhook
from incident_operator.web.app import build_app
from incident_operator.web.metrics import MetricsEndpoint
from tests.builders.objects import incident, severity
from tests.fakes.context import operator_memo
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.metrics import FakeMetrics
from tests.fakes.ports.operator_metrics import RecordingMetrics
from tests.fakes.ports.store import FakeStore

T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
NS = "shop"


def samples(metrics: PrometheusOperatorMetrics) -> dict[tuple[str, frozenset[Any]], float]:
    body, _ = metrics.exposition()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


UNOWNED = {"service": "", "team": ""}
"""The owner labels of an incident the service catalog did not resolve."""


def value(metrics: PrometheusOperatorMetrics, name: str, **labels: str) -> float | None:
    return samples(metrics).get((name, frozenset(labels.items())))


# --- the adapter ------------------------------------------------------------------------


def test_transitions_and_durations_are_exposed_with_their_labels() -> None:
    metrics = PrometheusOperatorMetrics()
    metrics.transition("triage", "investigating", "sev-2")
    metrics.transition("triage", "investigating", "sev-2")
    metrics.duration("timeToAcknowledge", 240.0, "sev-2")
    metrics.duration("timeToResolve", 5400.0, "sev-1")
    name = "incident_operator_incident_transitions_total"
    assert (
        value(metrics, name, **{"from": "triage", "to": "investigating", "severity": "sev-2"}) == 2
    )
    mtta = "incident_operator_time_to_acknowledge_seconds"
    assert value(metrics, f"{mtta}_count", severity="sev-2", **UNOWNED) == 1
    assert value(metrics, f"{mtta}_sum", severity="sev-2", **UNOWNED) == 240
    assert value(metrics, f"{mtta}_bucket", severity="sev-2", **UNOWNED, le="300.0") == 1
    assert value(metrics, f"{mtta}_bucket", severity="sev-2", **UNOWNED, le="120.0") == 0
    mttr = "incident_operator_time_to_resolve_seconds_count"
    assert value(metrics, mttr, severity="sev-1", **UNOWNED) == 1


def test_a_severity_s_series_start_at_zero_before_its_first_event() -> None:
    """Prometheus must see a counter rise from 0, or increase() over its first event is 0."""
    metrics = PrometheusOperatorMetrics()
    assert value(metrics, "incident_operator_escalations_total", severity="sev-2") is None
    metrics.transition("", "triage", "sev-2")
    assert value(metrics, "incident_operator_escalations_total", severity="sev-2") == 0
    mttr = "incident_operator_time_to_resolve_seconds"
    assert value(metrics, f"{mttr}_count", severity="sev-2", **UNOWNED) == 0
    assert value(metrics, f"{mttr}_bucket", severity="sev-2", **UNOWNED, le="+Inf") == 0
    metrics.duration("timeToResolve", 600.0, "sev-2")
    assert value(metrics, f"{mttr}_count", severity="sev-2", **UNOWNED) == 1
    assert value(metrics, f"{mttr}_count", severity="sev-3", **UNOWNED) is None


def test_open_incidents_replace_the_previous_counts() -> None:
    metrics = PrometheusOperatorMetrics()
    metrics.set_open_incidents(
        {("sev-2", "checkout", "triage", "payments"): 2, ("sev-3", "search", "triage", ""): 1}
    )
    metrics.set_open_incidents({("sev-2", "checkout", "investigating", "payments"): 1})
    gauge = "incident_operator_open_incidents"
    owned = {"service": "checkout", "team": "payments"}
    assert value(metrics, gauge, severity="sev-2", phase="investigating", **owned) == 1
    assert value(metrics, gauge, severity="sev-2", phase="triage", **owned) is None
    assert (
        value(metrics, gauge, severity="sev-3", service="search", phase="triage", team="") is None
    )


def test_slo_cycles_errors_and_escalations() -> None:
    metrics = PrometheusOperatorMetrics()
    metrics.slo_cycle(seconds=0.4, slos=3, queries=8, declared=1, unavailable=False)
    metrics.slo_cycle(seconds=31.0, slos=3, queries=4, declared=0, unavailable=True)
    metrics.reconcile_error("reconcile_incident_lifecycle", "temporary")
    metrics.escalation("sev-1")
    assert value(metrics, "incident_operator_slo_cycle_seconds_count") == 2
    assert value(metrics, "incident_operator_slo_cycle_seconds_bucket", le="0.5") == 1
    assert value(metrics, "incident_operator_slo_cycles_total") == 2
    assert value(metrics, "incident_operator_slo_queries_total") == 12
    assert value(metrics, "incident_operator_slos") == 3
    assert value(metrics, "incident_operator_slo_incidents_declared_total") == 1
    assert value(metrics, "incident_operator_slo_prometheus_unavailable_total") == 1
    assert (
        value(
            metrics,
            "incident_operator_reconcile_errors_total",
            handler="reconcile_incident_lifecycle",
            kind="temporary",
        )
        == 1
    )
    assert value(metrics, "incident_operator_escalations_total", severity="sev-1") == 1


def test_metric_names_lists_exactly_what_is_exported() -> None:
    """The parser names a counter family without ``_total``; its samples carry it.

    ``*_created`` are prometheus-client's creation-time companions of unlabelled counters and
    histograms, not figures of ours.
    """
    body, _ = PrometheusOperatorMetrics().exposition()
    families = {
        f.name
        for f in text_string_to_metric_families(body.decode())
        if not f.name.endswith("_created")
    }
    assert families == {n.removesuffix("_total") for n in METRIC_NAMES}


def test_each_adapter_has_its_own_registry() -> None:
    first, second = PrometheusOperatorMetrics(), PrometheusOperatorMetrics()
    first.escalation("sev-1")
    assert value(second, "incident_operator_escalations_total", severity="sev-1") is None


# --- the lifecycle service --------------------------------------------------------------


async def test_the_lifecycle_reports_accepted_transitions_and_first_stamped_figures() -> None:
    store, clock, recorded = FakeStore(), FakeClock(T0), RecordingMetrics()
    store.severities["sev-2"] = severity(response={"requiredRoles": ["communications"]})
    service = IncidentLifecycleService(store, clock, metrics=recorded)
    await store.create_incident(NS, incident(roles={"commander": "alice"}))

    async def step(minutes: int, **spec: Any) -> None:
        clock.current = T0 + timedelta(minutes=minutes)
        if spec:
            await store.patch_incident(NS, "checkout-errors", spec=spec)
        body = await store.get_incident(NS, "checkout-errors")
        assert body is not None
        await service.reconcile(body)

    await step(0)
    await step(4, state="investigating")
    await step(5)  # a resume: nothing new happened
    await step(30, state="resolved")  # refused: communications unfilled
    await step(31, roles={"commander": "alice", "communications": "bob"})
    assert recorded.named("transition") == [
        ("", "triage", "sev-2"),
        ("triage", "investigating", "sev-2"),
        ("investigating", "resolved", "sev-2"),
    ]
    assert recorded.named("duration") == [
        ("timeToAcknowledge", 240.0, "sev-2"),
        ("timeToMitigate", 31 * 60.0, "sev-2"),
        ("timeToResolve", 31 * 60.0, "sev-2"),
    ]


# --- the SLO service --------------------------------------------------------------------


def slo_body() -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "checkout-availability", "namespace": NS, "uid": "u-1"},
        "spec": {
            "service": "checkout",
            "target": 99.9,
            "indicator": {"ratio": {"errors": "e[{{window}}]", "total": "t[{{window}}]"}},
            "declare": {"enabled": True},
        },
    }


async def test_every_slo_cycle_is_reported() -> None:
    store, source, recorded = FakeStore(), FakeMetrics(), RecordingMetrics()
    store.add_slo(slo_body())
    clock = FakeClock(T0)
    service = SloEvaluationService(store, source, clock, operator_metrics=recorded)
    source.set(f"{NS}/checkout-availability", 1.0)
    burning = await service.cycle()
    source.available = False
    clock.advance(timedelta(seconds=30))
    await service.cycle()
    first, second = recorded.named("slo_cycle")
    assert first == {
        "seconds": burning.seconds,
        "slos": 1,
        "queries": burning.queries,
        "declared": 1,
        "unavailable": False,
    }
    assert burning.queries > 0
    assert second["unavailable"] is True
    assert second["declared"] == 0


# --- open incidents ---------------------------------------------------------------------


def watched(name: str, service: str, phase: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {"namespace": NS, "name": name},
        "spec": {"service": service, "severityRef": "sev-2"},
    }
    if phase is not None:
        body["status"] = {"phase": phase}
    return body


def test_the_index_counts_open_incidents_until_they_end_or_are_deleted() -> None:
    recorded = RecordingMetrics()
    index = OpenIncidentIndex(recorded)
    index.observe(watched("a", "checkout", None))  # new: triage until the lifecycle writes
    index.observe(watched("b", "checkout", "triage"))
    index.observe(watched("c", "search", "resolved"))
    assert recorded.open_incidents == {
        ("sev-2", "checkout", "triage", ""): 2,
        ("sev-2", "search", "resolved", ""): 1,
    }
    index.observe(watched("a", "checkout", "investigating"))
    index.observe(watched("c", "search", "closed"))
    index.observe(watched("b", "checkout", "triage"), deleted=True)
    assert recorded.open_incidents == {("sev-2", "checkout", "investigating", ""): 1}
    published = len(recorded.named("set_open_incidents"))
    index.observe(watched("a", "checkout", "investigating"))  # a status-only update
    assert len(recorded.named("set_open_incidents")) == published, "no change, no publish"


# --- reconcile errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "kind", "translated_to"),
    [
        (TemporaryError("API server busy"), "temporary", kopf.TemporaryError),
        (PermanentError("forbidden"), "permanent", kopf.PermanentError),
        (RuntimeError("bug"), "unexpected", RuntimeError),
    ],
)
async def test_handler_failures_are_counted_by_kind(
    raised: Exception, kind: str, translated_to: type[Exception]
) -> None:
    recorded = RecordingMetrics()

    @translated
    async def reconcile_thing(**_: Any) -> None:
        raise raised

    with pytest.raises(translated_to):
        await reconcile_thing(memo=operator_memo(operator_metrics=recorded))
    assert recorded.named("reconcile_error") == [("reconcile_thing", kind)]


async def test_a_successful_handler_counts_nothing() -> None:
    recorded = RecordingMetrics()

    @translated
    async def fine(**_: Any) -> int:
        return 1

    assert await fine(memo=operator_memo(operator_metrics=recorded)) == 1
    assert recorded.calls == []


# --- GET /metrics -----------------------------------------------------------------------


async def test_the_metrics_endpoint_serves_the_registry_in_text_format() -> None:
    metrics = PrometheusOperatorMetrics()
    metrics.transition("triage", "investigating", "sev-2")
    app = build_app(alertmanager=AlertmanagerWebhook(None, None), metrics=MetricsEndpoint(metrics))
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = await response.text()
    (family,) = [
        f
        for f in text_string_to_metric_families(text)
        if f.name == "incident_operator_incident_transitions"
    ]
    assert family.type == "counter"
    assert [s.value for s in family.samples if s.name.endswith("_total")] == [1.0]


async def test_without_metrics_there_is_no_route() -> None:
    app = build_app(alertmanager=AlertmanagerWebhook(None, None))
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/metrics")).status == 404


# --- by owner (issue 19 item 6) ---------------------------------------------------------------


def test_mttx_is_labelled_by_the_catalogued_service_and_team() -> None:
    metrics = PrometheusOperatorMetrics()
    metrics.duration("timeToResolve", 600.0, "sev-2", ("checkout", "payments"))
    metrics.duration("timeToResolve", 900.0, "sev-2")
    mttr = "incident_operator_time_to_resolve_seconds_count"
    assert value(metrics, mttr, severity="sev-2", service="checkout", team="payments") == 1
    assert value(metrics, mttr, severity="sev-2", **UNOWNED) == 1
    # The owner's other figures start at zero (increase() over them must see them rise).
    mtta = "incident_operator_time_to_acknowledge_seconds_count"
    assert value(metrics, mtta, severity="sev-2", service="checkout", team="payments") == 0


def test_owner_pairs_beyond_the_cap_are_counted_together() -> None:
    metrics = PrometheusOperatorMetrics()
    for n in range(MAX_OWNERS + 5):
        metrics.duration("timeToResolve", 60.0, "sev-2", (f"svc-{n}", "team"))
    metrics.duration("timeToResolve", 60.0, "sev-2", ("svc-0", "team"))  # known: kept
    mttr = "incident_operator_time_to_resolve_seconds_count"
    services = {dict(labels)["service"] for (name, labels) in samples(metrics) if name == mttr}
    assert len(services) == MAX_OWNERS + 1
    assert value(metrics, mttr, severity="sev-2", service="_other", team="_other") == 5
    assert value(metrics, mttr, severity="sev-2", service="svc-0", team="team") == 2


def test_lifecycle_reports_the_catalog_owner_and_the_open_index_the_team() -> None:
    body = watched("a", "checkout", "investigating")
    body["status"]["catalog"] = {
        "owners": [{"service": "checkout", "team": "payments"}],
        "teams": ["payments", "search"],
    }
    assert owner_of(body) == ("checkout", "payments")
    assert owner_of(watched("b", "checkout", "triage")) == ("", ""), "uncatalogued: no label"
    recorded = RecordingMetrics()
    OpenIncidentIndex(recorded).observe(body)
    assert recorded.open_incidents == {("sev-2", "checkout", "investigating", "payments"): 1}
