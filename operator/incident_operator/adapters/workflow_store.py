"""WorkflowStore on the API server: counts added on the version read (409: read again)."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from incident_operator import GROUP, VERSION
from incident_operator.domain.times import iso
from incident_operator.domain.workflows import WorkflowRef
from incident_operator.errors import Conflict

from .kubernetes import call_async, get_object
from .workflows_port import RunTally

ATTEMPTS = 5
PLURALS = {
    "IncidentWorkflow": "incidentworkflows",
    "ClusterIncidentWorkflow": "clusterincidentworkflows",
}


def added(status: dict[str, Any], tally: RunTally) -> dict[str, Any]:
    """``status`` with ``tally`` added (only the fields this writer owns)."""
    out = {
        "runs": int(status.get("runs") or 0) + tally.runs,
        "actions": int(status.get("actions") or 0) + tally.actions,
        "errors": int(status.get("errors") or 0) + tally.errors,
        "lastRunAt": iso(tally.at),
        "lastIncident": tally.incident,
    }
    if tally.last_error:
        out["lastError"] = tally.last_error[:1024]
        out["lastErrorAt"] = iso(tally.at)
    return out


class KubernetesWorkflowStore:
    def __init__(self, api: client.ApiClient) -> None:
        self._custom = client.CustomObjectsApi(api)

    async def record(self, ref: WorkflowRef, tally: RunTally) -> None:
        plural = PLURALS[ref.kind]
        namespace = ref.namespace or None
        for _ in range(ATTEMPTS):
            current = await get_object(self._custom, plural, ref.name, namespace)
            if current is None or current["metadata"].get("uid") != ref.uid:
                return  # deleted (or re-created: a new workflow with its own counts)
            patch = {
                "metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
                "status": added(dict(current.get("status") or {}), tally),
            }
            what = f"patch {plural} {ref.name} status"
            try:
                if namespace is None:
                    await call_async(
                        what,
                        self._custom.patch_cluster_custom_object_status,
                        GROUP,
                        VERSION,
                        plural,
                        ref.name,
                        patch,
                    )
                else:
                    await call_async(
                        what,
                        self._custom.patch_namespaced_custom_object_status,
                        GROUP,
                        VERSION,
                        namespace,
                        plural,
                        ref.name,
                        patch,
                    )
                return
            except Conflict:
                continue
