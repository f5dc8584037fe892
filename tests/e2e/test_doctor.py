"""`kubectl incident doctor` on the real control plane: CRDs installed, no operator running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from kubernetes import client

from tests.kube import Cluster, create_custom


def doctor(cluster: Cluster, namespace: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """`kubectl incident doctor` as a user runs it (the plugin on PATH, their kubeconfig);
    only this test's namespace, where no operator was installed."""
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "kubectl-incident"),
            "doctor",
            "-n",
            namespace,
            "--operator-namespace",
            namespace,
            *argv,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": cluster.kubeconfig},
        timeout=60,
        check=False,
    )


def checks(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    assert not result.stderr, result.stderr
    return {c["check"]: c for c in json.loads(result.stdout)["checks"]}


def test_doctor_reports_what_the_cluster_lacks(
    crds: Cluster, api: client.ApiClient, namespace: str
) -> None:
    severity = f"sev-doctor-{uuid.uuid4().hex[:6]}"
    create_custom(
        api,
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Incident",
            "metadata": {"name": "checkout-errors"},
            "spec": {"title": "Checkout returns 5xx", "service": "checkout",
                     "severityRef": severity},
        },
        namespace,
    )  # fmt: skip
    create_custom(
        api,
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "OnCallRotation",
            "metadata": {"name": "checkout-oncall"},
            "spec": {
                "timeZone": "UTC",
                "participants": [{"name": "alice"}],
                "layers": [{"name": "primary", "members": ["alice"],
                            "rotation": {"type": "weekly", "start": "2026-03-02T09:00:00"}}],
            },
        },
        namespace,
    )  # fmt: skip

    text = doctor(crds, namespace)
    assert text.returncode == 1, text.stdout + text.stderr
    lines = {line.split()[1]: line for line in text.stdout.splitlines()}
    assert lines["crds"].startswith("OK "), lines["crds"]
    assert lines["operator"].startswith("FAIL "), lines["operator"]
    assert "docs/install.md" in lines["operator"]

    found = checks(doctor(crds, namespace, "-o", "json"))
    assert found["severities"]["status"] == "FAIL"
    assert severity in found["severities"]["detail"]
    assert f"incident {namespace}/checkout-errors" in found["severities"]["detail"]
    assert found["rotations"]["status"] == "WARN"
    assert f"{namespace}/checkout-oncall" in found["rotations"]["detail"]

    create_custom(
        api,
        {"apiVersion": "sre.dev/v1alpha1", "kind": "Severity", "metadata": {"name": severity},
         "spec": {"level": 2, "displayName": "SEV-2 (doctor test)"}},
        "",
    )  # fmt: skip
    try:
        found = checks(doctor(crds, namespace, "-o", "json"))
        assert found["severities"]["status"] == "OK", found["severities"]
    finally:
        client.CustomObjectsApi(api).delete_cluster_custom_object(
            "sre.dev", "v1alpha1", "severities", severity
        )
