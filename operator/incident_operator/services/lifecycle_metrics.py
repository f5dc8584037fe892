"""What one lifecycle reconcile reports to OperatorMetrics (kept apart from the status writer).

Reported from ``IncidentLifecycleService.record``, i.e. once per reconcile that produced a
plan, and only for what the operator *accepted*: a refused request is not a transition. A
figure is observed when the status does not hold it yet ("first stamped"), so a resumed
operator re-reconciling every incident observes nothing twice; a reopened incident that is
resolved again is observed again, because its time to resolve was cleared and is a new fact.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from incident_operator.adapters.ports import OperatorMetrics
from incident_operator.domain import lifecycle
from incident_operator.services.incidents import severity_of


def report(
    metrics: OperatorMetrics, body: Mapping[str, Any], decision: lifecycle.Decision | None
) -> None:
    if not isinstance(decision, lifecycle.Accepted):
        return
    severity = severity_of(body)
    if decision.changed:
        previous = decision.previous.value if decision.previous is not None else ""
        metrics.transition(previous, decision.phase.value, severity)
    have = (body.get("status") or {}).get("durations") or {}
    for figure, seconds in decision.durations.items():
        if seconds is not None and have.get(figure.value) is None:
            metrics.duration(figure.value, seconds, severity, owner_of(body))


def owner_of(body: Mapping[str, Any]) -> tuple[str, str]:
    """(service, team) as the service catalog resolved the incident's first service; empty
    when it did not: only catalogued services become label values (bounded cardinality)."""
    owners = ((body.get("status") or {}).get("catalog") or {}).get("owners") or []
    first = owners[0] if owners and isinstance(owners[0], Mapping) else {}
    return str(first.get("service") or ""), str(first.get("team") or "")
