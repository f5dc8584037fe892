"""RuleStore on the API server: PrometheusRule objects by server-side apply."""

from __future__ import annotations

import asyncio
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .kubernetes import translate
from .ports import Body

GROUP, VERSION, PLURAL = "monitoring.coreos.com", "v1", "prometheusrules"
FIELD_MANAGER = "incident-operator"


class PrometheusRuleStore:
    def __init__(self, api: client.ApiClient) -> None:
        self._api = api
        self._custom = client.CustomObjectsApi(api)
        self._supported: bool | None = None

    async def prometheus_rules_supported(self) -> bool:
        """Whether the CRD is served; asked once, since CRDs rarely come and go."""
        if self._supported is None:
            try:
                resources: Any = await asyncio.to_thread(
                    client.CustomObjectsApi(self._api).get_api_resources, GROUP, VERSION
                )
                self._supported = any(r.name == PLURAL for r in resources.resources)
            except ApiException as exc:
                if exc.status != 404:
                    raise translate(exc, "discover monitoring.coreos.com/v1") from exc
                self._supported = False
        return self._supported

    async def apply_prometheus_rule(self, namespace: str, body: Body) -> None:
        name = body["metadata"]["name"]
        try:
            await asyncio.to_thread(
                self._custom.patch_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                name,
                body,
                field_manager=FIELD_MANAGER,
                force=True,
                _content_type="application/apply-patch+yaml",
            )
        except ApiException as exc:
            raise translate(exc, f"apply PrometheusRule {namespace}/{name}") from exc
