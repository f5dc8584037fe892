"""KubernetesWorkloads against the real API server and kube-controller-manager.

A real Deployment rolled from v1 to v2 gets real ReplicaSets with
``deployment.kubernetes.io/revision`` from the deployment controller; the rollback plan is
executed with server-side dry run (nothing changes: the stored object is byte-identical) and
for real (the template is v1 again and the controller records revision 3). HTTPRoute, Argo
Rollout and the GitOps kinds the change freeze pauses are served by their projects' own CRDs
(hack/upstream-crds.sh), so what the operator writes is validated by the real schemas.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from kubernetes import client

from incident_operator.adapters.workloads import KubernetesWorkloads
from incident_operator.domain import freeze
from incident_operator.domain import mitigation as m
from incident_operator.errors import Conflict
from tests import upstream_objects as upstream
from tests.kube import Cluster, annotations_of, as_dict, pod_spec, wait_for

OPT_IN = {m.OPT_IN_ANNOTATION: m.OPT_IN_VALUE}


def deployment(image: str) -> client.V1Deployment:
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "checkout", "annotations": dict(OPT_IN)},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "checkout"}},
            "template": {
                "metadata": {"labels": {"app": "checkout"}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }
    return client.V1Deployment.model_validate(manifest)


def revisions(apps: client.AppsV1Api, namespace: str) -> dict[int, str | None]:
    out = {}
    for rs in apps.list_namespaced_replica_set(namespace).items:
        revision = annotations_of(rs).get(m.REVISION_ANNOTATION)
        if revision:
            out[int(revision)] = pod_spec(rs).containers[0].image
    return out


def image(apps: client.AppsV1Api, namespace: str) -> str:
    dep = apps.read_namespaced_deployment("checkout", namespace)
    return str(pod_spec(dep).containers[0].image)


def two_revisions(api: client.ApiClient, namespace: str) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(namespace, deployment("checkout:v1"))
    wait_for("revision 1", lambda: revisions(apps, namespace).get(1))
    apps.patch_namespaced_deployment(
        "checkout",
        namespace,
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "checkout:v2"}]}}}},
    )
    wait_for("revision 2", lambda: revisions(apps, namespace).get(2))


def rollback(namespace: str, to_revision: int | None = None) -> m.Request:
    return m.Request(
        "rollback-checkout",
        m.ActionKind.ROLLBACK,
        m.Target(*m.DEPLOYMENT, namespace, "checkout"),
        m.Source.INCIDENT,
        to_revision=to_revision,
    )


async def planned(workloads: KubernetesWorkloads, request: m.Request) -> m.Plan:
    target = await workloads.get(request.target)
    assert target is not None
    found = m.plan(request, target, await workloads.replicasets_of(target), incident="inc")
    assert isinstance(found, m.Plan), found
    return found


def test_rollback_of_a_real_deployment_dry_run_then_for_real(
    cluster: Cluster, api: client.ApiClient, namespace: str
) -> None:
    apps = client.AppsV1Api(api)
    two_revisions(api, namespace)
    workloads = KubernetesWorkloads(api)

    def stored() -> str:
        """The object as users wrote it: spec and metadata, byte for byte. The Deployment
        controller keeps rewriting status (conditions of the rollout in progress, bumping
        resourceVersion) on its own schedule, so those two are left out."""
        got = json.loads(
            cluster.kubectl("get", "deployment/checkout", "-n", namespace, "-o", "json").stdout
        )
        got.pop("status", None)
        got["metadata"].pop("resourceVersion", None)
        got["metadata"].pop("managedFields", None)
        return json.dumps(got, sort_keys=True, indent=1)

    async def scenario() -> None:
        plan = await planned(workloads, rollback(namespace))
        assert "from revision 2 to revision 1" in plan.summary
        before = stored()
        would = await workloads.apply(plan, dry_run=True)
        assert would["spec"]["template"]["spec"]["containers"][0]["image"] == "checkout:v1"
        await asyncio.sleep(1.0)
        assert stored() == before  # server-side dry run: byte-identical
        assert image(apps, namespace) == "checkout:v2"

        done = await workloads.apply(plan, dry_run=False)
        assert done["metadata"]["annotations"][m.MITIGATED_BY_ANNOTATION] == "inc"
        assert image(apps, namespace) == "checkout:v1"
        # The controller adopts the v1 ReplicaSet as the newest revision, as after kubectl undo.
        wait_for("revision 3 = v1", lambda: revisions(apps, namespace).get(3) == "checkout:v1")
        again = await workloads.get(plan.request.target)
        assert again is not None
        replicasets = await workloads.replicasets_of(again)
        refusal = m.plan(rollback(namespace, 3), again, replicasets, incident="inc")
        assert isinstance(refusal, m.Refusal)
        assert refusal.no_op

        # A plan made against an older object is refused by the API server (409), not applied.
        with pytest.raises(Conflict):
            await workloads.apply(plan, dry_run=False)

    asyncio.run(scenario())


def test_http_route_weights_rollout_abort_scale_and_config_map(
    upstream_crds: Cluster, api: client.ApiClient, namespace: str
) -> None:
    custom = client.CustomObjectsApi(api)
    route_body = upstream.http_route("checkout", {"stable": 90, "canary": 10}, dict(OPT_IN))
    created_route = as_dict(
        custom.create_namespaced_custom_object(
            *upstream.HTTP_ROUTE[:2], namespace, upstream.HTTP_ROUTE[2], route_body
        )
    )
    rollout_body = upstream.rollout("checkout", dict(OPT_IN))
    custom.create_namespaced_custom_object(
        *upstream.ROLLOUT[:2], namespace, upstream.ROLLOUT[2], rollout_body
    )
    flags = {
        "metadata": {
            "name": "flags",
            "annotations": {**OPT_IN, m.ALLOWED_KEYS_ANNOTATION: "new-checkout"},
        },
        "data": {"new-checkout": "on"},
    }
    client.CoreV1Api(api).create_namespaced_config_map(
        namespace, client.V1ConfigMap.model_validate(flags)
    )
    client.AppsV1Api(api).create_namespaced_deployment(namespace, deployment("checkout:v1"))
    workloads = KubernetesWorkloads(api)

    def request(action: m.ActionKind, kind: tuple[str, str], name: str, **kw: Any) -> m.Request:
        return m.Request(
            f"{action}", action, m.Target(*kind, namespace, name), m.Source.INCIDENT, **kw
        )

    async def run(request: m.Request) -> dict[str, Any]:
        target = await workloads.get(request.target)
        assert target is not None
        assert m.guard_target(request, target, namespace) is None
        found = m.plan(request, target, incident="inc")
        assert isinstance(found, m.Plan), found
        return await workloads.apply(found, dry_run=False)

    async def scenario() -> None:
        shift = request(
            m.ActionKind.SHIFT_TRAFFIC,
            m.HTTP_ROUTE,
            "checkout",
            weights=(("stable", 100), ("canary", 0)),
        )
        await run(shift)
        route = as_dict(
            custom.get_namespaced_custom_object(
                "gateway.networking.k8s.io", "v1", namespace, "httproutes", "checkout"
            )
        )
        weights = {r["name"]: r["weight"] for r in route["spec"]["rules"][0]["backendRefs"]}
        assert weights == {"stable": 100, "canary": 0}
        # Only the weights changed: parentRefs, matches and the API server's defaults are kept.
        expected = json.loads(json.dumps(created_route["spec"]))
        for ref in expected["rules"][0]["backendRefs"]:
            ref["weight"] = weights[ref["name"]]
        assert route["spec"] == expected

        await run(request(m.ActionKind.ABORT_ROLLOUT, m.ROLLOUT, "checkout"))
        rollout = as_dict(
            custom.get_namespaced_custom_object(
                "argoproj.io", "v1alpha1", namespace, "rollouts", "checkout"
            )
        )
        assert rollout["status"]["abort"] is True
        assert rollout["spec"] == rollout_body["spec"]

        await run(request(m.ActionKind.SCALE, m.DEPLOYMENT, "checkout", replicas=3))
        scaled = client.AppsV1Api(api).read_namespaced_deployment("checkout", namespace)
        assert scaled.spec.replicas == 3

        flag = request(
            m.ActionKind.PATCH_CONFIG_MAP, m.CONFIG_MAP, "flags", key="new-checkout", value="off"
        )
        patched = await run(flag)
        assert patched["data"] == {"new-checkout": "off"}
        assert (
            await workloads.get(m.Target("argoproj.io/v1alpha1", "Rollout", namespace, "x")) is None
        )

    asyncio.run(scenario())


def test_namespace_history_reads_metadata_only(
    cluster: Cluster, api: client.ApiClient, namespace: str
) -> None:
    """ConfigMaps and Secrets come as PartialObjectMetadata: their values never leave the API."""
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap.model_validate(
            {"metadata": {"name": "flags"}, "data": {"new-checkout": "on"}}
        ),
    )
    core.create_namespaced_secret(
        namespace,
        client.V1Secret.model_validate(
            {"metadata": {"name": "db"}, "stringData": {"password": "hunter2"}}
        ),
    )
    two_revisions(api, namespace)
    history = asyncio.run(KubernetesWorkloads(api).namespace_history(namespace))
    secrets = {s["metadata"]["name"]: s for s in history.secrets}
    assert "db" in secrets
    assert "data" not in secrets["db"]
    assert secrets["db"]["metadata"]["managedFields"]
    assert "data" not in next(c for c in history.config_maps if c["metadata"]["name"] == "flags")
    revisions_seen = {
        r["metadata"]["annotations"].get(m.REVISION_ANNOTATION) for r in history.replicasets
    }
    assert revisions_seen >= {"1", "2"}
    assert any(e.get("involvedObject", {}).get("kind") == "Deployment" for e in history.events)


@pytest.mark.parametrize("kind", ["Kustomization", "HelmRelease", "Application"])
def test_change_freeze_writes_are_accepted_by_the_gitops_schemas(
    upstream_crds: Cluster, api: client.ApiClient, namespace: str, kind: str
) -> None:
    """The freeze and its restore, as services/freeze.py plans and writes them, on objects of
    the upstream Flux and Argo CD CRDs: frozen (``spec.suspend: true`` / no
    ``spec.syncPolicy.automated``) with the shared hold annotation, then the spec exactly as
    it was and no annotation left."""
    automated = {"prune": True, "selfHeal": True}
    gvp, body = {
        "Kustomization": (upstream.KUSTOMIZATION, upstream.kustomization("apps", suspend=False)),
        "HelmRelease": (upstream.HELM_RELEASE, upstream.helm_release("web")),
        "Application": (
            upstream.APPLICATION,
            upstream.application("web", namespace, syncPolicy={"automated": automated}),
        ),
    }[kind]
    custom = client.CustomObjectsApi(api)
    created = as_dict(custom.create_namespaced_custom_object(*gvp[:2], namespace, gvp[2], body))
    owner = m.Target(body["apiVersion"], kind, namespace, body["metadata"]["name"])
    checkout = m.Target(*m.DEPLOYMENT, namespace, "checkout")
    if kind == "Application":
        ref = {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": namespace,
               "name": "checkout"}  # fmt: skip
        upstream.argocd_resources(api, namespace, owner.name, [ref])
    else:
        upstream.flux_inventory(api, gvp, namespace, owner.name, [freeze.inventory_id(checkout)])
    workloads = KubernetesWorkloads(api)

    async def scenario() -> None:
        before = await workloads.get(owner)
        assert before is not None
        assert freeze.manages(owner, before, checkout)
        assert not freeze.is_frozen(owner, before)
        acquired = freeze.plan_acquire(owner, before, "ns/inc/uid")
        await workloads.merge_patch(owner, acquired.patch)
        frozen = await workloads.get(owner)
        assert frozen is not None
        assert freeze.is_frozen(owner, frozen)
        hold = freeze.read_hold(frozen)
        assert hold is not None
        assert hold.holders == ("ns/inc/uid",)
        released = freeze.plan_release(owner, frozen, "ns/inc/uid")
        assert released is not None
        assert released.restored
        await workloads.merge_patch(owner, released.patch)
        after = await workloads.get(owner)
        assert after is not None
        assert after["spec"] == created["spec"]
        assert freeze.HOLD_ANNOTATION not in (after["metadata"].get("annotations") or {})

    asyncio.run(scenario())
