"""Owing a postmortem: the Severity's policy, what blocks closing, the Postmortem to create.

``PostmortemService.ensure`` decides with these whether a resolved incident owes one (the
Severity requires it, or the incident burned more than ``postmortem.budgetShare`` of an
SLO's budget) and creates it, linked both ways (``spec.incidentRef`` /
``status.postmortemRef``); the lifecycle asks ``close_blocker`` before an incident closes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from incident_operator.adapters.ports import Body
from incident_operator.api.v1alpha1.severity import Severity
from incident_operator.domain import postmortem as pm
from incident_operator.domain.names import label_value
from incident_operator.domain.times import iso

from .workflow_follow_up import draft_items

INCIDENT_LABEL = "sre.dev/incident"
DUE_ANNOTATION = "postmortem.sre.dev/due"
REASON_ANNOTATION = "postmortem.sre.dev/reason"
NOT_REQUIRED = "not-required"
"""The state annotation on an incident that owes no postmortem (so it is not asked again)."""


def severity_policy(severity: Body | None) -> pm.Policy:
    """The Severity's policy; missing or unreadable: nothing required."""
    if severity is None:
        return pm.Policy()
    try:
        return Severity.model_validate(severity).spec.postmortem.to_domain()
    except ValidationError:
        return pm.Policy()


def close_blocker(
    incident: Mapping[str, Any], severity: Body | None, postmortem: Body | None
) -> str | None:
    """Why this incident may not close yet (its postmortem), or None."""
    ref = (incident.get("status") or {}).get("postmortemRef")
    state = None
    if postmortem is not None:
        state = str((postmortem.get("spec") or {}).get("state") or "draft")
    return pm.close_blocker(severity_policy(severity).required, ref, state)


def postmortem_body(incident: Mapping[str, Any], owed: pm.Owed) -> Body:
    """The Postmortem to create; why and by when ride along as annotations (the status
    subresource ignores a status sent on create), and regeneration copies them to status."""
    meta = incident["metadata"]
    spec = incident.get("spec") or {}
    roles = (incident.get("status") or {}).get("roles") or spec.get("roles") or {}
    commander = roles.get("commander")
    body: Body = {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "Postmortem",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            # A selector only (hashed when long); the relationship is spec.incidentRef and
            # the ownerReference.
            "labels": {INCIDENT_LABEL: label_value(meta["name"])},
            "annotations": {DUE_ANNOTATION: iso(owed.due), REASON_ANNOTATION: owed.reason.value},
            "ownerReferences": [
                {
                    "apiVersion": incident.get("apiVersion", "sre.dev/v1alpha1"),
                    "kind": "Incident",
                    "name": meta["name"],
                    "uid": meta["uid"],
                }
            ]
            if meta.get("uid")
            else [],
        },
        "spec": {"incidentRef": meta["name"], "state": "draft"},
    }
    if commander:
        body["spec"]["owner"] = commander
    items, _ = draft_items(incident)  # the workflows' createFollowUp steps so far
    if items:
        body["spec"]["actionItems"] = items
    return body
