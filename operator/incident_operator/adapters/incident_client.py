"""Incidents in the cluster for the kubectl plugin (current kubeconfig), synchronously.

The plugin is a one-shot command line, not the operator's event loop, so plain blocking
calls are right here. API errors become our exceptions with the API server's own message:
a CEL transition rule's message ("a closed incident cannot change state") is exactly what
the responder needs to read.
"""

from __future__ import annotations

import builtins
import functools
import json
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import urllib3
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from incident_operator import GROUP, VERSION, __version__
from incident_operator.domain import ownership
from incident_operator.errors import PermanentError

from .kubernetes import call, translate
from .ports import Body

PLURAL = "incidents"
PLUGIN_MANAGER = "kubectl-incident"
"""The plugin's writes are recorded under this field manager."""
WATCH_SECONDS = 240
"""The API server ends each watch after this long; the plugin then resumes where it was."""
WATCH_EVENTS = frozenset({"ADDED", "MODIFIED", "DELETED"})


class IncidentNotFound(PermanentError):
    """No Incident by that name in that namespace."""


class Rejected(PermanentError):
    """The API server refused the change (validation, CEL transition rule); says why."""


class Stale(Rejected):
    """The object changed since it was read (409): read again and retry."""


EDIT_ATTEMPTS = 5


def _kubeconfig() -> str | None:
    """KUBECONFIG as it is now: the client reads it once at import, which is too early."""
    return os.environ.get("KUBECONFIG") or None


def _server_message(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body) if exc.body else {}
    except ValueError:
        return str(exc.body or exc.reason)
    return str(body.get("message") or exc.reason) if isinstance(body, dict) else str(exc.reason)


class IncidentClient:
    """get / list / create / patch spec / append to the timeline, one namespace at a time."""

    def __init__(self, namespace: str | None = None) -> None:
        try:
            config.load_kube_config(config_file=_kubeconfig())  # type: ignore[no-untyped-call]
            contexts = config.list_kube_config_contexts(config_file=_kubeconfig())  # type: ignore[no-untyped-call]
        except (config.ConfigException, OSError) as exc:
            raise PermanentError(f"no usable kubeconfig: {exc}") from exc
        current = (contexts[1] or {}).get("context", {}).get("namespace")
        self.namespace: str = namespace or current or "default"
        api = client.ApiClient()
        api.user_agent = f"{PLUGIN_MANAGER}/{__version__}"  # the field manager's name
        self._api = client.CustomObjectsApi(api)

    def _call(self, what: str, name: str | None, fn: Callable[..., Any], *args: Any) -> Any:
        """The shared call, the API server's own message kept; ``name``: a 404 means that
        incident does not exist."""

        def refine(exc: ApiException, what: str) -> Exception | None:
            if exc.status == 404 and name is not None:
                return IncidentNotFound(f"incident {self.namespace}/{name} not found")
            if exc.status == 409:
                return Stale(f"{what}: {_server_message(exc)}")
            if exc.status in (400, 422):
                return Rejected(f"{what}: {_server_message(exc)}")
            return None

        return call(what, fn, *args, refine=refine)

    def get(self, name: str) -> Body:
        result: Any = self._call(
            f"get incident {name}",
            name,
            self._api.get_namespaced_custom_object,
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
            name,
        )
        return dict(result)

    def get_severity(self, name: str) -> Body | None:
        """The cluster-scoped Severity, or None when it does not exist or may not be read."""
        try:
            result: Any = self._api.get_cluster_custom_object(GROUP, VERSION, "severities", name)
        except ApiException as exc:
            if exc.status in (403, 404):
                return None
            raise translate(exc, f"get severity {name}") from None
        return dict(result)

    def list(self, all_namespaces: bool = False) -> list[Body]:
        if all_namespaces:
            result: Any = self._call(
                "list incidents",
                None,
                self._api.list_cluster_custom_object,
                GROUP,
                VERSION,
                PLURAL,
            )
        else:
            result = self._call(
                "list incidents",
                None,
                self._api.list_namespaced_custom_object,
                GROUP,
                VERSION,
                self.namespace,
                PLURAL,
            )
        return list(result.get("items", []))

    def list_objects(self, plural: str, all_namespaces: bool = False) -> builtins.list[Body]:
        """Any namespaced kind of the API group (e.g. postmortems, servicelevelobjectives,
        services), here or in every namespace, with the caller's own permissions."""
        if all_namespaces:
            result: Any = self._call(
                f"list {plural}", None, self._api.list_cluster_custom_object, GROUP, VERSION, plural
            )
        else:
            result = self._call(
                f"list {plural}",
                None,
                self._api.list_namespaced_custom_object,
                GROUP,
                VERSION,
                self.namespace,
                plural,
            )
        return [dict(item) for item in result.get("items", [])]

    def names(self, timeout: float = 3.0) -> builtins.list[str]:
        """The Incidents' names here, or an error within ``timeout`` s (shell completion)."""
        result: Any = self._call(
            "list incidents",
            None,
            functools.partial(self._api.list_namespaced_custom_object, _request_timeout=timeout),
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
        )
        return sorted(str(i["metadata"]["name"]) for i in result.get("items", []))

    def watch(
        self, name: str | None = None, all_namespaces: bool = False, since: str | None = None
    ) -> Iterator[tuple[str, Body]]:
        """(event type, object) for Incidents here (or everywhere; or the one ``name``), endless.

        The changes after resourceVersion ``since``; without it, the objects as they are come
        first (ADDED), then every change. When the server ends the watch or a quiet connection
        times out, it resumes from the last resourceVersion; when that is too old (410 Gone) it
        starts over, so an object can come as ADDED again (callers skip what they already
        printed). The caller stops it (Ctrl-C, close).
        """
        fn: Callable[..., Any]
        args: tuple[str, ...]
        if all_namespaces:
            fn, args = self._api.list_cluster_custom_object, (GROUP, VERSION, PLURAL)
        else:
            fn = self._api.list_namespaced_custom_object
            args = (GROUP, VERSION, self.namespace, PLURAL)
        selector = {"field_selector": f"metadata.name={name}"} if name else {}
        version = since
        while True:
            resume = {"resource_version": version} if version else {}
            stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
                fn,
                *args,
                timeout_seconds=WATCH_SECONDS,
                _request_timeout=WATCH_SECONDS + 30,
                allow_watch_bookmarks=True,
                **selector,
                **resume,
            )
            try:
                for event in stream:
                    body = dict(event["raw_object"])
                    version = (body.get("metadata") or {}).get("resourceVersion") or version
                    if event["type"] in WATCH_EVENTS:
                        yield str(event["type"]), body
            except ApiException as exc:
                if exc.status != 410:
                    raise translate(exc, "watch incidents") from exc
                version = None
            except urllib3.exceptions.ReadTimeoutError:
                continue
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise translate(exc, "watch incidents") from exc

    def create(self, body: Body) -> Body:
        """In the body's ``metadata.namespace`` when set, else the client's namespace."""
        namespace = (body.get("metadata") or {}).get("namespace") or self.namespace
        result: Any = self._call(
            f"declare incident in {namespace}",
            None,
            self._api.create_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            body,
        )
        return dict(result)

    def list_services(self, all_namespaces: bool = False) -> Sequence[Body]:
        """Catalog Services (services.sre.dev) in the namespace, or every namespace the
        caller may list."""
        if all_namespaces:
            found: Any = self._call(
                "list services in all namespaces",
                None,
                self._api.list_cluster_custom_object,
                GROUP,
                VERSION,
                "services",
            )
        else:
            found = self._call(
                f"list services in {self.namespace}",
                None,
                self._api.list_namespaced_custom_object,
                GROUP,
                VERSION,
                self.namespace,
                "services",
            )
        return [dict(item) for item in (found or {}).get("items") or []]

    def get_postmortem(self, name: str) -> Body:
        result: Any = self._call(
            f"get postmortem {name}",
            None,
            self._api.get_namespaced_custom_object,
            GROUP,
            VERSION,
            self.namespace,
            "postmortems",
            name,
        )
        return dict(result)

    def patch_spec(self, name: str, spec: Body | Callable[[Body], Body]) -> Body:
        """JSON merge patch of the spec (None deletes a field), on the version read.

        ``spec`` may be a function of the object as read, for a change that depends on it
        (appending to a list): it is called again on every re-read, so a concurrent change
        is built upon, never overwritten.

        Refused when a field it would change was applied by a GitOps tool (docs/gitops.md):
        the next sync would put it back, so the change belongs in Git.
        """
        # The operator writes status often, which moves resourceVersion too: a 409 is usually
        # that, so read again, check the owners again, and retry.
        for _ in range(EDIT_ATTEMPTS - 1):
            try:
                return self._patch_checked(name, spec)
            except Stale:
                continue
        return self._patch_checked(name, spec)

    def _patch_checked(self, name: str, change: Body | Callable[[Body], Body]) -> Body:
        current = self.get(name)
        spec = change(current) if callable(change) else change
        managed = list(current["metadata"].get("managedFields") or [])
        found = ownership.conflicts({"spec": spec}, current, managed, PLUGIN_MANAGER)
        if found:
            owners = ", ".join(f"{c.field} is declared by {c.manager}" for c in found)
            raise Rejected(f"update incident {name}: not changed, {owners}; change it in Git")
        patch = {"metadata": {"resourceVersion": current["metadata"]["resourceVersion"]}}
        result: Any = self._call(
            f"update incident {name}",
            name,
            self._api.patch_namespaced_custom_object,
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
            name,
            {**patch, "spec": spec},
        )
        return dict(result)

    def append_timeline(self, name: str, entry: Body) -> None:
        """Add one entry to status.timeline; a concurrent writer makes us re-read, not lose it."""
        for _attempt in range(5):
            current = self.get(name)
            status = dict(current.get("status") or {})
            timeline = [*status.get("timeline", []), entry]
            timeline.sort(key=lambda e: str(e.get("at", "")))
            body = {**current, "status": {**status, "timeline": timeline[-500:]}}
            try:
                self._call(
                    f"add note to incident {name}",
                    name,
                    self._api.replace_namespaced_custom_object_status,
                    GROUP,
                    VERSION,
                    self.namespace,
                    PLURAL,
                    name,
                    body,
                )
                return
            except Stale:
                continue
        raise PermanentError(f"incident {self.namespace}/{name} kept changing; note not added")
