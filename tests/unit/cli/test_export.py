"""`kubectl incident export`: the declared object only, so applying it back changes nothing."""

from __future__ import annotations

import argparse
import io
from typing import Any

import yaml

from incident_operator.cli.export import exported, run

LIVE: dict[str, Any] = {
    "apiVersion": "sre.dev/v1alpha1",
    "kind": "Incident",
    "metadata": {
        "name": "slo-checkout-20261206",
        "namespace": "shop",
        "uid": "0b6c1f5e-0000-4000-8000-000000000001",
        "resourceVersion": "4242",
        "generation": 3,
        "creationTimestamp": "2026-12-06T10:00:00Z",
        "labels": {"sre.dev/slo": "checkout", "sre.dev/service": "checkout"},
        "annotations": {
            "sre.dev/declared-severity": "sev-2",
            "kopf.zalando.org/last-handled-configuration": "{}",
            # What our kopf writes (handlers/settings.py): its prefix is ours.
            "sre.dev/last-handled-configuration": '{"spec":{"state":"triage"}}',
            "sre.dev/kopf-managed": "yes",
            # Exported mid-creation: change correlation still to run in a pass of its own.
            "sre.dev/change-correlation": '{"started":"2026-12-06T10:00:01Z","purpose":"create"}',
            "sre.dev/lifecycle": '{"started":"2026-12-06T10:00:01Z","success":true}',
            "kubectl.kubernetes.io/last-applied-configuration": "{}",
            "postmortem.sre.dev/dashboard-marks": "declared",
        },
        "finalizers": ["sre.dev/side-effects", "sre.dev/finalizer"],
        "managedFields": [{"manager": "incident-operator", "operation": "Update"}],
    },
    "spec": {
        "title": "checkout: SLO checkout-availability is burning its error budget",
        "service": "checkout",
        "severityRef": "sev-2",
        "state": "triage",
        "roles": {"commander": "alice"},
        "source": {"type": "slo", "ref": "checkout", "detectedAt": "2026-12-06T09:58:00Z"},
    },
    "status": {"phase": "mitigated", "conclusions": {"state": {"value": "mitigated"}}},
}


def test_the_export_is_what_was_declared_and_nothing_the_server_or_operator_filled() -> None:
    manifest = exported(LIVE)
    assert manifest == {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "Incident",
        "metadata": {
            "name": "slo-checkout-20261206",
            "namespace": "shop",
            "labels": {"sre.dev/slo": "checkout", "sre.dev/service": "checkout"},
            "annotations": {"sre.dev/declared-severity": "sev-2"},
        },
        "spec": LIVE["spec"],
    }


class Client:
    def __init__(self) -> None:
        self.postmortem = {**LIVE, "kind": "Postmortem", "spec": {"incidentRef": "x"}}

    def get(self, name: str) -> dict[str, Any]:
        assert name == "slo-checkout-20261206"
        return {**LIVE, "status": {**LIVE["status"], "postmortemRef": "pm-1"}}

    def get_postmortem(self, name: str) -> dict[str, Any]:
        assert name == "pm-1"
        return self.postmortem


def test_the_command_prints_yaml_that_reads_back_to_the_same_manifest() -> None:
    out = io.StringIO()
    args = argparse.Namespace(
        name="slo-checkout-20261206", namespace="shop", postmortem=False, output="yaml"
    )
    assert run(args, out, Client()) == 0
    assert yaml.safe_load(out.getvalue()) == exported(LIVE)
    out = io.StringIO()
    args.postmortem = True
    assert run(args, out, Client()) == 0
    assert yaml.safe_load(out.getvalue())["kind"] == "Postmortem"
    assert "status" not in yaml.safe_load(out.getvalue())
