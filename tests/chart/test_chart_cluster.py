"""The chart against the API server: server-side dry run of every value set, then a real
`helm install` and `helm upgrade` into the local control plane (or an opted-in cluster).

There is no scheduler or kubelet in the local control plane, so nothing waits for pods: the
assertions are on the API objects helm created.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from incident_operator.adapters import prometheus_rule_store
from incident_operator.adapters.subscriber_secret import DATA_KEY, SecretSubscriberList
from incident_operator.adapters.workloads import PLURALS
from incident_operator.domain import freeze
from incident_operator.domain import mitigation as m
from incident_operator.domain.subscriptions import Kind, Subscriber
from tests.chart.helm import CHART, dump, helm, set_args, template
from tests.chart.test_chart import EVERYTHING, VALUE_SETS
from tests.kube import Cluster, annotations_of, api_client, name_of, pod_spec, wait_for

# Other projects' kinds the operator writes: (apiVersion, kind) -> the verbs on the resource
# (or its subresource) that it needs.
UPSTREAM_KINDS = {
    (*m.HTTP_ROUTE, ""): {"get", "patch"},
    (*m.ROLLOUT, ""): {"get", "patch"},
    (*m.ROLLOUT, "status"): {"patch"},  # abort, as kubectl-argo-rollouts does
    (*freeze.FLUX_KUSTOMIZATION, ""): {"get", "patch"},
    (*freeze.FLUX_HELM_RELEASE, ""): {"get", "patch"},
    (*freeze.ARGO_APPLICATION, ""): {"get", "patch"},
    (f"{prometheus_rule_store.GROUP}/{prometheus_rule_store.VERSION}", "PrometheusRule", ""): {
        "patch"  # server-side apply
    },
}


@pytest.fixture(scope="module")
def monitoring_crds(upstream_crds: Cluster) -> Cluster:
    """prometheus-operator's own ServiceMonitor and PrometheusRule CRDs (and the other upstream
    CRDs of hack/upstream-crds.sh) validate the chart's optional monitoring objects."""
    return upstream_crds


def test_rbac_names_what_the_upstream_crds_serve(
    upstream_crds: Cluster, api: client.ApiClient
) -> None:
    """The chart's roles grant, on the upstream CRDs (hack/upstream-crds.sh), exactly resources
    and subresources those serve, with verbs they support, and cover what the operator
    writes, at the API versions it addresses."""
    groups = {api_version.split("/")[0] for api_version, _, _ in UPSTREAM_KINDS}
    served = _served(api, groups)
    by_group: dict[tuple[str, str], set[str]] = {}
    for (group_version, resource), verbs in served.items():
        by_group.setdefault((group_version.split("/")[0], resource), set()).update(verbs)
    granted = _granted(groups)
    for (group, resource), verbs in granted.items():
        assert (group, resource) in by_group, f"{group} serves no {resource}"
        assert verbs <= by_group[(group, resource)], (group, resource, verbs)
    for (api_version, kind, sub), verbs in UPSTREAM_KINDS.items():
        plural = PLURALS.get(kind, "prometheusrules")
        resource = f"{plural}/{sub}" if sub else plural
        assert (api_version, resource) in served, f"{api_version} serves no {resource}"
        assert verbs <= granted.get((api_version.split("/")[0], resource), set()), resource


def _served(api: client.ApiClient, groups: set[str]) -> dict[tuple[str, str], set[str]]:
    """(group/version, resource) -> verbs, as the API server serves them for ``groups``."""
    served: dict[tuple[str, str], set[str]] = {}
    for api_group in client.ApisApi(api).get_api_versions().groups:
        if api_group.name in groups:
            for version in api_group.versions:
                found = client.CustomObjectsApi(api).get_api_resources(
                    api_group.name, version.version
                )
                for res in found.resources:
                    served[(version.group_version, res.name)] = set(res.verbs)
    return served


def _granted(groups: set[str]) -> dict[tuple[str, str], set[str]]:
    """(group, resource) -> verbs the chart's roles grant in ``groups`` (everything on)."""
    granted: dict[tuple[str, str], set[str]] = {}
    for doc in template({**EVERYTHING, "rbac.mitigations": True}):
        if doc["kind"] in {"ClusterRole", "Role"}:
            for rule in doc.get("rules") or []:
                for group in set(rule.get("apiGroups") or []) & groups:
                    for resource in rule["resources"]:
                        granted.setdefault((group, resource), set()).update(rule["verbs"])
    return granted


@pytest.fixture
def release_namespace(api: client.ApiClient) -> Iterator[str]:
    name = f"chart-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


@pytest.mark.parametrize("name", VALUE_SETS)
def test_server_side_dry_run_accepts_every_manifest(
    name: str, monitoring_crds: Cluster, api: client.ApiClient, tmp_path: Path
) -> None:
    values = VALUE_SETS[name]
    core = client.CoreV1Api(api)
    suffix = uuid.uuid4().hex[:6]
    namespaces = [f"dry-{suffix}", *(f"{n}-{suffix}" for n in values.get("watchNamespaces", []))]
    if "watchNamespaces" in values:
        values = {**values, "watchNamespaces": namespaces[1:]}
    if keys := values.get("catalog.secretNamespace"):  # the Role for team keys lives there
        namespaces.append(f"{keys}-{suffix}")
        values = {**values, "catalog.secretNamespace": namespaces[-1]}
    for ns in namespaces:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    try:
        # The kopf.dev CRDs of crds/ must exist before the peering objects can be validated.
        crds = [
            d
            for d in template(values, namespace=namespaces[0], include_crds=True)
            if d["kind"] == "CustomResourceDefinition"
        ]
        path = dump(crds, tmp_path / "crds.yaml")
        monitoring_crds.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
        monitoring_crds.kubectl("wait", "--for=condition=Established", "-f", str(path))
        docs = template(values, namespace=namespaces[0])
        result = monitoring_crds.kubectl(
            "apply",
            "--dry-run=server",
            "--server-side",
            "--force-conflicts",
            "--field-manager=chart-test",
            "-f",
            str(dump(docs, tmp_path / "manifests.yaml")),
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.count("(server dry run)") == len(docs)
    finally:
        for ns in namespaces:
            core.delete_namespace(ns)


def test_helm_install_and_upgrade(
    crds: Cluster, api: client.ApiClient, release_namespace: str
) -> None:
    ns = release_namespace
    release = "incident-operator"
    # --take-ownership: the session's `crds` fixture applied the same CRDs with kubectl.
    installed = helm(
        "install", release, str(CHART), "--namespace", ns, "--take-ownership", "--force-conflicts",
        *set_args({"prometheus.url": "http://prometheus.monitoring:9090"}),
        kubeconfig=crds.kubeconfig,
    )  # fmt: skip
    assert "STATUS: deployed" in installed.stdout
    assert "kubectl -n" in installed.stdout  # NOTES.txt
    apps = client.AppsV1Api(api)
    deployment = apps.read_namespaced_deployment(release, ns)
    assert pod_spec(deployment).service_account_name == release
    assert "--prometheus-url=http://prometheus.monitoring:9090" in (
        pod_spec(deployment).containers[0].args or []
    )
    client.CoreV1Api(api).read_namespaced_service_account(release, ns)
    rbac = client.RbacAuthorizationV1Api(api)
    binding = rbac.read_cluster_role_binding(f"{release}-namespaced")
    assert (binding.subjects or [])[0].namespace == ns
    ext = client.ApiextensionsV1Api(api)
    crd = ext.read_custom_resource_definition("incidents.sre.dev")
    assert annotations_of(crd)["meta.helm.sh/release-name"] == release
    assert annotations_of(crd)["helm.sh/resource-policy"] == "keep"
    # The deployment controller turns it into a ReplicaSet (no kubelet: pods stay Pending).
    wait_for(
        "the ReplicaSet of the Deployment",
        lambda: apps.list_namespaced_replica_set(ns).items,
        timeout=60,
    )

    upgraded = helm(
        "upgrade", release, str(CHART), "--namespace", ns, "--reuse-values",
        *set_args({"logging.verbose": True, "dashboard.enabled": True}),
        kubeconfig=crds.kubeconfig,
    )  # fmt: skip
    assert "REVISION: 2" in upgraded.stdout
    args = pod_spec(apps.read_namespaced_deployment(release, ns)).containers[0].args or []
    assert "--verbose" in args
    assert "--prometheus-url=http://prometheus.monitoring:9090" in args
    client.CoreV1Api(api).read_namespaced_config_map(f"{release}-dashboard", ns)
    history = json.loads(
        helm("history", release, "-n", ns, "-o", "json", kubeconfig=crds.kubeconfig).stdout
    )
    assert [h["status"] for h in history] == ["superseded", "deployed"]

    helm("uninstall", release, "-n", ns, "--wait", kubeconfig=crds.kubeconfig)
    # The CRDs (and so every incident) survive the uninstall.
    ext.read_custom_resource_definition("incidents.sre.dev")
    assert not [b for b in rbac.list_cluster_role_binding().items if name_of(b).startswith(release)]


@pytest.mark.parametrize("name", ["defaults", "everything"])
def test_pod_passes_pod_security_restricted_admission(
    name: str, cluster: Cluster, api: client.ApiClient
) -> None:
    """The API server's PodSecurity admission, enforcing `restricted`, admits the chart's pod."""
    ns = f"pss-{uuid.uuid4().hex[:8]}"
    labels = {"pod-security.kubernetes.io/enforce": "restricted"}
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns, labels=labels)))
    try:
        docs = template(VALUE_SETS[name], namespace=ns)
        deployment = next(d for d in docs if d["kind"] == "Deployment")
        pod: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "operator", "namespace": ns},
            "spec": {**deployment["spec"]["template"]["spec"], "serviceAccountName": "default"},
        }
        core.create_namespaced_pod(ns, client.V1Pod.model_validate(pod), dry_run="All")
        # ...and the same pod running as root is refused: the check is live.
        rooted = {**pod["spec"], "securityContext": {"runAsUser": 0}}
        with pytest.raises(client.ApiException) as refused:
            core.create_namespaced_pod(
                ns, client.V1Pod.model_validate({**pod, "spec": rooted}), dry_run="All"
            )
        assert "violates PodSecurity" in str(refused.value.body)
    finally:
        core.delete_namespace(ns)


async def test_the_subscriber_list_is_the_operators_to_write_and_survives_upgrades(
    crds: Cluster, release_namespace: str
) -> None:
    """Installed with subscriptions, the operator's ServiceAccount (impersonated, through the
    real adapter) reads and updates its one Secret and may not list, create or touch another;
    what it wrote survives `helm upgrade` and the Secret survives `helm uninstall`."""
    ns, release = release_namespace, "incident-operator"
    values = {
        "subscriptions.enabled": True,
        "subscriptions.keySecret.name": "subscriptions",
        "statusPage.externalURL": "https://status.example.com/status",
    }
    helm(
        "install", release, str(CHART), "--namespace", ns, "--take-ownership", "--force-conflicts",
        *set_args(values), kubeconfig=crds.kubeconfig,
    )  # fmt: skip
    name = f"{release}-subscribers"
    operator = api_client(crds.kubeconfig)
    operator.default_headers["Impersonate-User"] = f"system:serviceaccount:{ns}:{release}"
    subscribers = SecretSubscriberList(operator, ns, name, ttl=0)
    assert await subscribers.load() == []
    ann = Subscriber(Kind.EMAIL, "ann@example.com", datetime(2026, 12, 1, tzinfo=UTC))
    assert await subscribers.add(ann) is True
    who = ("--as", f"system:serviceaccount:{ns}:{release}", "-n", ns)
    for verb, resource in (
        ("list", "secrets"),
        ("create", "secrets"),
        ("get", "secrets/other"),
        ("update", "secrets/other"),
        ("delete", f"secrets/{name}"),
    ):
        answer = crds.kubectl("auth", "can-i", verb, resource, *who, check=False).stdout.strip()
        assert answer == "no", (verb, resource)
    helm(
        "upgrade", release, str(CHART), "--namespace", ns, "--reuse-values",
        *set_args({"logging.verbose": True}), kubeconfig=crds.kubeconfig,
    )  # fmt: skip
    assert [s.address for s in await subscribers.load()] == ["ann@example.com"]
    helm("uninstall", release, "-n", ns, "--wait", kubeconfig=crds.kubeconfig)
    kept = client.CoreV1Api(api_client(crds.kubeconfig)).read_namespaced_secret(name, ns)
    assert DATA_KEY in (kept.data or {})
