"""The service catalog on the API server: Services, Teams (read through the watch cache) and
the Secrets holding teams' PagerDuty routing keys and webhook signing secrets.

Secrets are read one by one (get) from the single namespace the operator was configured with
(``--catalog-secret-namespace``; the chart grants get on Secrets there and nowhere else): a
Team, written by a cluster admin, names the Secret; a Service, written by a tenant, can only
choose among the routes its owner Team declared. Empty namespace: no team keys are read.
The key's value stays inside the PagerDutyEvents built from it and is remembered for
``ttl`` seconds, so a rotated key is picked up within that time.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from kubernetes import client

from incident_operator import GROUP, VERSION
from incident_operator.domain.catalog import SecretRef, TeamWebhook
from incident_operator.errors import NotFound

from .kubernetes import call_async, core_api, get_object
from .pagerduty import DEFAULT_URL, PagerDutyEvents
from .ports import Body
from .watch_cache import WatchedObjects
from .webhooks import SignedWebhook

log = logging.getLogger(__name__)

DEFAULT_SECRET_TTL = 60.0
LIST_LIMIT = 500
"""Services or Severities listed for a modal (Slack shows at most 100 options at once)."""


def service_key(namespace: str, name: str) -> str:
    """The services cache's key."""
    return f"{namespace}/{name}"


class KubernetesCatalog:
    def __init__(
        self,
        api: client.ApiClient,
        *,
        teams: WatchedObjects | None = None,
        services: WatchedObjects | None = None,
    ) -> None:
        """``teams``, ``services``: what their watches delivered (handlers/catalog.py), read
        before a GET; every comms pass resolves its incident's services."""
        self._custom = client.CustomObjectsApi(api)
        self._teams = teams
        self._services = services

    async def get_service(self, namespace: str, name: str) -> Body | None:
        return await self._cached(self._services, service_key(namespace, name), name, namespace)

    async def get_team(self, name: str) -> Body | None:
        return await self._cached(self._teams, name, name, None)

    async def list_services(self, namespace: str) -> list[Body]:
        """Services in ``namespace`` ("" every namespace): what the declaration modal offers."""
        if not namespace:
            found: Any = await call_async(
                "list services in all namespaces",
                self._custom.list_cluster_custom_object,
                GROUP,
                VERSION,
                "services",
                limit=LIST_LIMIT,
            )
        else:
            found = await call_async(
                f"list services in {namespace}",
                self._custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                "services",
                limit=LIST_LIMIT,
            )
        return [dict(item) for item in (found or {}).get("items") or []]

    async def list_teams(self) -> list[Body]:
        found: Any = await call_async(
            "list teams",
            self._custom.list_cluster_custom_object,
            GROUP,
            VERSION,
            "teams",
            limit=LIST_LIMIT,
        )
        return [dict(item) for item in (found or {}).get("items") or []]

    async def list_severities(self) -> list[Body]:
        found: Any = await call_async(
            "list severities",
            self._custom.list_cluster_custom_object,
            GROUP,
            VERSION,
            "severities",
            limit=LIST_LIMIT,
        )
        return [dict(item) for item in (found or {}).get("items") or []]

    async def _cached(
        self, cache: WatchedObjects | None, key: str, name: str, namespace: str | None
    ) -> Body | None:
        plural = "teams" if namespace is None else "services"
        if cache is None:
            return await get_object(self._custom, plural, name, namespace)
        return await cache.read(key, lambda: get_object(self._custom, plural, name, namespace))


class SecretPagers:
    """One PagerDutyEvents per routing key Secret, built from a fresh read every ``ttl``.

    A missing Secret or key is an answer (None, remembered for ``ttl``: the caller falls back
    to the global key and says so); any other error propagates and is not remembered."""

    def __init__(
        self,
        api: client.ApiClient,
        http: httpx.AsyncClient,
        namespace: str,
        *,
        url: str = DEFAULT_URL,
        ttl: float = DEFAULT_SECRET_TTL,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._core = core_api(api)
        self._http = http
        self._namespace = namespace
        self._url = url
        self._ttl = ttl
        self._now = now
        self._known: dict[SecretRef, tuple[float, PagerDutyEvents | None]] = {}

    def __repr__(self) -> str:
        return f"SecretPagers(namespace={self._namespace!r})"

    async def pager(self, secret: SecretRef) -> PagerDutyEvents | None:
        if not self._namespace:
            return None
        known = self._known.get(secret)
        if known is not None and self._now() - known[0] <= self._ttl:
            return known[1]
        key = await self._read(secret)
        pager = PagerDutyEvents(self._http, key, url=self._url) if key else None
        self._known[secret] = (self._now(), pager)
        return pager

    async def _read(self, secret: SecretRef) -> str | None:
        return await read_secret_value(self._core(), self._namespace, secret, "routing key")


async def read_secret_value(
    core: client.CoreV1Api, namespace: str, secret: SecretRef, purpose: str
) -> str | None:
    """The text in key ``secret.key`` of Secret ``namespace/secret.name``; None (logged,
    never the value) when the Secret or the key is missing or not text. Any other error (403,
    5xx, the network) propagates and is not remembered: using the wrong key because the
    right one was briefly unreadable is worse than using it a little later."""
    what = f"get secret {namespace}/{secret.name}"
    try:
        found: Any = await call_async(what, core.read_namespaced_secret, secret.name, namespace)
    except NotFound:
        log.warning("%s secret %s/%s not found", purpose, namespace, secret.name)
        return None
    encoded = (found.data or {}).get(secret.key)
    if not encoded:
        log.warning("%s secret %s/%s has no key %s", purpose, namespace, secret.name, secret.key)
        return None
    try:
        return base64.b64decode(encoded).decode().strip() or None
    except (binascii.Error, UnicodeDecodeError):
        log.warning(
            "%s secret %s/%s key %s is not text", purpose, namespace, secret.name, secret.key
        )
        return None


class SecretWebhooks:
    """One SignedWebhook per Team webhook (URL and signing secret), the secret read fresh
    from the catalog Secret namespace every ``ttl``, like :class:`SecretPagers`."""

    def __init__(
        self,
        api: client.ApiClient,
        http: httpx.AsyncClient,
        namespace: str,
        *,
        ttl: float = DEFAULT_SECRET_TTL,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._core = core_api(api)
        self._http = http
        self._namespace = namespace
        self._ttl = ttl
        self._now = now
        self._known: dict[TeamWebhook, tuple[float, SignedWebhook | None]] = {}

    def __repr__(self) -> str:
        return f"SecretWebhooks(namespace={self._namespace!r})"

    async def notifier(self, webhook: TeamWebhook) -> SignedWebhook | None:
        if not self._namespace:
            return None
        known = self._known.get(webhook)
        if known is not None and self._now() - known[0] <= self._ttl:
            return known[1]
        secret = await read_secret_value(
            self._core(), self._namespace, webhook.secret, "webhook signing"
        )
        found = SignedWebhook(self._http, webhook.url, secret.encode()) if secret else None
        self._known[webhook] = (self._now(), found)
        return found
