"""Session fixtures: one real control plane per run (or an opted-in existing cluster).

Set ``INCIDENT_OPERATOR_USE_EXISTING_CLUSTER=1`` together with ``KUBECONFIG`` to run the
cluster tests against e.g. kind instead of the locally built control plane.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from tests.cluster import controlplane
from tests.kube import REPO, Cluster, api_client, delete_namespace, install_upstream_crds

EXISTING_CLUSTER_ENV = "INCIDENT_OPERATOR_USE_EXISTING_CLUSTER"


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if os.environ.get(EXISTING_CLUSTER_ENV) == "1":
        kubeconfig = os.environ.get("KUBECONFIG")
        if not kubeconfig:
            pytest.fail(f"{EXISTING_CLUSTER_ENV}=1 needs KUBECONFIG to point at the cluster")
        yield Cluster(kubeconfig=kubeconfig, existing=True)
        return
    state_dir = tmp_path_factory.mktemp("control-plane")
    state = controlplane.up(state_dir)
    try:
        yield Cluster(kubeconfig=state.kubeconfig, existing=False)
    finally:
        controlplane.down(Path(state.state_dir))


@pytest.fixture(scope="session")
def api(cluster: Cluster) -> client.ApiClient:
    return api_client(cluster.kubeconfig)


@pytest.fixture(scope="session")
def crds(cluster: Cluster) -> Cluster:
    """The generated CRDs, installed and established."""
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", "-f", str(REPO / "crds")
    )
    return cluster


@pytest.fixture(scope="session")
def upstream_crds(cluster: Cluster) -> Cluster:
    """The other projects' CRDs the operator acts on, at the versions pinned in
    hack/upstream-crds.sh (Gateway API, Argo Rollouts, Argo CD, Flux, prometheus-operator)."""
    return install_upstream_crds(cluster)


@pytest.fixture
def namespace(api: client.ApiClient) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    delete_namespace(api, name)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs a cluster, so `pytest -m "not cluster"` runs the fast ones."""
    for item in items:
        if "cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cluster)
