"""RuleStore on the API server: PrometheusRule objects by server-side apply."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from incident_operator.errors import NotFound

from .kubernetes import call_async
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
                resources: Any = await call_async(
                    "discover monitoring.coreos.com/v1",
                    self._custom.get_api_resources,
                    GROUP,
                    VERSION,
                )
                self._supported = any(r.name == PLURAL for r in resources.resources)
            except NotFound:
                self._supported = False
        return self._supported

    async def apply_prometheus_rule(self, namespace: str, body: Body) -> None:
        name = body["metadata"]["name"]
        await call_async(
            f"apply PrometheusRule {namespace}/{name}",
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
