"""A workflow's mitigate step with the real operator on the local control plane
(docs/workflows.md#mitigations).

An IncidentWorkflow accepted by the API server (the admin wrote it: the requester-authority
policy is tested in test_tenancy_admission.py) asks, when an incident is declared, to scale a
Deployment that never opted in and one that did. The requests reach the incident once and go
through the same gate and guard as an SLO's listed mitigations: at a Severity without
``mitigation.autoAllowed`` both wait for an approval; approved, the first is refused for want
of the target's consent and the second scales the Deployment.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from kubernetes import client

from incident_operator.domain import mitigation as m
from tests.kube import Cluster, create_custom, get_custom, temporary_severity, wait_for
from tests.operator_process import running_operator


def deployment(name: str, *, opted_in: bool) -> client.V1Deployment:
    annotations = {m.OPT_IN_ANNOTATION: m.OPT_IN_VALUE} if opted_in else {}
    return client.V1Deployment.model_validate(
        {
            "metadata": {"name": name, "annotations": annotations},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "app", "image": f"{name}:v1"}]},
                },
            },
        }
    )


WORKFLOW = {
    "apiVersion": "sre.dev/v1alpha1",
    "kind": "IncidentWorkflow",
    "metadata": {"name": "drain-on-declare"},
    "spec": {
        "triggers": [{"event": "declared"}],
        "actions": [
            {
                "type": "mitigate",
                "continueOnError": True,
                "mitigation": {"name": "drain-plain", "scale": {"name": "plain", "replicas": 0}},
            },
            {
                "type": "mitigate",
                "mitigation": {"name": "drain-web", "scale": {"name": "web", "replicas": 1}},
            },
        ],
    },
}


def mitigations(api: client.ApiClient, namespace: str) -> dict[str, dict[str, Any]]:
    status = get_custom(api, "Incident", "inc", namespace).get("status") or {}
    return {r["name"]: r for r in status.get("mitigations") or []}


def in_state(api: client.ApiClient, namespace: str, **states: str) -> dict[str, Any] | None:
    found = mitigations(api, namespace)
    if all(found.get(n, {}).get("state") == s for n, s in states.items()):
        return found
    return None


def replicas(api: client.ApiClient, namespace: str, name: str) -> int | None:
    spec = client.AppsV1Api(api).read_namespaced_deployment(name, namespace).spec
    return spec.replicas if spec is not None else None


def approve(api: client.ApiClient, namespace: str, *names: str) -> None:
    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        "sre.dev", "v1alpha1", namespace, "incidents", "inc",
        {"spec": {"approvedMitigations": list(names)}},
    )  # fmt: skip


def test_a_workflows_mitigation_waits_for_approval_and_passes_the_targets_guard(
    crds: Cluster, api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(namespace, deployment("web", opted_in=True))
    apps.create_namespaced_deployment(namespace, deployment("plain", opted_in=False))
    create_custom(api, WORKFLOW, namespace)
    with (
        temporary_severity(api, "sev-wfm", {"level": 2, "displayName": "SEV-2 (wfm)"}) as sev,
        running_operator(crds, tmp_path / "operator.log"),
    ):
        wait_for(
            "the workflow to be Ready",
            lambda: any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (
                    get_custom(api, "IncidentWorkflow", "drain-on-declare", namespace).get("status")
                    or {}
                ).get("conditions")
                or []
            ),
        )
        create_custom(
            api,
            {
                "apiVersion": "sre.dev/v1alpha1",
                "kind": "Incident",
                "metadata": {"name": "inc"},
                "spec": {"title": "checkout errors", "service": "checkout", "severityRef": sev},
            },
            namespace,
        )
        # Without autoAllowed both wait for the commander, whoever wrote the workflow.
        held = wait_for(
            "both requests to wait for an approval",
            lambda: in_state(
                api,
                namespace,
                **{"drain-plain": "pending-approval", "drain-web": "pending-approval"},
            ),
        )
        assert {r["source"] for r in held.values()} == {"workflow"}
        assert "--approve drain-web" in held["drain-web"]["message"]
        incident = get_custom(api, "Incident", "inc", namespace)
        requested = incident["status"]["workflows"]["mitigations"]
        assert set(requested) == {"drain-plain", "drain-web"}
        assert requested["drain-web"]["workflow"] == (
            f"IncidentWorkflow {namespace}/drain-on-declare 1-mitigate"
        )
        time.sleep(3)  # more looks: still requested once, nothing changed
        entries = [
            e
            for e in get_custom(api, "Incident", "inc", namespace)["status"]["timeline"]
            if e["type"] == "workflow-mitigation"
        ]
        assert len(entries) == 2
        assert (replicas(api, namespace, "plain"), replicas(api, namespace, "web")) == (2, 2)

        # Approved, the target's consent still decides.
        approve(api, namespace, "drain-plain")
        refused = wait_for(
            "drain-plain to be refused",
            lambda: in_state(api, namespace, **{"drain-plain": "refused"}),
        )
        assert "plain in " in refused["drain-plain"]["message"]
        assert "has not opted in" in refused["drain-plain"]["message"]
        assert replicas(api, namespace, "plain") == 2

        approve(api, namespace, "drain-plain", "drain-web")
        wait_for(
            "drain-web to be applied", lambda: in_state(api, namespace, **{"drain-web": "applied"})
        )
        assert replicas(api, namespace, "web") == 1
        assert replicas(api, namespace, "plain") == 2
