"""What regenerating a postmortem writes into its status, and when it is due again.

The status fields drawn from the facts (timeline entries, impact, mitigations), its
conditions (Ready, ImpactMeasured, ActionItemsOverdue), the diff that writes only what
changed, and ``stale``: whether anything the facts are drawn from moved since they were
written (the periodic pass skips Prometheus and the rendering otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from incident_operator.adapters.ports import Body
from incident_operator.api.v1alpha1.convert import conditions_status
from incident_operator.domain import postmortem as pm
from incident_operator.domain import status_diff, timeline
from incident_operator.domain.conditions import Condition, Status
from incident_operator.domain.readiness import READY
from incident_operator.domain.times import iso, parse_time

from .postmortem_facts import affected_slos, key_times_of, timeline_facts
from .postmortem_tickets import without_sync_time

OVERDUE = "ActionItemsOverdue"
IMPACT_MEASURED = "ImpactMeasured"


def entry_of(fact: pm.Fact) -> Body:
    return timeline.entry(
        fact.at, fact.type, fact.message, author=fact.author, source=fact.source, key=fact.key
    )


def impact_status(impact: pm.Impact) -> Body:
    return {
        "slo": impact.slo,
        "start": iso(impact.start),
        "end": iso(impact.end),
        "durationSeconds": impact.duration.total_seconds(),
        "totalRequests": impact.total_requests,
        "failedRequests": impact.failed_requests,
        "errorRatio": impact.error_ratio,
        "errorBudgetConsumed": impact.budget_consumed,
        "errorBudgetRemaining": impact.budget_remaining,
        "note": impact.note[:512],
    }


def stale(
    postmortem: Mapping[str, Any],
    incident: Mapping[str, Any],
    links: Sequence[Mapping[str, Any]],
    overdue_items: int,
) -> bool:
    """Whether the stored facts or document are behind what they are drawn from."""
    status = postmortem.get("status") or {}
    generation = int((postmortem.get("metadata") or {}).get("generation", 1))
    if status.get("observedGeneration") != generation:
        return True
    if status.get("overdueActionItems", 0) != overdue_items:
        return True
    stored = [without_sync_time(t) for t in status.get("tickets") or [] if isinstance(t, dict)]
    if not status_diff.same_normalized(stored, [without_sync_time(t) for t in links]):
        return True
    keys = {e.get("key") for e in status.get("timeline") or [] if isinstance(e, dict)}
    if any(f.key not in keys for f in timeline_facts(incident) if f.key):
        return True
    times = key_times_of(incident)
    wanted = {k: iso(v) if (v := getattr(times, k)) else None for k in pm.KEY_TIMES}
    if not status_diff.same_normalized(wanted, status.get("keyTimes") or {}):
        return True
    if chart_was_cut(status, times):
        return True
    measured = any(
        c.get("type") == IMPACT_MEASURED and c.get("status") == "True"
        for c in status.get("conditions") or []
        if isinstance(c, dict)
    )
    return times.window is not None and affected_slos(incident) != [] and not measured


def chart_was_cut(status: Mapping[str, Any], times: pm.KeyTimes) -> bool:
    """The stored chart was drawn before its padded end had passed (cut at that moment)."""
    window = times.window
    if not status.get("chart") or window is None:
        return False
    return pm.chart_cut_short(*window, parse_time(status.get("generatedAt")))


def mitigation_status(m: pm.Mitigation) -> Body:
    return {
        "name": m.name,
        "action": m.action,
        "target": m.target,
        "state": m.state,
        "dryRun": m.dry_run,
        "startedAt": iso(m.started_at) if m.started_at else None,
        "finishedAt": iso(m.finished_at) if m.finished_at else None,
        "message": m.message,
        "effect": m.effect,
    }


def regenerated_conditions(
    facts: pm.Facts,
    unavailable: str | None,
    late: Sequence[pm.ActionItem],
    now: datetime,
    generation: int,
) -> list[Condition]:
    measured = [i for i in facts.impacts if i.budget_consumed is not None]
    if unavailable is not None:
        impact = Condition(
            IMPACT_MEASURED, Status.FALSE, "PrometheusUnavailable", unavailable, now, generation
        )
    elif facts.key_times.window is None:
        impact = Condition(
            IMPACT_MEASURED,
            Status.FALSE,
            "NotResolved",
            "the incident window ends at resolution",
            now,
            generation,
        )
    elif len(measured) < len(facts.impacts) or not facts.impacts:
        impact = Condition(
            IMPACT_MEASURED,
            Status.FALSE,
            "NoData",
            "; ".join(f"{i.slo}: {i.note}" for i in facts.impacts if i.note)
            or "no SLO is linked to the incident",
            now,
            generation,
        )
    else:
        impact = Condition(
            IMPACT_MEASURED,
            Status.TRUE,
            "Measured",
            ", ".join(f"{i.slo}: {i.budget_consumed:.2%} of the budget" for i in measured),
            now,
            generation,
        )
    overdue = (
        Condition(
            OVERDUE,
            Status.TRUE,
            "Overdue",
            "; ".join(f"{i.title} (due {i.due})" for i in late)[:1000],
            now,
            generation,
        )
        if late
        else Condition(
            OVERDUE, Status.FALSE, "NoneOverdue", "no action item is overdue", now, generation
        )
    )
    ready = Condition(
        READY, Status.TRUE, "Generated", "facts gathered and rendered", now, generation
    )
    return [ready, impact, overdue]


def conditions_body(conditions: Sequence[Condition]) -> Body:
    return {"conditions": conditions_status(conditions)}


def changed_fields(current: Mapping[str, Any], wanted: Body) -> Body:
    """Top-level keys of ``wanted`` whose value differs (lists and objects replace whole); a
    condition whose lastTransitionTime alone moved did not change."""
    changed = status_diff.changed(
        _comparable(current), _comparable(wanted), same=status_diff.same_normalized
    )
    return {key: wanted[key] for key in changed}


def _comparable(status: Mapping[str, Any]) -> Mapping[str, Any]:
    if "conditions" not in status:
        return status
    return {**status, "conditions": _strip_times(status["conditions"])}


def _strip_times(conditions: Any) -> Any:
    if not isinstance(conditions, list):
        return conditions
    return [
        {k: v for k, v in c.items() if k != "lastTransitionTime"}
        for c in conditions
        if isinstance(c, dict)
    ]
