"""--manage-prometheus-rules: each SLO gets a PrometheusRule, kept in step and garbage-collected."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.kube import Cluster, as_dict, create_custom, wait_for
from tests.operator_process import OperatorProcess


def rule(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return as_dict(
            client.CustomObjectsApi(api).get_namespaced_custom_object(
                "monitoring.coreos.com", "v1", namespace, "prometheusrules", name
            )
        )
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def test_slo_gets_a_valid_owned_prometheus_rule(
    crds: Cluster, upstream_crds: Cluster, api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """prometheus-operator's own PrometheusRule CRD (hack/upstream-crds.sh) validates it."""
    slo = create_custom(
        api,
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "ServiceLevelObjective",
            "metadata": {"name": "checkout"},
            "spec": {
                "service": "checkout",
                "target": 99.9,
                "indicator": {
                    "ratio": {
                        "errors": 'rate(http_requests_total{code=~"5.."}[{{window}}])',
                        "total": "rate(http_requests_total[{{window}}])",
                    }
                },
            },
        },
        namespace,
    )
    operator = OperatorProcess(crds, tmp_path / "operator.log", "--manage-prometheus-rules")
    try:
        created = wait_for("the PrometheusRule", lambda: rule(api, namespace, "sloth-slo-checkout"))
        (owner,) = created["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"]) == ("ServiceLevelObjective", slo["metadata"]["uid"])
        assert [g["name"] for g in created["spec"]["groups"]] == [
            "sloth-slo-sli-recordings-checkout-checkout",
            "sloth-slo-meta-recordings-checkout-checkout",
            "sloth-slo-alerts-checkout-checkout",
        ]
        rule_file = tmp_path / "rules.yaml"
        rule_file.write_text(yaml.safe_dump({"groups": created["spec"]["groups"]}))
        check = subprocess.run(
            ["promtool", "check", "rules", str(rule_file)],
            check=False,
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stdout + check.stderr

        # Edit only once the operator has finished handling the creation (kopf records what it
        # handled in status.lastHandledConfiguration); an edit racing that bookkeeping is
        # kopf's business, not what this test is about.
        wait_for(
            "the creation handled",
            lambda: (
                "lastHandledConfiguration"
                in (
                    as_dict(
                        client.CustomObjectsApi(api).get_namespaced_custom_object(
                            "sre.dev", "v1alpha1", namespace, "servicelevelobjectives", "checkout"
                        )
                    ).get("status")
                    or {}
                )
            ),
        )
        client.CustomObjectsApi(api).patch_namespaced_custom_object(
            "sre.dev",
            "v1alpha1",
            namespace,
            "servicelevelobjectives",
            "checkout",
            {"spec": {"target": 99.5}},
        )

        def objective_updated() -> bool:
            current = rule(api, namespace, "sloth-slo-checkout") or {}
            exprs = [
                r.get("expr") for g in current.get("spec", {}).get("groups", []) for r in g["rules"]
            ]
            return any(str(e).strip() == "vector(0.995)" for e in exprs)

        wait_for("the rule to follow the new target", objective_updated)
    finally:
        assert operator.stop() == 0
    client.CustomObjectsApi(api).delete_namespaced_custom_object(
        "sre.dev", "v1alpha1", namespace, "servicelevelobjectives", "checkout"
    )
    wait_for(
        "the garbage collector to delete the rule",
        lambda: rule(api, namespace, "sloth-slo-checkout") is None,
        timeout=90,
    )
