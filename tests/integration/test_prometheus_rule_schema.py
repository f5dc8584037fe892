"""The PrometheusRules the operator (``--manage-prometheus-rules``) and ``kubectl incident slo
rules --prometheus-rule`` write, against prometheus-operator's own CRD (hack/upstream-crds.sh).

The upstream schema has no ``x-kubernetes-preserve-unknown-fields``: a field it does not know
would be dropped silently (the API server only warns), so the objects are sent with
``fieldValidation=Strict`` and must come back exactly as sent (no field pruned or defaulted).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from kubernetes import client

from incident_operator.api.v1alpha1.slo import ServiceLevelObjective
from incident_operator.cli.kubectl_plugin import main
from incident_operator.services.prometheus_rules import prometheus_rule
from tests.kube import REPO, Cluster, as_dict, load_documents

GROUP, VERSION, PLURAL = "monitoring.coreos.com", "v1", "prometheusrules"
EXAMPLE_SLOS = [
    d
    for d in load_documents(REPO / "examples" / "30-slo.yaml")
    if d["kind"] == "ServiceLevelObjective"
]
RECORDED: dict[str, Any] = {
    "apiVersion": "sre.dev/v1alpha1",
    "kind": "ServiceLevelObjective",
    "metadata": {"name": "checkout-recorded", "namespace": "shop"},
    "spec": {
        "service": "checkout",
        "target": 99.9,
        "window": "28d",
        "indicator": {"recorded": {"provider": "pyrra", "name": "checkout-errors"}},
    },
}


def create_strict(api: client.ApiClient, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    return as_dict(
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, body, dry_run="All", field_validation="Strict"
        )
    )


@pytest.mark.parametrize("slo", [*EXAMPLE_SLOS, RECORDED], ids=lambda s: str(s["metadata"]["name"]))
def test_operator_prometheus_rule_is_valid_and_kept_whole(
    upstream_crds: Cluster, api: client.ApiClient, namespace: str, slo: dict[str, Any]
) -> None:
    body = {**slo, "metadata": {**slo["metadata"], "namespace": namespace}}
    rule = prometheus_rule(ServiceLevelObjective.model_validate(body), {"team": "payments"})
    stored = create_strict(api, namespace, rule)
    assert stored["spec"] == rule["spec"]
    assert any("alert" in r for g in stored["spec"]["groups"] for r in g["rules"])


@pytest.mark.parametrize("slo", EXAMPLE_SLOS, ids=lambda s: str(s["metadata"]["name"]))
def test_cli_prometheus_rule_is_valid_and_kept_whole(
    upstream_crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    capsys: pytest.CaptureFixture[str],
    slo: dict[str, Any],
) -> None:
    manifest = REPO / "examples" / "30-slo.yaml"
    name = str(slo["metadata"]["name"])
    argv = ["slo", "rules", str(manifest), "--name", name, "--prometheus-rule", "--label", "team=a"]
    assert main(argv) == 0
    document = yaml.safe_load(capsys.readouterr().out)
    document["metadata"]["namespace"] = namespace
    assert create_strict(api, namespace, document)["spec"] == document["spec"]
