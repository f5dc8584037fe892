"""Change freeze shared by overlapping incidents, refused through labels, lifted on deletion;
no finalizer left behind once the operator is gone: the namespace deletes."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from kubernetes import client

from incident_operator.domain import deletion, freeze
from tests import upstream_objects as upstream
from tests.e2e.test_mitigation import manual_incident, rolled_to_v2, target_crds  # noqa: F401
from tests.kube import Cluster, as_dict, create_custom, get_custom, wait_for
from tests.operator_process import running_operator

FLUX = upstream.KUSTOMIZATION


def _setup(api: client.ApiClient, namespace: str, tenant_b: str) -> str:
    """Tenant A's Flux-managed Deployment, tenant B's Kustomization named by labels on an
    un-opted ConfigMap in A; a freezing Severity; returns its name."""
    custom = client.CustomObjectsApi(api)
    core = client.CoreV1Api(api)
    rolled_to_v2(api, namespace, "checkout")
    labels = {"kustomize.toolkit.fluxcd.io/name": "apps"}
    client.AppsV1Api(api).patch_namespaced_deployment(
        "checkout", namespace, {"metadata": {"labels": labels}}
    )
    custom.create_namespaced_custom_object(
        *FLUX[:2], namespace, FLUX[2], upstream.kustomization("apps", suspend=False)
    )
    upstream.flux_inventory(api, FLUX, namespace, "apps", [f"{namespace}_checkout_apps_Deployment"])
    custom.create_namespaced_custom_object(
        *FLUX[:2], tenant_b, FLUX[2], upstream.kustomization("apps")
    )
    core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(
                name="flags",
                labels={"kustomize.toolkit.fluxcd.io/name": "apps",
                        "kustomize.toolkit.fluxcd.io/namespace": tenant_b},
            ),
            data={"on": "1"},
        ),
    )  # fmt: skip
    severity = f"sev-freeze-{uuid.uuid4().hex[:6]}"
    create_custom(
        api,
        {"apiVersion": "sre.dev/v1alpha1", "kind": "Severity", "metadata": {"name": severity},
         "spec": {"level": 1, "displayName": severity,
                  "mitigation": {"freezeChanges": True, "freezeNamespaces": [tenant_b]}}},
        "",
    )  # fmt: skip
    return severity


def test_overlap_refusal_deletion_and_namespace_cleanup(
    target_crds: Cluster,  # noqa: F811
    api: client.ApiClient,
    tmp_path: Path,
) -> None:
    custom = client.CustomObjectsApi(api)
    core = client.CoreV1Api(api)
    namespace, tenant_b = (f"tenant-{t}-{uuid.uuid4().hex[:6]}" for t in "ab")
    for ns in (namespace, tenant_b):
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    severity = _setup(api, namespace, tenant_b)

    def ks(ns: str = namespace) -> dict[str, Any]:
        return as_dict(custom.get_namespaced_custom_object(*FLUX[:2], ns, FLUX[2], "apps"))

    def finalizers(name: str) -> list[str]:
        body = get_custom(api, "Incident", name, namespace)
        return list(body["metadata"].get("finalizers") or [])

    try:
        with running_operator(target_crds, tmp_path / "operator.log"):
            manual_incident(api, namespace, "attack", severityRef=severity,
                            mitigations=[{"patchConfigMap": {"configMap": "flags", "key": "on",
                                                             "value": "0"}}])  # fmt: skip
            wait_for(
                "the label attack refused",
                lambda: any(
                    m.get("state") == "refused"
                    for m in get_custom(api, "Incident", "attack", namespace)
                    .get("status", {})
                    .get("mitigations", [])
                ),
                timeout=30,
            )
            assert "suspend" not in ks(tenant_b)["spec"]
            assert freeze.HOLD_ANNOTATION not in (ks(tenant_b)["metadata"].get("annotations") or {})
            assert finalizers("attack") == []  # no side effect open: no finalizer

            # A commander: resolving needs one, and a refused resolve lifts no freeze.
            manual_incident(api, namespace, "inc-a", severityRef=severity,
                            roles={"commander": "alice"},
                            mitigations=[{"rollback": {"deployment": "checkout"}}])  # fmt: skip
            wait_for("inc-a froze", lambda: ks()["spec"].get("suspend") is True, timeout=30)
            scale = {"scale": {"name": "checkout", "replicas": 3}}
            manual_incident(api, namespace, "inc-b", severityRef=severity, mitigations=[scale],
                            roles={"commander": "alice"})  # fmt: skip

            def holders() -> tuple[str, ...]:
                hold = freeze.read_hold(ks())
                return hold.holders if hold else ()

            wait_for("both incidents hold the freeze", lambda: len(holders()) == 2, timeout=30)
            assert finalizers("inc-b") == [deletion.FINALIZER]
            custom.patch_namespaced_custom_object(
                "sre.dev", "v1alpha1", namespace, "incidents", "inc-a",
                {"spec": {"state": "resolved"}},
            )  # fmt: skip
            wait_for("inc-a released", lambda: len(holders()) == 1, timeout=30)
            assert ks()["spec"]["suspend"] is True  # inc-b is still open
            wait_for("inc-a lets go", lambda: finalizers("inc-a") == [], timeout=30)

            custom.delete_namespaced_custom_object(
                "sre.dev", "v1alpha1", namespace, "incidents", "inc-b"
            )

            def gone() -> bool:
                try:
                    get_custom(api, "Incident", "inc-b", namespace)
                except client.ApiException as exc:
                    return bool(exc.status == 404)
                return False

            wait_for("the deleted incident is gone", gone, timeout=30)
            assert ks()["spec"]["suspend"] is False  # the original, exactly
            assert freeze.HOLD_ANNOTATION not in (ks()["metadata"].get("annotations") or {})
        # The operator is gone: deleting the namespace must still complete.
        core.delete_namespace(namespace)

        def namespace_gone() -> bool:
            try:
                core.read_namespace(namespace)
            except client.ApiException as exc:
                return bool(exc.status == 404)
            return False

        wait_for("the namespace deleted without the operator", namespace_gone, timeout=120)
    finally:
        custom.delete_cluster_custom_object("sre.dev", "v1alpha1", "severities", severity)
        core.delete_namespace(tenant_b)
