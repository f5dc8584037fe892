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
from typing import Any, Generic, TypeVar

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from incident_operator import GROUP, VERSION, __version__
from incident_operator.api.v1alpha1.convert import merge_timeline
from incident_operator.domain import ownership
from incident_operator.errors import (
    Conflict,
    FieldOwnedElsewhere,
    NotFound,
    PermanentError,
    TemporaryError,
)

from .ports import Body
from .watch_cache import WatchedCollection, WatchedObjects, slim_shared

COMPONENT = "incident-operator"
FIELD_MANAGER = "incident-operator"
"""Every write the operator makes is recorded under this name in managedFields."""
EDIT_ATTEMPTS = 5
TIMELINE_ATTEMPTS = 8  # with jittered backoff between them: at most ~3.6 s of collisions

T = TypeVar("T")
Refine = Callable[[ApiException, str], Exception | None]
"""A caller's own reading of an API error (e.g. 403 -> Forbidden), given the error and
``what``; None leaves it to :func:`translate`."""


class OnFirstUse(Generic[T]):
    """A client API object, built on first use (``OnFirstUse(lambda: client.CoreV1Api(api))``).

    Importing an API module of the client costs its models and a pydantic validator per
    method: ``CoreV1Api`` ~21 MB resident (250 models, ~400 methods), ``EventsV1Api`` ~1 MB.
    Most operators read a Secret, a ConfigMap or write an Event rarely or never; an idle
    operator was 111 MB (issue 15).
    """

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._built: T | None = None

    def __call__(self) -> T:
        if self._built is None:
            self._built = self._build()
        return self._built


def core_api(api: client.ApiClient) -> OnFirstUse[client.CoreV1Api]:
    return OnFirstUse(lambda: client.CoreV1Api(api))


def translate(exc: Exception, what: str) -> Exception:
    """A client error as ours: 404 NotFound, 409 Conflict, 429/5xx and connection problems
    TemporaryError (with the server's Retry-After), anything else PermanentError."""
    if isinstance(exc, ApiException):
        reason = f"{what}: {exc.status} {exc.reason}"
        if exc.status == 404:
            return NotFound(reason)
        if exc.status == 409:
            return Conflict(reason)
        if exc.status == 429 or (exc.status or 0) >= 500:
            retry = exc.headers.get("Retry-After") if exc.headers else None
            return TemporaryError(reason, retry_after=float(retry) if retry else None)
        return PermanentError(reason)
    return TemporaryError(f"{what}: {type(exc).__name__}: {exc}")


def call(
    what: str, fn: Callable[..., Any], /, *args: Any, refine: Refine | None = None, **kwargs: Any
) -> Any:
    """``fn(*args, **kwargs)``, one blocking client call, its errors translated into ours.

    ``what`` names the call in the error ("get incident shop/x"); ``refine`` may turn an API
    error into a more specific one first. Every adapter on the Kubernetes client goes through
    here (the operator's through :func:`call_async`), so an error means the same everywhere.
    """
    try:
        return fn(*args, **kwargs)
    except ApiException as exc:
        raise (refine and refine(exc, what)) or translate(exc, what) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise translate(exc, what) from exc


def api_status(exc: BaseException) -> int | None:
    """The HTTP status of the API error one of ours was translated from (None: not one)."""
    cause = exc.__cause__
    return cause.status if isinstance(cause, ApiException) else None


async def call_async(
    what: str, fn: Callable[..., Any], /, *args: Any, refine: Refine | None = None, **kwargs: Any
) -> Any:
    """:func:`call` in a worker thread: the client blocks, the event loop must not."""
    return await asyncio.to_thread(call, what, fn, *args, refine=refine, **kwargs)


async def get_object(
    custom: client.CustomObjectsApi, plural: str, name: str, namespace: str | None
) -> Body | None:
    """One of our objects (``namespace`` None: cluster-scoped), or None when it does not
    exist: a 404 is an answer, not an error."""
    what = f"get {plural} {namespace + '/' if namespace else ''}{name}"
    try:
        if namespace is None:
            found: Any = await call_async(
                what, custom.get_cluster_custom_object, GROUP, VERSION, plural, name
            )
        else:
            found = await call_async(
                what, custom.get_namespaced_custom_object, GROUP, VERSION, namespace, plural, name
            )
    except NotFound:
        return None
    return dict(found)


async def create_object(
    custom: client.CustomObjectsApi, plural: str, singular: str, namespace: str, body: Body
) -> Body:
    """Create one of our objects; when it exists already (409: e.g. a retry whose first
    answer was lost), the existing one."""
    name = body["metadata"]["name"]
    try:
        created: Any = await call_async(
            f"create {singular} {namespace}/{name}",
            custom.create_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            plural,
            body,
        )
    except Conflict:
        existing = await get_object(custom, plural, name, namespace)
        if existing is not None:
            return existing
        raise
    return dict(created)


async def _after_collision(attempt: int) -> None:
    """Writers that collided once collide again if they re-read in the same instant: a
    random pause growing with the attempt (at most 1 s). A person's edit lost five immediate
    retries to the operator's own status writes right after a declaration under load."""
    await asyncio.sleep(random.uniform(0, min(1.0, 0.025 * 2**attempt)))


LIST_PAGE = 500
"""Objects per LIST request (kubectl's default chunk size)."""


def refuse_owned_elsewhere(change: Body, current: Body, what: str, advice: str) -> None:
    """Raise FieldOwnedElsewhere when ``change`` would overwrite a field another manager
    (a GitOps tool) applied to ``current``; the message names each field and its manager."""
    managed = list((current.get("metadata") or {}).get("managedFields") or [])
    found = ownership.conflicts(change, current, managed, FIELD_MANAGER)
    if found:
        fields = {c.field: c.manager for c in found}
        listed = ", ".join(f"{f} (applied by {m})" for f, m in fields.items())
        raise FieldOwnedElsewhere(f"{what}: {listed}; {advice}", fields=fields)


class KubernetesStore:
    def __init__(
        self,
        api: client.ApiClient,
        namespaces: Sequence[str] = (),
        *,
        severities: WatchedObjects | None = None,
        slos: WatchedCollection | None = None,
        list_page: int = LIST_PAGE,
    ) -> None:
        """``namespaces``: the operator watches only these (and may list only there).

        ``severities``: what the Severity watch delivered, read before a GET (watch_cache);
        ``slos``: every SLO the watch delivered, the cycle's listing when warm.
        """
        self._custom = client.CustomObjectsApi(api)
        self._events = OnFirstUse(lambda: client.EventsV1Api(api))
        self._namespaces = tuple(namespaces)
        self._severities = severities
        self._slos = slos
        self._page_size = list_page

    async def _list_everywhere(
        self, plural: str, keep: Callable[[Body], Body] = dict, **kwargs: Any
    ) -> list[Body]:
        """All objects of ``plural`` the operator watches: cluster-wide, or per namespace.

        In pages of ``list_page`` objects (as kubectl lists), each object passed through ``keep`` as
        its page arrives: 10,000 SLOs are 326 MB as Python objects, never all held in full.
        """
        scopes: list[str | None] = list(self._namespaces) or [None]
        items: list[Body] = []
        for namespace in scopes:
            token = ""
            while True:
                page = await self._list_page(plural, namespace, token, **kwargs)
                items.extend(keep(b) for b in page.get("items") or [])
                token = str((page.get("metadata") or {}).get("continue") or "")
                del page
                if not token:
                    break
        return items

    async def _list_page(
        self, plural: str, namespace: str | None, token: str, **kwargs: Any
    ) -> Body:
        if token:
            kwargs["_continue"] = token
        if namespace is None:
            return dict(
                await call_async(
                    f"list {plural} in all namespaces",
                    self._custom.list_cluster_custom_object,
                    GROUP,
                    VERSION,
                    plural,
                    limit=self._page_size,
                    **kwargs,
                )
            )
        return dict(
            await call_async(
                f"list {plural} in {namespace}",
                self._custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                plural,
                limit=self._page_size,
                **kwargs,
            )
        )

    async def list_slos(self) -> list[Body]:
        """From the watch when it is warm (watch_cache.WatchedCollection), else a LIST."""
        cache = self._slos
        if cache is None:
            return await self._list_everywhere("servicelevelobjectives")
        known = cache.snapshot()
        if known is not None:
            return known
        before = cache.versions()
        listed = await self._list_everywhere("servicelevelobjectives", keep=slim_shared)
        return cache.listed({slo_key(b): b for b in listed}, before)

    async def get_slo(self, namespace: str, name: str) -> Body | None:
        return await self._get_or_none("servicelevelobjectives", name, namespace)

    async def patch_slo_status(
        self, namespace: str, name: str, status: Body, *, resource_version: str | None = None
    ) -> None:
        await call_async(
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
        result = await call_async(
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
        return await get_object(self._custom, plural, name, namespace)

    async def get_incident(self, namespace: str, name: str) -> Body | None:
        return await self._get_or_none("incidents", name, namespace)

    async def get_severity(self, name: str) -> Body | None:
        cache = self._severities
        if cache is None:
            return await self._get_or_none("severities", name, None)
        return await cache.read(name, lambda: self._get_or_none("severities", name, None))

    async def get_rotation(self, namespace: str, name: str) -> Body | None:
        return await self._get_or_none("oncallrotations", name, namespace)

    async def create_incident(self, namespace: str, body: Body) -> Body:
        return await create_object(self._custom, "incidents", "incident", namespace, body)

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
            result = await call_async(
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
            result = await call_async(
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
        for attempt in range(EDIT_ATTEMPTS):
            if attempt:
                await _after_collision(attempt)
            current = await self.get_incident(namespace, name)
            if current is None:
                raise PermanentError(f"incident {namespace}/{name} is gone")
            refuse_owned_elsewhere(
                change, current, f"incident {namespace}/{name}", "change it where it is declared"
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
                await _after_collision(attempt)
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
                await call_async(
                    f"update incident {namespace}/{name} timeline",
                    self._custom.replace_namespaced_custom_object_status,
                    GROUP,
                    VERSION,
                    namespace,
                    "incidents",
                    name,
                    body,
                )
                return
            except Conflict:
                continue
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
        await call_async(
            f"emit event {reason}",
            self._events().create_namespaced_event,
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
