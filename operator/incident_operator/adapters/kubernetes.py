"""ResourceStore on the API server with the official client, every call off the event loop.

API errors are translated here: 409/429/5xx and connection problems are temporary, the
rest permanent (RBAC, validation) — handlers turn them into kopf retry semantics.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from incident_operator import GROUP, VERSION, __version__
from incident_operator.api.v1alpha1.convert import (
    timeline_summary_from_domain,
    timeline_summary_to_domain,
)
from incident_operator.domain import ownership, timeline
from incident_operator.errors import Conflict, FieldOwnedElsewhere, PermanentError, TemporaryError

from .ports import Body
from .watch_cache import WatchedCollection, WatchedObjects

COMPONENT = "incident-operator"
FIELD_MANAGER = "incident-operator"
"""Every write the operator makes is recorded under this name in managedFields."""
EDIT_ATTEMPTS = 5
TIMELINE_ATTEMPTS = 8  # with jittered backoff between them: at most ~3.6 s of collisions


def translate(exc: Exception, what: str) -> Exception:
    if isinstance(exc, ApiException):
        reason = f"{what}: {exc.status} {exc.reason}"
        if exc.status == 409:
            return Conflict(reason)
        if exc.status == 429 or (exc.status or 0) >= 500:
            retry = exc.headers.get("Retry-After") if exc.headers else None
            return TemporaryError(reason, retry_after=float(retry) if retry else None)
        return PermanentError(reason)
    return TemporaryError(f"{what}: {type(exc).__name__}: {exc}")


class KubernetesStore:
    def __init__(
        self,
        api: client.ApiClient,
        namespaces: Sequence[str] = (),
        *,
        severities: WatchedObjects | None = None,
        slos: WatchedCollection | None = None,
    ) -> None:
        """``namespaces``: the operator watches only these (and may list only there).

        ``severities``: what the Severity watch delivered, read before a GET (watch_cache);
        ``slos``: every SLO the watch delivered, the cycle's listing when warm.
        """
        self._custom = client.CustomObjectsApi(api)
        self._events = client.EventsV1Api(api)
        self._namespaces = tuple(namespaces)
        self._severities = severities
        self._slos = slos

    async def _list_everywhere(self, plural: str, **kwargs: Any) -> list[Body]:
        """All objects of ``plural`` the operator watches: cluster-wide, or per namespace."""
        if not self._namespaces:
            result = await self._call(
                f"list {plural} in all namespaces",
                self._custom.list_cluster_custom_object,
                GROUP,
                VERSION,
                plural,
                **kwargs,
            )
            return list(result.get("items", []))
        items: list[Body] = []
        for namespace in self._namespaces:
            result = await self._call(
                f"list {plural} in {namespace}",
                self._custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                plural,
                **kwargs,
            )
            items.extend(result.get("items", []))
        return items

    async def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise translate(exc, what) from exc

    async def list_slos(self) -> list[Body]:
        """From the watch when it is warm (watch_cache.WatchedCollection), else a LIST."""
        cache = self._slos
        if cache is None:
            return await self._list_everywhere("servicelevelobjectives")
        known = cache.snapshot()
        if known is not None:
            return known
        before = cache.versions()
        listed = await self._list_everywhere("servicelevelobjectives")
        cache.listed({slo_key(b): b for b in listed}, before)
        return listed

    async def get_slo(self, namespace: str, name: str) -> Body | None:
        return await self._get_or_none("servicelevelobjectives", name, namespace)

    async def patch_slo_status(
        self, namespace: str, name: str, status: Body, *, resource_version: str | None = None
    ) -> None:
        await self._call(
            f"patch servicelevelobjective {namespace}/{name} status",
            self._custom.patch_namespaced_custom_object_status,
            GROUP,
            VERSION,
            namespace,
            "servicelevelobjectives",
            name,
            _preconditioned({"status": status}, resource_version),
        )

    async def find_incidents(self, namespace: str, labels: Mapping[str, str]) -> list[Body]:
        selector = ",".join(f"{k}={v}" for k, v in labels.items())
        if not namespace:  # every namespace (a chat channel's incident may live in any)
            return await self._list_everywhere("incidents", label_selector=selector)
        result = await self._call(
            f"list incidents in {namespace}",
            self._custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            "incidents",
            label_selector=selector,
        )
        return list(result.get("items", []))

    async def _get_or_none(self, plural: str, name: str, namespace: str | None) -> Body | None:
        """One of our objects, or None when it does not exist (404 is an answer, not an error)."""
        what = f"get {plural} {namespace + '/' if namespace else ''}{name}"
        try:
            if namespace is None:
                found: Any = await asyncio.to_thread(
                    self._custom.get_cluster_custom_object, GROUP, VERSION, plural, name
                )
            else:
                found = await asyncio.to_thread(
                    self._custom.get_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    namespace,
                    plural,
                    name,
                )
            return dict(found)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise translate(exc, what) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise translate(exc, what) from exc

    async def get_incident(self, namespace: str, name: str) -> Body | None:
        return await self._get_or_none("incidents", name, namespace)

    async def get_severity(self, name: str) -> Body | None:
        cache = self._severities
        if cache is None:
            return await self._get_or_none("severities", name, None)
        known, body = cache.lookup(name)
        if known:
            return body
        version = cache.version(name)
        found = await self._get_or_none("severities", name, None)
        cache.fetched(name, found, version)
        return found

    async def get_rotation(self, namespace: str, name: str) -> Body | None:
        return await self._get_or_none("oncallrotations", name, namespace)

    async def create_incident(self, namespace: str, body: Body) -> Body:
        try:
            created: Any = await asyncio.to_thread(
                self._custom.create_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                "incidents",
                body,
            )
            return dict(created)
        except ApiException as exc:
            if exc.status == 409:
                existing = await self.get_incident(namespace, body["metadata"]["name"])
                if existing is not None:
                    return existing
            raise translate(exc, f"create incident {namespace}/{body['metadata']['name']}") from exc

    async def patch_incident(
        self,
        namespace: str,
        name: str,
        *,
        spec: Body | None = None,
        status: Body | None = None,
        metadata: Body | None = None,
        resource_version: str | None = None,
    ) -> Body:
        result: Body = {}
        if spec is not None or metadata is not None:
            patch: Body = {}
            if spec is not None:
                patch["spec"] = spec
            if metadata is not None:
                patch["metadata"] = metadata
            result = await self._call(
                f"patch incident {namespace}/{name}",
                self._custom.patch_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                "incidents",
                name,
                patch,
            )
        if status is not None:
            result = await self._call(
                f"patch incident {namespace}/{name} status",
                self._custom.patch_namespaced_custom_object_status,
                GROUP,
                VERSION,
                namespace,
                "incidents",
                name,
                _preconditioned({"status": status}, resource_version),
            )
        return dict(result)

    async def edit_incident(self, namespace: str, name: str, change: Body) -> Body:
        for _ in range(EDIT_ATTEMPTS):
            current = await self.get_incident(namespace, name)
            if current is None:
                raise PermanentError(f"incident {namespace}/{name} is gone")
            managed = list((current.get("metadata") or {}).get("managedFields") or [])
            found = ownership.conflicts(change, current, managed, FIELD_MANAGER)
            if found:
                fields = {c.field: c.manager for c in found}
                listed = ", ".join(f"{f} (applied by {m})" for f, m in fields.items())
                raise FieldOwnedElsewhere(
                    f"incident {namespace}/{name}: {listed}; change it where it is declared",
                    fields=fields,
                )
            # On the version whose ownership was checked: a change in between is a 409.
            version = {"resourceVersion": current["metadata"]["resourceVersion"]}
            try:
                return await self.patch_incident(
                    namespace,
                    name,
                    spec=change.get("spec"),
                    metadata={**(change.get("metadata") or {}), **version},
                )
            except Conflict:
                continue
        raise Conflict(
            f"incident {namespace}/{name} kept changing; edit tried {EDIT_ATTEMPTS} times"
        )

    async def append_timeline(self, namespace: str, name: str, entries: Sequence[Body]) -> None:
        for attempt in range(TIMELINE_ATTEMPTS):
            if attempt:
                # Writers that collided once collide again if they re-read in the same instant.
                await asyncio.sleep(random.uniform(0, min(1.0, 0.025 * 2**attempt)))
            current = await self.get_incident(namespace, name)
            if current is None:
                raise PermanentError(f"incident {namespace}/{name} is gone")
            status = dict(current.get("status") or {})
            merged = merge_timeline(status, entries)
            if merged is None:
                return
            # A replace carries current's resourceVersion: a concurrent writer makes it fail
            # with 409 instead of one of us silently losing entries.
            body = {**current, "status": {**status, **merged}}
            try:
                await asyncio.to_thread(
                    self._custom.replace_namespaced_custom_object_status,
                    GROUP,
                    VERSION,
                    namespace,
                    "incidents",
                    name,
                    body,
                )
                return
            except ApiException as exc:
                if exc.status != 409:
                    raise translate(exc, f"update incident {namespace}/{name} timeline") from exc
        raise Conflict(
            f"incident {namespace}/{name} kept changing; "
            f"timeline update tried {TIMELINE_ATTEMPTS} times"
        )

    async def emit_event(
        self, regarding: Body, reason: str, message: str, *, warning: bool = False
    ) -> None:
        meta = regarding["metadata"]
        now = datetime.now(UTC)
        event = client.EventsV1Event(
            metadata=client.V1ObjectMeta(
                # Like client-go's recorder: <object>.<unique suffix>.
                name=f"{meta['name'][:200]}.{uuid.uuid4().hex[:16]}",
                namespace=meta.get("namespace") or "default",
            ),
            event_time=now,
            action=reason,
            reason=reason,
            note=message[:1024],
            type="Warning" if warning else "Normal",
            reporting_controller=f"{GROUP}/{COMPONENT}",
            reporting_instance=COMPONENT,
            regarding=client.V1ObjectReference(
                api_version=regarding["apiVersion"],
                kind=regarding["kind"],
                name=meta["name"],
                namespace=meta.get("namespace"),
                uid=meta.get("uid"),
                resource_version=meta.get("resourceVersion"),
            ),
        )
        await self._call(
            f"emit event {reason}",
            self._events.create_namespaced_event,
            meta.get("namespace") or "default",
            event,
        )


def slo_key(body: Body) -> str:
    """namespace/name: how the SLO collection is keyed (the watch handler uses it too)."""
    meta = body.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _preconditioned(patch: Body, resource_version: str | None) -> Body:
    """A merge patch that the API server applies only to that resourceVersion (else 409)."""
    if resource_version is None:
        return patch
    return {"metadata": {"resourceVersion": resource_version}, **patch}


def merge_timeline(status: Mapping[str, Any], entries: Sequence[Body]) -> Body | None:
    """The status keys (``timeline``, ``timelineSummary``) after appending; None: no change.

    Dedup, order and bound are the domain's (domain/timeline.py); only the shapes are here.
    """
    merged = timeline.merge(
        status.get("timeline") or [], entries, timeline_summary_to_domain(status)
    )
    if merged is None:
        return None
    out: Body = {"timeline": [dict(e) for e in merged.entries]}
    summary = timeline_summary_from_domain(merged.summary)
    if summary is not None:
        out["timelineSummary"] = summary
    return out


API_THREADS = 24
"""Threads that run the blocking client's calls, and connections it keeps to the API server."""


def api_client() -> client.ApiClient:
    """In a pod: the service account; elsewhere: the current kubeconfig context."""
    from kubernetes import config  # noqa: PLC0415 - only where the process starts

    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    configuration = client.Configuration.get_default_copy()
    # urllib3 keeps cores x 5 connections by default: fewer than the threads that use them.
    configuration.connection_pool_maxsize = API_THREADS
    api = client.ApiClient(configuration)
    # The API server names a writer's field manager after its user agent (up to the "/"):
    # every create, update and patch is recorded as ours, under one stable name.
    api.user_agent = f"{FIELD_MANAGER}/{__version__}"
    return api
