"""The local control plane is a real one: RBAC on, controllers running."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.kube import annotations_of, metadata_of, name_of, pod_spec, token_of, wait_for


def deployment(name: str, image: str) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="app", image=image)]),
            ),
        ),
    )


def test_deployments_get_replicaset_revision_history(api: client.ApiClient, namespace: str) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(namespace, deployment("checkout", "example/checkout:1"))
    patch: dict[str, Any] = {
        "spec": {
            "template": {"spec": {"containers": [{"name": "app", "image": "example/checkout:2"}]}}
        }
    }
    wait_for(
        "the first ReplicaSet",
        lambda: apps.list_namespaced_replica_set(namespace).items,
    )
    apps.patch_namespaced_deployment("checkout", namespace, patch)

    def revisions() -> dict[str | None, str | None] | None:
        sets = apps.list_namespaced_replica_set(namespace).items
        found = {
            annotations_of(rs).get("deployment.kubernetes.io/revision"): pod_spec(rs)
            .containers[0]
            .image
            for rs in sets
            if annotations_of(rs)
        }
        return found if len(found) == 2 else None

    assert wait_for("two ReplicaSet revisions", revisions) == {
        "1": "example/checkout:1",
        "2": "example/checkout:2",
    }
    owners = [
        (metadata_of(rs).owner_references or [])[0].kind
        for rs in apps.list_namespaced_replica_set(namespace).items
    ]
    assert owners == ["Deployment", "Deployment"]


def test_namespaces_get_a_default_service_account(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    account = wait_for(
        "the default ServiceAccount",
        lambda: core.list_namespaced_service_account(namespace).items,
    )
    assert [name_of(a) for a in account] == ["default"]


def test_rbac_denies_an_unbound_service_account(api: client.ApiClient, namespace: str) -> None:
    """TokenRequest works and RBAC is enforced: a fresh ServiceAccount may not list pods."""
    core = client.CoreV1Api(api)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="nobody"))
    )
    token = token_of(
        core.create_namespaced_service_account_token(
            "nobody",
            namespace,
            client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
        )
    )
    configuration = client.Configuration()
    configuration.host = api.configuration.host
    configuration.ssl_ca_cert = api.configuration.ssl_ca_cert
    configuration.api_key = {"authorization": f"Bearer {token}"}
    with client.ApiClient(configuration) as restricted, pytest.raises(ApiException) as denied:
        client.CoreV1Api(restricted).list_namespaced_pod(namespace)
    assert denied.value.status == 403
    assert f"system:serviceaccount:{namespace}:nobody" in (denied.value.body or "")
