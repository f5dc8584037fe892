"""A workflow's ``mitigate`` step: a request on the incident, run as an SLO's listed one.

The step changes no workload. It adds the mitigation to ``status.workflows.mitigations``
(written with the done keys, in one status write), and the mitigation service runs it from
there exactly as it runs a mitigation listed on the incident's SLO (``Source.WORKFLOW``):
``domain.mitigation.gate`` (the Severity's ``autoAllowed``, else an approval), the target's
consent (``guard_target``), cooldown, maxActions, dry run and the closed-loop verification.

On whose authority: the workflow's writer was found allowed to make exactly that change by
the chart's requester-authority admission policy, in the workflow's namespace (a
ClusterIncidentWorkflow's in every namespace); the target is always in the incident's
namespace (which an IncidentWorkflow's own namespace is), and its opt-in annotation is its
owner's consent.

Exactly once: a mitigation's name is requested once per incident. The record carries the
step's key; a restart before the status write recomputes it, a restart after it finds the
key done, and a later occurrence (or another workflow) asking for the same name adds nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from incident_operator.adapters.ports import Body
from incident_operator.api.v1alpha1.incident import WorkflowMitigation
from incident_operator.api.v1alpha1.mitigation import Mitigation
from incident_operator.domain import mitigation as m
from incident_operator.domain import workflows as wf
from incident_operator.errors import PermanentError

log = logging.getLogger(__name__)

MAX_MITIGATIONS = 16
"""Mitigations the workflows may request for one incident (status.workflows.mitigations)."""
ENTRY = "workflow-mitigation"
"""The step's timeline entry (not posted: the mitigation service's own entries are)."""


def requested(status: Mapping[str, Any]) -> dict[str, WorkflowMitigation]:
    """``status.workflows.mitigations`` by name (an unreadable entry is left out)."""
    raw = (status.get("workflows") or {}).get("mitigations") or {}
    found: dict[str, WorkflowMitigation] = {}
    for name, record in raw.items() if isinstance(raw, Mapping) else ():
        try:
            found[str(name)] = WorkflowMitigation.model_validate(record)
        except ValidationError as exc:
            log.warning("unreadable workflow mitigation %s: %s", name, exc)
    return found


def workflow_requests(status: Mapping[str, Any], namespace: str) -> list[m.Request]:
    """The mitigations the workflows requested, as requests on targets in ``namespace`` (the
    incident's), gated like an SLO's."""
    return [
        record.mitigation.to_domain(namespace, m.Source.WORKFLOW)
        for record in requested(status).values()
    ]


def request_record(
    current: Mapping[str, Any],
    step: wf.Step,
    ref: wf.WorkflowRef,
    pending: Mapping[str, Body],
) -> tuple[str, Body] | None:
    """The ``status.workflows.mitigations`` entry the step adds (name, record), None when its
    mitigation is requested already, or PermanentError when it may not be."""
    request = step.action.mitigation
    if request is None:
        raise PermanentError("mitigate needs mitigation")
    spec, status = current.get("spec") or {}, current.get("status") or {}
    recorded = {**requested(status), **pending}
    if request.name in recorded:
        return None  # once per incident: this step's earlier record, or another's
    elsewhere = [
        str(r.get("source") or "")
        for r in status.get("mitigations") or []
        if isinstance(r, Mapping) and r.get("name") == request.name
    ] + ["incident" for s in spec.get("mitigations") or [] if _name_of(s) == request.name]
    if [s for s in elsewhere if s != m.Source.WORKFLOW.value]:
        raise PermanentError(
            f"the incident already has a mitigation named {request.name} (source "
            f"{elsewhere[0] or 'unknown'}): give the workflow's mitigation another name"
        )
    if len(recorded) >= MAX_MITIGATIONS:
        raise PermanentError(
            f"the workflows requested {MAX_MITIGATIONS} mitigations for this incident already"
        )
    record = WorkflowMitigation(
        mitigation=Mitigation.from_domain(request),
        workflow=f"{ref.display} {step.action.name}"[:256],
        key=step.key,
    )
    return request.name, record.model_dump(by_alias=True, mode="json", exclude_none=True)


def with_requested(body: Mapping[str, Any], added: Mapping[str, Body]) -> Mapping[str, Any]:
    """``body`` as a later run of the same look must see it: with the mitigations an earlier
    run requested (written together, after every run), so a name is asked for once."""
    if not added:
        return body
    status = dict(body.get("status") or {})
    workflows = dict(status.get("workflows") or {})
    workflows["mitigations"] = {**(workflows.get("mitigations") or {}), **added}
    status["workflows"] = workflows
    return {**body, "status": status}


def _name_of(raw: Any) -> str:
    """The name an incident's spec.mitigations entry runs under."""
    try:
        return Mitigation.model_validate(raw).to_domain("", m.Source.INCIDENT).name
    except (ValidationError, ValueError):
        return ""


def describe(request: m.Request, ref: wf.WorkflowRef) -> str:
    """The step's timeline text."""
    return (
        f"{ref.display} requested mitigation {request.name} ({request.action} "
        f"{request.target.text}); it runs through the mitigation guard like an SLO's"
    )
