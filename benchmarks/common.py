"""What every benchmark needs first: the local control plane, our CRDs, one namespace."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kubernetes import client

from tests.cluster import controlplane
from tests.kube import REPO, Cluster, api_client


@contextmanager
def cluster_with_crds(work: Path, namespace: str) -> Iterator[tuple[Cluster, client.ApiClient]]:
    """A fresh control plane in ``work`` with the CRDs established and ``namespace`` created."""
    state = controlplane.up(work / "cluster")
    try:
        cluster = Cluster(state.kubeconfig, existing=False)
        cluster.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
        cluster.kubectl("wait", "--for=condition=Established", "-f", str(REPO / "crds"))
        api = api_client(state.kubeconfig)
        client.CoreV1Api(api).create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace))
        )
        yield cluster, api
    finally:
        controlplane.down(work / "cluster")
