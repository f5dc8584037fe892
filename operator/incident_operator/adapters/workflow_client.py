"""The kubectl plugin's view of workflows: the objects a dry run reads (synchronously)."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from incident_operator import GROUP, VERSION
from incident_operator.errors import NotFound, PermanentError

from .incident_client import IncidentClient
from .kubernetes import call
from .ports import Body

PLURALS = {
    "IncidentWorkflow": "incidentworkflows",
    "ClusterIncidentWorkflow": "clusterincidentworkflows",
}


class WorkflowClient:
    def __init__(self, namespace: str | None = None) -> None:
        self._incidents = IncidentClient(namespace)
        self.namespace = self._incidents.namespace
        self._custom = client.CustomObjectsApi(client.ApiClient())

    def incident(self, name: str) -> Body:
        return self._incidents.get(name)

    def workflow(self, kind: str, name: str) -> Body:
        plural = PLURALS[kind]
        what = f"get {kind} {name}"
        try:
            if kind == "ClusterIncidentWorkflow":
                found: Any = call(
                    what, self._custom.get_cluster_custom_object, GROUP, VERSION, plural, name
                )
            else:
                found = call(
                    what,
                    self._custom.get_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    self.namespace,
                    plural,
                    name,
                )
        except NotFound as exc:
            where = "" if kind == "ClusterIncidentWorkflow" else f"{self.namespace}/"
            raise PermanentError(f"{kind} {where}{name} not found") from exc
        return dict(found)

    def severity(self, name: str) -> Body | None:
        try:
            found: Any = call(
                f"get severity {name}",
                self._custom.get_cluster_custom_object,
                GROUP,
                VERSION,
                "severities",
                name,
            )
        except NotFound:
            return None
        return dict(found)
