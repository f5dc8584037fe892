"""Change correlation: recent changes in the namespace as timeline entries, names only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from incident_operator.adapters.workloads_port import NamespaceHistory
from incident_operator.domain import changes
from incident_operator.domain.times import iso
from incident_operator.services.change_correlation import (
    ChangeCorrelationService,
    awaits_correlation,
)
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.store import FakeStore
from tests.fakes.ports.workloads import FakeWorkloads

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def rs(name: str, revision: int, at: datetime, cause: str = "") -> dict[str, Any]:
    annotations = {"deployment.kubernetes.io/revision": str(revision)}
    if cause:
        annotations["kubernetes.io/change-cause"] = cause
    return {
        "metadata": {
            "name": f"{name}-{revision}",
            "creationTimestamp": iso(at),
            "annotations": annotations,
            "ownerReferences": [{"kind": "Deployment", "name": name}],
        }
    }


def written(name: str, at: datetime, manager: str = "kubectl-edit", **extra: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": iso(at - 60 * MIN),
            "managedFields": [{"manager": manager, "time": iso(at)}],
            **extra,
        }
    }


def event(component: str, kind: str, name: str, at: datetime, reason: str) -> dict[str, Any]:
    return {
        "metadata": {"name": f"{name}.{reason}"},
        "involvedObject": {"kind": kind, "name": name},
        "source": {"component": component},
        "reason": reason,
        "message": f"{reason} happened",
        "lastTimestamp": iso(at),
    }


HISTORY = NamespaceHistory(
    replicasets=[
        rs("checkout", 1, NOW - 3 * 60 * MIN),  # before the window
        rs("checkout", 2, NOW - 20 * MIN, "deploy v2"),
    ],
    config_maps=[written("flags", NOW - 15 * MIN), written("kube-root-ca.crt", NOW - 5 * MIN)],
    secrets=[
        {**written("db-password", NOW - 12 * MIN), "data": {"password": "aHVudGVyMg=="}},
        written(
            "sh.helm.release.v1.checkout.v7",
            NOW - 25 * MIN,
            manager="helm",
            labels={"owner": "helm", "name": "checkout", "version": "7", "status": "deployed"},
        ),
    ],
    events=[
        event(
            "kustomize-controller",
            "Kustomization",
            "apps",
            NOW - 21 * MIN,
            "ReconciliationSucceeded",
        ),
        event(
            "horizontal-pod-autoscaler",
            "HorizontalPodAutoscaler",
            "checkout",
            NOW - 8 * MIN,
            "SuccessfulRescale",
        ),
        event("kubelet", "Pod", "checkout-abc", NOW - 2 * MIN, "BackOff"),
    ],
)


def test_recent_changes_newest_first_within_the_window() -> None:
    found = [
        *(changes.replicaset_change(r, "shop") for r in HISTORY.replicasets),
        *(changes.config_change(c, "shop", "ConfigMap") for c in HISTORY.config_maps[:1]),
        *(changes.config_change(s, "shop", "Secret") for s in HISTORY.secrets),
        *(changes.event_change(e, "shop") for e in HISTORY.events),
    ]
    picked = changes.recent([c for c in found if c], since=NOW - 60 * MIN, until=NOW)
    assert [c.name for c in picked] == [
        "horizontalpodautoscaler/checkout",
        "secret/db-password",
        "configmap/flags",
        "deployment/checkout",
        "kustomization/apps",
        "helm/checkout",
    ]
    revision = picked[3]
    assert revision.detail == "revision 2 (deploy v2)"
    assert revision.link == "kubectl -n shop rollout history deployment/checkout --revision=2"
    assert picked[-1].detail == "release revision 7 (deployed)"


async def test_service_appends_keyed_entries_and_never_a_secret_value() -> None:
    store = FakeStore()
    workloads = FakeWorkloads(history={"shop": HISTORY})
    store.incidents[("shop", "inc")] = {
        "metadata": {"name": "inc", "namespace": "shop", "creationTimestamp": iso(NOW)},
        "spec": {"title": "t", "service": "checkout", "severityRef": "sev-2"},
    }
    service = ChangeCorrelationService(store, workloads, workloads, FakeClock(NOW))
    body = store.incidents[("shop", "inc")]
    picked = await service.correlate(body)
    await service.correlate(body)  # a retry adds nothing
    timeline = store.timeline("shop", "inc")
    assert len(timeline) == len(picked) + 1
    assert [e["type"] for e in timeline].count("change-correlation") == 1
    text = str(timeline)
    assert "db-password" in text
    assert "aHVudGVyMg" not in text
    assert "kube-root-ca.crt" not in text
    assert "BackOff" not in text


async def test_secrets_the_operator_may_not_list_are_named_not_fatal() -> None:
    store = FakeStore()
    history = NamespaceHistory(
        replicasets=HISTORY.replicasets, events=HISTORY.events, unreadable=("Secrets",)
    )
    workloads = FakeWorkloads(history={"shop": history})
    store.incidents[("shop", "inc")] = {
        "metadata": {"name": "inc", "namespace": "shop", "creationTimestamp": iso(NOW)},
        "spec": {"title": "t", "service": "checkout", "severityRef": "sev-2"},
    }
    service = ChangeCorrelationService(store, workloads, workloads, FakeClock(NOW))
    await service.correlate(store.incidents[("shop", "inc")])
    (summary,) = [e for e in store.timeline("shop", "inc") if e["type"] == "change-correlation"]
    assert summary["message"].endswith("Not read (no permission): Secrets.")


async def test_an_incident_awaits_correlation_from_its_declaration_to_its_summary() -> None:
    """The timer's filter: not before the lifecycle's first status (correlation never holds a
    declaration back), not once the summary is in (a restart runs nothing twice), never for an
    incident no longer being worked."""
    store = FakeStore()
    workloads = FakeWorkloads(history={"shop": HISTORY})
    body: dict[str, Any] = {
        "metadata": {"name": "inc", "namespace": "shop", "creationTimestamp": iso(NOW)},
        "spec": {"title": "t", "service": "checkout", "severityRef": "sev-2"},
    }
    store.incidents[("shop", "inc")] = body
    assert not awaits_correlation(body), "not declared yet"
    body["status"] = {"phase": "triage", "timeline": [{"key": "declared", "type": "declared"}]}
    assert awaits_correlation(body)
    assert not awaits_correlation({**body, "status": {"phase": "resolved"}})
    await ChangeCorrelationService(store, workloads, workloads, FakeClock(NOW)).correlate(body)
    assert not awaits_correlation(store.incidents[("shop", "inc")])
