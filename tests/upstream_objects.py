"""Objects of other projects' kinds that the operator acts on, as those projects' users write
them: every field the upstream CRD requires (hack/upstream-crds.sh pins the versions), so the
API server validates them, and what the operator writes into them, against the real schemas.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

Body = dict[str, Any]

HTTP_ROUTE = ("gateway.networking.k8s.io", "v1", "httproutes")
ROLLOUT = ("argoproj.io", "v1alpha1", "rollouts")
KUSTOMIZATION = ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations")
HELM_RELEASE = ("helm.toolkit.fluxcd.io", "v2", "helmreleases")
APPLICATION = ("argoproj.io", "v1alpha1", "applications")


def _object(gvp: tuple[str, str, str], kind: str, name: str, spec: Body, **meta: Any) -> Body:
    return {
        "apiVersion": f"{gvp[0]}/{gvp[1]}",
        "kind": kind,
        "metadata": {"name": name, **meta},
        "spec": spec,
    }


def http_route(name: str, weights: dict[str, int], annotations: dict[str, str]) -> Body:
    """A route attached to a Gateway, splitting traffic between Services on port 80."""
    refs = [{"name": b, "port": 80, "weight": w} for b, w in weights.items()]
    spec = {
        "parentRefs": [{"name": "public"}],
        "hostnames": [f"{name}.example.com"],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": refs,
            }
        ],
    }
    return _object(HTTP_ROUTE, "HTTPRoute", name, spec, annotations=annotations)


def rollout(name: str, annotations: dict[str, str]) -> Body:
    """A canary Rollout paused at 20%."""
    spec = {
        "replicas": 2,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "app", "image": f"{name}:v2"}]},
        },
        "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}},
    }
    return _object(ROLLOUT, "Rollout", name, spec, annotations=annotations)


def kustomization(name: str, **spec: Any) -> Body:
    base = {
        "interval": "5m",
        "path": "./apps",
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": "fleet"},
    }
    return _object(KUSTOMIZATION, "Kustomization", name, {**base, **spec})


def helm_release(name: str, **spec: Any) -> Body:
    chart = {"spec": {"chart": name, "sourceRef": {"kind": "HelmRepository", "name": "charts"}}}
    return _object(HELM_RELEASE, "HelmRelease", name, {"interval": "5m", "chart": chart, **spec})


def application(name: str, destination_namespace: str, **spec: Any) -> Body:
    base = {
        "project": "default",
        "source": {
            "repoURL": "https://git.example.com/fleet.git",
            "path": name,
            "targetRevision": "HEAD",
        },
        "destination": {
            "server": "https://kubernetes.default.svc",
            "namespace": destination_namespace,
        },
    }
    return _object(APPLICATION, "Application", name, {**base, **spec})


def flux_inventory(
    api: client.ApiClient, gvp: tuple[str, str, str], namespace: str, name: str, ids: list[str]
) -> None:
    """What kustomize-/helm-controller write after applying: ``status.inventory`` (ids of the
    form ``<namespace>_<name>_<group>_<Kind>``), through the status subresource."""
    entries = [{"id": i, "v": "v1"} for i in ids]
    client.CustomObjectsApi(api).patch_namespaced_custom_object_status(
        *gvp[:2], namespace, gvp[2], name, {"status": {"inventory": {"entries": entries}}}
    )


def argocd_resources(
    api: client.ApiClient, namespace: str, name: str, resources: list[Body]
) -> None:
    """What the Argo CD application controller writes: ``status.resources``. The Application
    CRD has no status subresource, so status is written with the object itself."""
    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        *APPLICATION[:2], namespace, APPLICATION[2], name, {"status": {"resources": resources}}
    )
