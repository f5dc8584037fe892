"""The operator keeps an OnCallRotation's status on who is on call, as the engine computes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from incident_operator.api.v1alpha1.rotation import OnCallRotation
from incident_operator.cli.kubectl_plugin import main
from incident_operator.domain.rotation import current_shifts
from tests.kube import REPO, Cluster, create_custom, get_custom, load_documents, wait_for
from tests.operator_process import OperatorProcess, running_operator


@pytest.fixture
def operator(crds: Cluster, tmp_path: Path) -> Iterator[OperatorProcess]:
    with running_operator(crds, tmp_path / "operator.log") as process:
        yield process


def example_rotation() -> dict[str, Any]:
    (document,) = [
        d
        for d in load_documents(REPO / "examples" / "20-oncallrotation.yaml")
        if d["kind"] == "OnCallRotation"
    ]
    document["metadata"].pop("namespace", None)
    return document


def test_status_names_who_the_engine_says_is_on_call_now(
    operator: OperatorProcess, api: client.ApiClient, namespace: str
) -> None:
    document = example_rotation()
    rotation = OnCallRotation.model_validate(document).spec.to_domain()
    before = datetime.now(UTC)
    create_custom(api, document, namespace)
    name = document["metadata"]["name"]

    def on_call() -> dict[str, Any] | None:
        obj = get_custom(api, "OnCallRotation", name, namespace)
        status = obj.get("status") or {}
        return obj if status.get("onCall") and status.get("nextHandoff") else None

    obj = wait_for(f"OnCallRotation/{name} status.onCall", on_call, timeout=60)
    after = datetime.now(UTC)
    # The operator computed at some instant in [before, after]: a handoff in between may
    # make either answer right, but nothing else is.
    candidates = [
        {s.layer: s.person for s in current_shifts(rotation, at) if s.person is not None}
        for at in (before, after)
    ]
    people = {s["layer"]: s["person"] for s in obj["status"]["onCall"]}
    assert people in candidates
    assert obj["status"]["onCall"][0]["layer"] == "primary"
    assert len(obj["status"]["upcomingShifts"]) == 10
    ready = [c for c in obj["status"]["conditions"] if c["type"] == "Ready"]
    assert ready[0]["status"] == "True"


def test_unknown_time_zone_is_ready_false_not_a_crash(
    operator: OperatorProcess, api: client.ApiClient, namespace: str
) -> None:
    document = example_rotation()
    document["spec"]["timeZone"] = "Mars/Olympus"
    create_custom(api, document, namespace)
    name = document["metadata"]["name"]

    def not_ready() -> dict[str, Any] | None:
        status = get_custom(api, "OnCallRotation", name, namespace).get("status") or {}
        ready = [c for c in status.get("conditions", []) if c["type"] == "Ready"]
        return ready[0] if ready and ready[0]["status"] == "False" else None

    ready = wait_for(f"OnCallRotation/{name} Ready=False", not_ready, timeout=60)
    assert "unknown time zone 'Mars/Olympus'" in ready["message"]
    assert operator.healthz() == 200


def test_oncall_without_file_reads_the_rotation_from_the_cluster(
    crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    create_custom(api, example_rotation(), namespace)
    monkeypatch.setenv("KUBECONFIG", crds.kubeconfig)
    at = "2026-04-01T13:00:00+02:00"
    args = ["oncall", "--name", "checkout-oncall", "-n", namespace, "--at", at, "--output", "json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["onCall"] == "carol"
    assert result["nextHandoff"] == "2026-04-01T16:00:00Z"

    # Not found is a failed operation (exit 1, as kubectl's), not a usage error (2).
    assert main(["oncall", "--name", "missing", "-n", namespace]) == 1
    assert f"OnCallRotation {namespace}/missing not found" in capsys.readouterr().err
