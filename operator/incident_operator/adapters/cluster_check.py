"""What `kubectl incident doctor` reads from a cluster (current kubeconfig), synchronously.

Only reads: CRDs, Deployments, whether Secrets exist, ValidatingAdmissionPolicies and their
bindings, our custom objects, and Prometheus' readiness endpoint. Everything comes back as
plain dicts (the API's camelCase JSON) for the pure checks in cli/doctor.py. A 403 becomes
``Forbidden`` naming the permission that is missing, so one check can say so and the others
still run; every other failure is our TemporaryError/PermanentError (adapters/kubernetes.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import httpx
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from incident_operator import GROUP, VERSION, __version__
from incident_operator.errors import NotFound, PermanentError

from .incident_client import PLUGIN_MANAGER
from .kubernetes import call
from .ports import Body


class Forbidden(PermanentError):
    """The API server answered 403: ``permission`` says what is missing ("list secrets in x")."""

    def __init__(self, message: str, *, permission: str) -> None:
        super().__init__(message)
        self.permission = permission


def _forbidden(exc: ApiException, what: str) -> Exception | None:
    return Forbidden(f"forbidden: {what}", permission=what) if exc.status == 403 else None


class ClusterReader:
    def __init__(self) -> None:
        try:
            # KUBECONFIG as it is now (the client reads it once, at import)
            config.load_kube_config(config_file=os.environ.get("KUBECONFIG") or None)  # type: ignore[no-untyped-call]
        except (config.ConfigException, OSError) as exc:
            raise PermanentError(f"no usable kubeconfig: {exc}") from exc
        self._client = client.ApiClient()
        self._client.user_agent = f"{PLUGIN_MANAGER}/{__version__}"

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``what`` is the permission the call needs, e.g. "list deployments.apps in x"."""
        return call(what, fn, *args, refine=_forbidden, **kwargs)

    def _items(self, listed: Any) -> list[Body]:
        body = self._client.sanitize_for_serialization(listed)  # type: ignore[no-untyped-call]
        return [dict(item) for item in body.get("items", [])]

    def crds(self) -> list[Body]:
        """Every CustomResourceDefinition of our API group."""
        api = client.ApiextensionsV1Api(self._client)
        listed = self._call(
            "list customresourcedefinitions.apiextensions.k8s.io",
            api.list_custom_resource_definition,
        )
        return [c for c in self._items(listed) if (c.get("spec") or {}).get("group") == GROUP]

    def deployments(self, namespace: str | None, label_selector: str) -> list[Body]:
        api = client.AppsV1Api(self._client)
        if namespace is None:
            listed = self._call(
                "list deployments.apps in all namespaces",
                api.list_deployment_for_all_namespaces,
                label_selector=label_selector,
            )
        else:
            listed = self._call(
                f"list deployments.apps in namespace {namespace}",
                api.list_namespaced_deployment,
                namespace,
                label_selector=label_selector,
            )
        return self._items(listed)

    def secret_exists(self, namespace: str, name: str) -> bool:
        """Whether it exists; its data is read by the API call but dropped unparsed."""
        api = client.CoreV1Api(self._client)
        try:
            response = self._call(
                f"get secrets in namespace {namespace}",
                api.read_namespaced_secret,
                name,
                namespace,
                _preload_content=False,
            )
        except NotFound:
            return False
        response.release_conn()
        return True

    def admission_policies(self) -> list[Body]:
        """ValidatingAdmissionPolicies; none when the API server does not serve them (< 1.30)."""
        api = client.AdmissionregistrationV1Api(self._client)
        return self._served_or_empty(
            "list validatingadmissionpolicies.admissionregistration.k8s.io",
            api.list_validating_admission_policy,
        )

    def admission_bindings(self) -> list[Body]:
        api = client.AdmissionregistrationV1Api(self._client)
        return self._served_or_empty(
            "list validatingadmissionpolicybindings.admissionregistration.k8s.io",
            api.list_validating_admission_policy_binding,
        )

    def _served_or_empty(self, what: str, fn: Callable[..., Any]) -> list[Body]:
        try:
            return self._items(self._call(what, fn))
        except NotFound:
            return []

    def objects(self, plural: str, namespace: str | None) -> list[Body]:
        """Our custom objects of ``plural`` in ``namespace`` (None: all; cluster-scoped kinds
        take None)."""
        api = client.CustomObjectsApi(self._client)
        if namespace is None:
            listed = self._call(
                f"list {plural}.{GROUP} in all namespaces",
                api.list_cluster_custom_object,
                GROUP,
                VERSION,
                plural,
            )
        else:
            listed = self._call(
                f"list {plural}.{GROUP} in namespace {namespace}",
                api.list_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                plural,
            )
        return [dict(item) for item in listed.get("items", [])]

    def prometheus_error(self, url: str, timeout: float) -> str | None:
        """None when Prometheus at ``url`` answers GET /-/ready with 200, else what went wrong."""
        ready = url.rstrip("/") + "/-/ready"
        try:
            response = httpx.get(ready, timeout=timeout)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return f"GET {ready}: {type(exc).__name__}: {exc}"
        if response.status_code != 200:
            return f"GET {ready}: HTTP {response.status_code} {response.text.strip()[:120]}"
        return None
