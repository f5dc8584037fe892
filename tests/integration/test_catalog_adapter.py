"""The catalog adapter on the real API server: Services and Teams, and team routing keys read
from Secrets in the one configured namespace only, the value staying inside the pager."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import httpx
from kubernetes import client

from incident_operator.adapters.catalog import KubernetesCatalog, SecretPagers
from incident_operator.adapters.watch_cache import WatchedObjects
from incident_operator.domain.catalog import SecretRef
from tests.builders.objects import incident
from tests.kube import Cluster, create_custom

KEY = uuid.uuid4().hex


def secret(api: client.ApiClient, namespace: str, name: str, data: dict[str, str]) -> None:
    client.CoreV1Api(api).create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=name),
            data={k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        ),
    )


def test_routing_keys_come_from_the_configured_namespace_only(
    crds: Cluster, api: client.ApiClient, namespace: str
) -> None:
    secret(api, namespace, "pd", {"routing-key": KEY + "\n"})
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(202, json={"status": "success"})

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            pagers = SecretPagers(api, http, namespace, url="https://pd.example/enqueue")
            pager = await pagers.pager(SecretRef("pd", "routing-key"))
            assert pager is not None
            assert KEY not in repr(pager)
            assert KEY not in repr(pagers)
            await pager.acknowledge("incident-operator/shop/x")
            assert await pagers.pager(SecretRef("pd", "no-such-key")) is None
            assert await pagers.pager(SecretRef("no-such-secret", "routing-key")) is None
            # Not configured: nothing is read at all.
            nowhere = SecretPagers(api, http, "")
            assert await nowhere.pager(SecretRef("pd", "routing-key")) is None

    asyncio.run(scenario())
    assert [body["routing_key"] for body in sent] == [KEY]  # trailing newline stripped


def test_services_are_read_in_their_namespace_and_teams_through_the_cache(
    crds: Cluster, api: client.ApiClient, namespace: str
) -> None:
    team = f"team-{uuid.uuid4().hex[:6]}"
    create_custom(
        api,
        {"apiVersion": "sre.dev/v1alpha1", "kind": "Team", "metadata": {"name": team},
         "spec": {"namespaces": [namespace]}},
        "",
    )  # fmt: skip
    create_custom(
        api,
        {"apiVersion": "sre.dev/v1alpha1", "kind": "Service", "metadata": {"name": "checkout"},
         "spec": {"owner": team}},
        namespace,
    )  # fmt: skip
    teams, services = WatchedObjects(), WatchedObjects()
    catalog = KubernetesCatalog(api, teams=teams, services=services)
    try:
        found = asyncio.run(catalog.get_service(namespace, "checkout"))
        assert found is not None
        assert found["spec"]["owner"] == team
        assert asyncio.run(catalog.get_service("default", "checkout")) is None
        assert asyncio.run(catalog.get_team(team)) is not None
        assert teams.lookup(team)[0]  # remembered from the GET
        assert asyncio.run(catalog.get_team("no-such-team")) is None
        assert teams.lookup("no-such-team") == (True, None)  # a 404 is remembered, bounded
        listed = asyncio.run(catalog.list_teams())  # what a workflow's channel rule reads
        assert team in [t["metadata"]["name"] for t in listed]
        # An Incident is no Service: the names live in different kinds.
        create_custom(api, incident("checkout-incident", None, created=None), namespace)
        assert asyncio.run(catalog.get_service(namespace, "checkout-incident")) is None
    finally:
        client.CustomObjectsApi(api).delete_cluster_custom_object(
            "sre.dev", "v1alpha1", "teams", team
        )
