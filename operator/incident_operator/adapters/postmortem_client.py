"""The kubectl plugin's view of postmortems: an incident's rendered document (synchronous)."""

from __future__ import annotations

import base64
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from incident_operator.errors import PermanentError

from .incident_client import IncidentClient
from .kubernetes import translate
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
            found: Any = self._core.read_namespaced_config_map(config_map, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                raise NotRendered(
                    f"configmap {self.namespace}/{config_map} not found (not rendered yet)"
                ) from exc
            raise translate(exc, f"get configmap {config_map}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise translate(exc, f"get configmap {config_map}") from exc
        binary = {k: base64.b64decode(v) for k, v in (found.binary_data or {}).items()}
        return dict(found.data or {}), binary
