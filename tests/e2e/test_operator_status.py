"""The operator process against the real control plane writes the status we promise."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from incident_operator.handlers.status import READ_ONLY
from tests.kube import REPO, Cluster, get_custom, load_documents, wait_for
from tests.operator_process import OperatorProcess, running_operator

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


@pytest.fixture
def operator(crds: Cluster, tmp_path: Path) -> Iterator[OperatorProcess]:
    with running_operator(crds, tmp_path / "operator.log") as process:
        yield process


def examples_in(namespace: str) -> list[dict[str, Any]]:
    """The examples as a user would apply them, moved into the test's namespace."""
    documents = []
    for path in EXAMPLES:
        for doc in load_documents(path):
            if doc["kind"] == "Namespace":
                continue
            doc["metadata"].pop("namespace", None)
            if doc["kind"] == "ClusterIncidentWorkflow":  # acts on every namespace's incidents
                doc["metadata"]["name"] += f"-{namespace}"
            documents.append(doc)
    return documents


def reconciled(api: client.ApiClient, doc: dict[str, Any], namespace: str) -> dict[str, Any] | None:
    obj = get_custom(api, doc["kind"], doc["metadata"]["name"], namespace)
    status = obj.get("status") or {}
    ready = [c for c in status.get("conditions", []) if c["type"] == "Ready"]
    generation = obj["metadata"]["generation"]
    if status.get("observedGeneration") == generation and ready and ready[0]["status"] == "True":
        return obj
    return None


def diff_based(api: client.ApiClient, doc: dict[str, Any], namespace: str) -> dict[str, Any] | None:
    obj = get_custom(api, doc["kind"], doc["metadata"]["name"], namespace)
    return obj if "lastHandledConfiguration" in (obj.get("status") or {}) else None


def ready_of(obj: dict[str, Any]) -> dict[str, Any]:
    ready: list[dict[str, Any]] = [c for c in obj["status"]["conditions"] if c["type"] == "Ready"]
    (only,) = ready
    return only


def test_operator_marks_every_example_ready(
    operator: OperatorProcess, crds: Cluster, api: client.ApiClient, namespace: str
) -> None:
    documents = examples_in(namespace)
    try:
        check_every_example_ready(operator, crds, api, namespace, documents)
    finally:
        # A ClusterIncidentWorkflow left behind would act on every later test's incidents on
        # this shared control plane (the example announcement posts for every incident).
        for doc in documents:
            if doc["kind"] == "ClusterIncidentWorkflow":
                with contextlib.suppress(client.ApiException):
                    client.CustomObjectsApi(api).delete_cluster_custom_object(
                        "sre.dev", "v1alpha1", "clusterincidentworkflows", doc["metadata"]["name"]
                    )


def check_every_example_ready(
    operator: OperatorProcess,
    crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    documents: list[dict[str, Any]],
) -> None:
    assert {d["kind"] for d in documents} == {
        "Severity",
        "OnCallRotation",
        "ServiceLevelObjective",
        "Incident",
        "Postmortem",
        "Service",
        "Team",
        "IncidentWorkflow",
        "ClusterIncidentWorkflow",
    }
    applied = subprocess.run(
        ["kubectl", "apply", "-n", namespace, "-f", "-"],
        input=yaml.safe_dump_all(documents),
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": crds.kubeconfig},
        check=True,
    )
    assert applied.stdout.count("\n") == len(documents)

    for doc in documents:
        if doc["kind"] in READ_ONLY:
            continue  # the operator only reads it: checked below, once the others are Ready
        obj = wait_for(
            f"{doc['kind']}/{doc['metadata']['name']} Ready at its generation",
            functools.partial(reconciled, api, doc, namespace),
        )
        # SLOs have no kopf handler (their bookkeeping loop writes Ready): no kopf bookkeeping.
        handled_by_kopf = doc["kind"] != "ServiceLevelObjective"
        if handled_by_kopf:
            # kopf's diff base goes out in the same status request as the handlers' status.
            obj = wait_for(
                f"{doc['kind']}/{doc['metadata']['name']}: kopf's diff base in status",
                functools.partial(diff_based, api, doc, namespace),
            )
            assert json.loads(obj["status"]["lastHandledConfiguration"])["spec"] == obj["spec"]
        annotations = obj["metadata"].get("annotations", {})
        assert ("lastHandledConfiguration" in obj["status"]) is handled_by_kopf
        assert ("sre.dev/kopf-managed" in annotations) is handled_by_kopf
        assert "sre.dev/last-handled-configuration" not in annotations
        assert not [k for k in annotations if "kopf.zalando.org" in k]
        assert "kopf" not in obj["status"]
        ready = ready_of(obj)
        # The Postmortem's own writer says what it did (its facts were generated).
        assert ready["reason"] == ("Generated" if doc["kind"] == "Postmortem" else "Reconciled")
        assert ready["observedGeneration"] == obj["metadata"]["generation"]

    for doc in documents:
        if doc["kind"] in READ_ONLY:
            obj = get_custom(api, doc["kind"], doc["metadata"]["name"], namespace)
            assert "status" not in obj, f"the operator writes no {doc['kind']}"
            assert "sre.dev/kopf-managed" not in obj["metadata"].get("annotations", {})

    incident = next(d for d in documents if d["kind"] == "Incident")
    name = incident["metadata"]["name"]
    before = get_custom(api, "Incident", name, namespace)
    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        "sre.dev", "v1alpha1", namespace, "incidents", name, {"spec": {"state": "mitigated"}}
    )
    after = wait_for(
        "the incident's new generation to be observed",
        lambda: (
            reconciled(api, incident, namespace)
            if get_custom(api, "Incident", name, namespace)["metadata"]["generation"] == 2
            else None
        ),
    )
    assert after["status"]["observedGeneration"] == 2
    # Ready stayed True, so it did not transition (by type: the catalog's ServiceResolved may
    # come first, and moves when the example Service, applied after the Incident, resolves).
    assert ready_of(after)["lastTransitionTime"] == ready_of(before)["lastTransitionTime"]
    assert operator.healthz() == 200


def test_operator_logs_are_json(operator: OperatorProcess, crds: Cluster) -> None:
    wait_for("a log line", lambda: operator.log.stat().st_size > 0)
    lines = [line for line in operator.log.read_text().splitlines() if line.strip()]
    for line in lines:
        record = json.loads(line)
        assert {"message", "timestamp", "severity"} <= set(record)
