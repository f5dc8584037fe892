"""Use case: look at one object, decide its observed status, return the status patch."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from incident_operator.adapters.expressions_port import Expressions
from incident_operator.api.v1alpha1.common import CommonStatus
from incident_operator.api.v1alpha1.convert import condition_from_domain, existing_conditions
from incident_operator.api.v1alpha1.kinds import KindInfo
from incident_operator.api.v1alpha1.rotation import OnCallRotation
from incident_operator.api.v1alpha1.workflow import ClusterIncidentWorkflow, IncidentWorkflow
from incident_operator.domain.readiness import observe

from .rotation_status import schedule_problems
from .workflows import workflow_problems


def _problems(error: ValidationError) -> tuple[str, ...]:
    return tuple(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors(include_url=False)
    )


def observed_status(
    info: KindInfo,
    body: Mapping[str, Any],
    now: datetime,
    *,
    expressions: Expressions | None = None,
) -> dict[str, Any]:
    """The status fields (observedGeneration, conditions) to merge into the object's status;
    a workflow's CEL is compiled with ``expressions`` (its errors make Ready False)."""
    try:
        # Status is our own observation, judged separately above; only the intent counts here.
        model = info.model.model_validate({k: v for k, v in body.items() if k != "status"})
        problems: tuple[str, ...] = ()
    except ValidationError as exc:
        problems = _problems(exc)
    else:
        if isinstance(model, OnCallRotation):  # same Ready as the rotation status refresh
            problems = schedule_problems(model.spec)
        elif isinstance(model, IncidentWorkflow | ClusterIncidentWorkflow) and expressions:
            problems = workflow_problems(model.spec, expressions)
    generation = int(body.get("metadata", {}).get("generation", 0))
    observation = observe(
        generation=generation,
        existing=existing_conditions(body),
        problems=problems,
        now=now,
    )
    status = CommonStatus(
        observed_generation=observation.observed_generation,
        conditions=[condition_from_domain(c) for c in observation.conditions],
    )
    dumped: dict[str, Any] = status.model_dump(by_alias=True, mode="json", exclude_none=True)
    return dumped
