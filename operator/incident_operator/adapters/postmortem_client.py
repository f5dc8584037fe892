"""The kubectl plugin's view of postmortems: an incident's rendered document (synchronous)."""

from __future__ import annotations

import base64
from typing import Any

from kubernetes import client

from incident_operator.errors import NotFound, PermanentError

from .incident_client import IncidentClient
from .kubernetes import call
from .ports import Body


class NotRendered(PermanentError):
    """The incident has no postmortem yet, or it was not rendered yet."""


class PostmortemClient:
    def __init__(self, namespace: str | None = None) -> None:
        self._incidents = IncidentClient(namespace)
        self.namespace = self._incidents.namespace
        self._core = client.CoreV1Api(client.ApiClient())

    def incident(self, name: str) -> Body:
        return self._incidents.get(name)

    def rendered(self, config_map: str) -> tuple[dict[str, str], dict[str, bytes]]:
        """(data, binaryData) of the rendered ConfigMap."""
        try:
            found: Any = call(
                f"get configmap {config_map}",
                self._core.read_namespaced_config_map,
                config_map,
                self.namespace,
            )
        except NotFound as exc:
            raise NotRendered(
                f"configmap {self.namespace}/{config_map} not found (not rendered yet)"
            ) from exc
        binary = {k: base64.b64decode(v) for k, v in (found.binary_data or {}).items()}
        return dict(found.data or {}), binary
