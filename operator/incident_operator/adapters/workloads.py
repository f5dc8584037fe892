"""Workloads on the API server with the official client, every call off the event loop.

Grouped kinds (apps, Gateway API, Argo Rollouts, Flux, Argo CD, ours) go through the
generic custom-objects endpoints, which serve any ``/apis/<group>/<version>`` resource;
ConfigMaps through the core API. API errors become ours in kubernetes.translate.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from incident_operator.domain.mitigation import PatchType, Plan, Target
from incident_operator.errors import Conflict, NotFound, PermanentError

from .kubernetes import api_status, call_async, core_api
from .ports import Body
from .workloads_port import NamespaceHistory

FIELD_MANAGER = "incident-operator"
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
"""Ask the API server for metadata only: Secret and ConfigMap values never leave it."""
CONTENT_TYPES = {
    PatchType.JSON: "application/json-patch+json",
    PatchType.MERGE: "application/merge-patch+json",
}
PLURALS = {
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "ReplicaSet": "replicasets",
    "HTTPRoute": "httproutes",
    "Rollout": "rollouts",
    "ServiceLevelObjective": "servicelevelobjectives",
    "Kustomization": "kustomizations",
    "HelmRelease": "helmreleases",
    "Application": "applications",
}


class Forbidden(PermanentError):
    """RBAC refused the call (the chart may leave optional permissions out)."""


class UnsupportedKind(PermanentError):
    """A kind the mitigations do not know how to address."""


def _forbidden(exc: ApiException, what: str) -> Exception | None:
    return Forbidden(f"{what}: 403 Forbidden") if exc.status == 403 else None


def _group_version(target: Target) -> tuple[str, str, str]:
    if target.kind not in PLURALS or "/" not in target.api_version:
        raise UnsupportedKind(f"cannot address {target.api_version} {target.kind}")
    group, version = target.api_version.split("/", 1)
    return group, version, PLURALS[target.kind]


class KubernetesWorkloads:
    def __init__(self, api: client.ApiClient, *, secret_metadata: bool = True) -> None:
        """``secret_metadata``: list Secrets (metadata only) for change correlation; False
        when the ServiceAccount may not (chart rbac.secretMetadata: false), so the API server
        is not asked for what it will refuse."""
        self._api = api
        self._secret_metadata = secret_metadata
        self._custom = client.CustomObjectsApi(api)
        self._core = core_api(api)

    async def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """The shared call_async, with a 403 as Forbidden (an optional permission missing)."""
        return await call_async(what, fn, *args, refine=_forbidden, **kwargs)

    def _plain(self, obj: Any) -> Body:
        return dict(self._api.sanitize_for_serialization(obj))  # type: ignore[no-untyped-call]

    async def get(self, target: Target) -> Body | None:
        what = f"get {target.kind} {target.namespace}/{target.name}"
        try:
            if target.kind == "ConfigMap":
                found = await call_async(
                    what, self._core().read_namespaced_config_map, target.name, target.namespace
                )
                return {"apiVersion": "v1", "kind": "ConfigMap", **self._plain(found)}
            group, version, plural = _group_version(target)
            result: Any = await call_async(
                what,
                self._custom.get_namespaced_custom_object,
                group,
                version,
                target.namespace,
                plural,
                target.name,
            )
            return dict(result)
        except NotFound:  # no such object, or its CRD is not installed
            return None

    async def replicasets_of(self, deployment: Body) -> list[Body]:
        meta = deployment["metadata"]
        labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        result = await self._call(
            f"list replicasets of deployment {meta['namespace']}/{meta['name']}",
            self._custom.list_namespaced_custom_object,
            "apps",
            "v1",
            meta["namespace"],
            "replicasets",
            label_selector=",".join(f"{k}={v}" for k, v in labels.items()),
        )
        return [
            rs
            for rs in result.get("items", [])
            if any(
                o.get("controller") and o.get("uid") == meta.get("uid")
                for o in rs["metadata"].get("ownerReferences") or []
            )
        ]

    async def apply(self, plan: Plan, *, dry_run: bool) -> Body:
        target = plan.request.target
        what = f"{plan.request.action} {target.kind} {target.namespace}/{target.name}"
        options: dict[str, Any] = {
            "field_manager": FIELD_MANAGER,
            "_content_type": CONTENT_TYPES[plan.patch_type],
        }
        if dry_run:
            options["dry_run"] = "All"
        if target.kind == "ConfigMap":
            patched = await self._call(
                what,
                self._core().patch_namespaced_config_map,
                target.name,
                target.namespace,
                plan.patch,
                **options,
            )
            return {"apiVersion": "v1", "kind": "ConfigMap", **self._plain(patched)}
        group, version, plural = _group_version(target)
        args = (group, version, target.namespace, plural, target.name, plan.patch)
        if plan.subresource == "status":
            try:
                result: Any = await call_async(
                    what, self._custom.patch_namespaced_custom_object_status, *args, **options
                )
                return dict(result)
            except NotFound:
                # As kubectl-argo-rollouts does: older CRDs have no status subresource.
                if not plan.fallback_to_main:
                    raise
        try:
            result = await call_async(
                what, self._custom.patch_namespaced_custom_object, *args, **options
            )
            return dict(result)
        except PermanentError as exc:
            if api_status(exc) == 422 and await self._spec_moved(plan):
                raise Conflict(f"{what}: the spec changed since it was planned") from exc.__cause__
            raise

    async def _spec_moved(self, plan: Plan) -> bool:
        """Did the plan's generation test fail (rather than the patch being invalid)?"""
        tested = [
            op["value"]
            for op in plan.patch
            if isinstance(plan.patch, list) and op.get("path") == "/metadata/generation"
        ]
        if not tested:
            return False
        now = await self.get(plan.request.target)
        return now is None or now.get("metadata", {}).get("generation") != tested[0]

    async def merge_patch(self, target: Target, patch: Body) -> Body:
        group, version, plural = _group_version(target)
        result = await self._call(
            f"patch {target.kind} {target.namespace}/{target.name}",
            self._custom.patch_namespaced_custom_object,
            group,
            version,
            target.namespace,
            plural,
            target.name,
            patch,
            field_manager=FIELD_MANAGER,
            _content_type=CONTENT_TYPES[PatchType.MERGE],
        )
        return dict(result)

    async def _raw_list(
        self, what: str, fn: Callable[..., Any], namespace: str, **kw: Any
    ) -> list[Body]:
        response = await self._call(what, fn, namespace, _preload_content=False, **kw)
        return list(json.loads(response.data).get("items") or [])

    async def namespace_history(self, namespace: str) -> NamespaceHistory:
        replicasets = await self._call(
            f"list replicasets in {namespace}",
            self._custom.list_namespaced_custom_object,
            "apps",
            "v1",
            namespace,
            "replicasets",
        )
        metadata = {"_headers": {"Accept": METADATA_ONLY}}
        unreadable: list[str] = []
        secrets: list[Body] = []
        try:
            if self._secret_metadata:
                secrets = await self._raw_list(
                    f"list secrets in {namespace}",
                    self._core().list_namespaced_secret,
                    namespace,
                    **metadata,
                )
            else:
                unreadable.append("Secrets")
        except Forbidden:
            unreadable.append("Secrets")
        return NamespaceHistory(
            replicasets=list(replicasets.get("items", [])),
            config_maps=await self._raw_list(
                f"list configmaps in {namespace}",
                self._core().list_namespaced_config_map,
                namespace,
                **metadata,
            ),
            secrets=secrets,
            unreadable=tuple(unreadable),
            events=await self._raw_list(
                f"list events in {namespace}", self._core().list_namespaced_event, namespace
            ),
        )
