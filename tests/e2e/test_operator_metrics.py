"""The running operator's ``GET /metrics`` shows an incident's life as it happens.

A Severity and an Incident are created, acknowledged (investigating) and resolved on the
local control plane; the scrape must then carry both transitions, one time-to-acknowledge
observation (and the others) for the severity, and no open incident left in triage.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from tests.cluster.controlplane import free_port
from tests.kube import Cluster, create_custom, get_custom, temporary_severity, wait_for
from tests.operator_process import OperatorProcess, running_operator

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def operator(crds: Cluster, tmp_path: Path) -> Iterator[tuple[OperatorProcess, int]]:
    port = free_port()
    with running_operator(crds, tmp_path / "operator.log", f"--http-listen=127.0.0.1:{port}") as op:
        yield op, port


@pytest.fixture
def severity(crds: Cluster, api: client.ApiClient) -> Iterator[str]:
    with temporary_severity(
        api, "sev-metrics", {"level": 3, "displayName": "SEV-3 (metrics test)"}
    ) as name:
        yield name


def scrape(port: int) -> tuple[str, Samples]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        content_type = response.headers["Content-Type"]
        text = response.read().decode()
    return content_type, {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_show_transitions_and_time_to_acknowledge(
    operator: tuple[OperatorProcess, int],
    api: client.ApiClient,
    namespace: str,
    severity: str,
) -> None:
    _, port = operator
    custom = client.CustomObjectsApi(api)
    name = "search-slow"

    def phase() -> str | None:
        found: dict[str, Any] = get_custom(api, "Incident", name, namespace)
        return (found.get("status") or {}).get("phase")

    def patch(spec: dict[str, Any]) -> None:
        custom.patch_namespaced_custom_object(
            "sre.dev", "v1alpha1", namespace, "incidents", name, {"spec": spec}
        )

    create_custom(
        api,
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Incident",
            "metadata": {"name": name},
            "spec": {
                "title": "Search is slow",
                "service": "search",
                "severityRef": severity,
                "roles": {"commander": "alice"},
            },
        },
        namespace,
    )
    wait_for("phase triage", lambda: phase() == "triage")
    # No Service named search in the catalog: the owner labels are empty.
    open_now = ("incident_operator_open_incidents", frozenset(
        {("severity", severity), ("service", "search"), ("phase", "triage"), ("team", "")}
    ))  # fmt: skip
    wait_for("the open incident in triage", lambda: scrape(port)[1].get(open_now) == 1)

    patch({"state": "investigating"})
    wait_for("phase investigating", lambda: phase() == "investigating")
    patch({"state": "resolved"})
    wait_for("phase resolved", lambda: phase() == "resolved")

    def transitions(samples: Samples) -> dict[tuple[str, str], float]:
        return {
            (labels["from"], labels["to"]): value
            for (metric, frozen), value in samples.items()
            if metric == "incident_operator_incident_transitions_total"
            and (labels := dict(frozen))["severity"] == severity
        }

    content_type, samples = wait_for(
        "both transitions on /metrics",
        lambda: (
            got
            if {("triage", "investigating"), ("investigating", "resolved")}
            <= set(transitions((got := scrape(port))[1]))
            else None
        ),
    )
    assert content_type.startswith("text/plain; version=")
    assert transitions(samples) == {
        ("", "triage"): 1,
        ("triage", "investigating"): 1,
        ("investigating", "resolved"): 1,
    }
    by_severity = frozenset({("severity", severity), ("service", ""), ("team", "")})
    for figure in ("acknowledge", "mitigate", "resolve"):
        metric = f"incident_operator_time_to_{figure}_seconds"
        assert samples[(f"{metric}_count", by_severity)] == 1, figure
        assert samples[(f"{metric}_sum", by_severity)] >= 0
    assert samples[("incident_operator_time_to_acknowledge_seconds_count", by_severity)] == 1
    assert open_now not in samples, "no longer in triage"
    resolved = ("incident_operator_open_incidents", frozenset(
        {("severity", severity), ("service", "search"), ("phase", "resolved"), ("team", "")}
    ))  # fmt: skip
    assert samples[resolved] == 1, "resolved still awaits closing"
