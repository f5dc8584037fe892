"""The subscriber list in a Secret on the real API server (adapters/subscriber_secret.py):
read what an admin wrote, add and remove without losing a concurrent writer's change, and
keep whatever else the Secret holds."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime

from kubernetes import client

from incident_operator.adapters.subscriber_secret import DATA_KEY, SecretSubscriberList
from incident_operator.domain.subscriptions import Kind, Subscriber

NAME = "subscribers"
SINCE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def create(api: client.ApiClient, namespace: str, data: dict[str, str]) -> None:
    client.CoreV1Api(api).create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=NAME),
            data={k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        ),
    )


def stored(api: client.ApiClient, namespace: str) -> dict[str, str]:
    found = client.CoreV1Api(api).read_namespaced_secret(NAME, namespace)
    return {k: base64.b64decode(v).decode() for k, v in (found.data or {}).items()}


def email(address: str) -> Subscriber:
    return Subscriber(Kind.EMAIL, address, SINCE)


async def test_read_add_and_remove(api: client.ApiClient, namespace: str) -> None:
    admin = [
        {
            "kind": "webhook",
            "address": "https://hooks.example.com/status",
            "since": "2026-12-01T09:00:00Z",
            "secret": "hook-secret",
        }
    ]
    create(api, namespace, {DATA_KEY: json.dumps(admin), "note": "kept"})
    subscribers = SecretSubscriberList(api, namespace, NAME, ttl=0)
    [hook] = await subscribers.load()
    assert (hook.kind, hook.secret) == (Kind.WEBHOOK, "hook-secret")
    assert await subscribers.add(email("ann@example.com")) is True
    assert await subscribers.add(email("ann@example.com")) is False
    assert {s.address for s in await subscribers.load()} == {
        "https://hooks.example.com/status",
        "ann@example.com",
    }
    assert await subscribers.remove(email("ann@example.com").id) is True
    assert await subscribers.remove(email("ann@example.com").id) is False
    data = stored(api, namespace)
    assert data["note"] == "kept"
    assert [e["address"] for e in json.loads(data[DATA_KEY])] == [
        "https://hooks.example.com/status"
    ]


async def test_concurrent_writers_lose_nothing(api: client.ApiClient, namespace: str) -> None:
    create(api, namespace, {})
    writers = [SecretSubscriberList(api, namespace, NAME, ttl=0) for _ in range(4)]
    await asyncio.gather(*(w.add(email(f"user{n}@example.com")) for n, w in enumerate(writers)))
    addresses = {s.address for s in await writers[0].load()}
    assert addresses == {f"user{n}@example.com" for n in range(4)}


async def test_a_missing_secret_is_an_empty_list(api: client.ApiClient, namespace: str) -> None:
    assert await SecretSubscriberList(api, namespace, NAME).load() == []
