"""What the SLO evaluation writes onto an SLO: ``status`` (conditions, burn rates, episode)
and the Warning Events that go with it.

Writes are conditional on the version the cycle read (``status.conditions`` is one list
shared with other writers) and skipped when nothing meaningful changed and the numbers are
younger than the refresh interval.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from incident_operator.adapters.ports import Body, IndicatorProblem, ResourceStore
from incident_operator.api.v1alpha1.convert import conditions_status, existing_conditions
from incident_operator.api.v1alpha1.slo import EpisodeStatus
from incident_operator.domain.burn import Blindness, BurnEvaluation
from incident_operator.domain.conditions import Condition, Status, set_condition
from incident_operator.domain.durations import format_duration
from incident_operator.domain.episodes import Decision, Episode
from incident_operator.domain.times import iso
from incident_operator.errors import Conflict, IncidentOperatorError

from .slo_records import SloRecord, load, spec_problem

log = logging.getLogger(__name__)


INVALID_INDICATOR = "InvalidIndicator"
INVALID_SPEC = "InvalidSpec"
STATUS_WRITE_ATTEMPTS = 5
BLIND = "Blind"


def blind_message(blind: Blindness) -> str:
    windows = ", ".join(format_duration(w) for w in blind.windows)
    since = f" since {iso(blind.since)}" if blind.since else ""
    return (
        f"No data for window(s) {windows}{since}: a burn in them can be neither seen nor "
        "seen to end (series gone, no traffic or 0/0). Episodes stay open and severities "
        "unchanged until data returns."
    )


def blind_reported(body: Body) -> bool:
    conditions = (body.get("status") or {}).get("conditions") or []
    return any(c.get("type") == BLIND and c.get("status") == "True" for c in conditions)


def _conditions(
    record: SloRecord,
    evaluation: BurnEvaluation | None,
    unavailable: str | None,
    now: datetime,
    *,
    blind: Blindness | None = None,
    problem: IndicatorProblem | None = None,
) -> list[Condition]:
    generation = int(record.body["metadata"].get("generation", 1))

    def cond(kind: str, on: bool, reason: str, message: str) -> Condition:
        return Condition(
            kind, Status.TRUE if on else Status.FALSE, reason, message, now, generation
        )

    if problem is not None and unavailable is None:
        return [
            cond(INVALID_INDICATOR, True, problem.reason, problem.message),
            Condition("Burning", Status.UNKNOWN, problem.reason, problem.message, now, generation),
            Condition("Healthy", Status.UNKNOWN, problem.reason, problem.message, now, generation),
        ]
    accepted = cond(INVALID_INDICATOR, False, "Accepted", "Its PromQL was accepted and measured.")

    if unavailable is not None:  # Blind stays as it was: we cannot tell either way
        return [
            cond("PrometheusUnavailable", True, "QueryFailed", unavailable),
            Condition(
                "Burning", Status.UNKNOWN, "PrometheusUnavailable", unavailable, now, generation
            ),
            Condition(
                "Healthy", Status.UNKNOWN, "PrometheusUnavailable", unavailable, now, generation
            ),
        ]
    assert evaluation is not None
    no_data = evaluation.no_data
    partial = bool(evaluation.blind_pairs)
    firing = evaluation.firing
    missing = [format_duration(w.window) for w in evaluation.windows if w.measurement is None]
    decisive = evaluation.decisive
    healthy = not firing and not partial
    after = record.no_data_after
    conditions = [
        accepted,
        cond("PrometheusUnavailable", False, "QueriesSucceeded", "Prometheus answered."),
        cond(
            "NoData",
            no_data,
            "MetricAbsent" if no_data else ("PartialData" if missing else "DataPresent"),
            f"No samples for windows {', '.join(missing)}."
            if missing
            else "Every window has data.",
        ),
        cond(
            "Burning",
            bool(firing),
            "BurnRateAboveThreshold" if firing else "BelowThreshold",
            (
                f"{decisive.long_text}/{decisive.short_text} burns faster than {decisive.factor:g}x"
                f" ({decisive.severity}); firing pairs: "
                + ", ".join(f"{p.long_text}/{p.short_text}" for p in firing)
            )
            if decisive
            else "No window pair fires.",
        ),
        cond(
            "Healthy",
            healthy,
            "WithinBudget"
            if healthy
            else ("Burning" if firing else ("NoData" if no_data else "PartialData")),
            "Error budget burn is within policy." if healthy else "See Burning and NoData.",
        ),
    ]
    if blind is not None:
        conditions.append(
            cond(BLIND, True, "NoDataForWindows", blind_message(blind))
            if blind.blind
            else cond(
                BLIND,
                False,
                "DataMissing" if blind.windows else "DataPresent",
                f"Windows {', '.join(format_duration(w) for w in blind.windows)} without data"
                f" since {iso(blind.since)}; Blind after {after}."
                if blind.windows and blind.since
                else "Every window the pairs need has data.",
            )
        )
    return conditions


def slo_status(
    record: SloRecord,
    evaluation: BurnEvaluation | None,
    episode: Episode | None,
    unavailable: str | None,
    now: datetime,
    *,
    blind: Blindness | None = None,
    problem: IndicatorProblem | None = None,
) -> Body:
    conditions = existing_conditions(record.body)
    for condition in _conditions(
        record, evaluation, unavailable, now, blind=blind, problem=problem
    ):
        conditions = set_condition(conditions, condition)
    status: Body = {
        "lastEvaluationTime": iso(now),
        "conditions": conditions_status(conditions),
        "activeIncident": episode.incident if episode and episode.stopped_at is None else None,
        "episode": (
            EpisodeStatus.from_domain(episode).model_dump(
                by_alias=True, mode="json", exclude_none=True
            )
            if episode
            else None
        ),
    }
    if blind is not None:  # unchanged while Prometheus is away
        status["noDataSince"] = iso(blind.since) if blind.since else None
    if evaluation is not None:  # keep the last known numbers while Prometheus is away
        status["errorBudgetRemaining"] = (
            None if evaluation.budget_remaining is None else round(evaluation.budget_remaining, 6)
        )
        status["budgetRemaining"] = budget_text(evaluation.budget_remaining)
        status["burnNow"] = burn_text(
            [(w.window, w.burn_rate) for w in evaluation.windows if w.measurement]
        )
        status["burnRates"] = [
            {
                "window": format_duration(w.window),
                **(
                    {
                        "errorRatio": round(w.measurement.error_ratio, 8),
                        "burnRate": round(w.burn_rate or 0.0, 4),
                    }
                    if w.measurement
                    else {}
                ),
                **(
                    {"requests": round(w.measurement.events, 1)}
                    if w.measurement and w.measurement.events is not None
                    else {}
                ),
            }
            for w in evaluation.windows
        ]
        status["firing"] = [
            {"long": p.long_text, "short": p.short_text, "factor": p.factor, "severity": p.severity}
            for p in evaluation.firing
        ]
    return status


def budget_text(remaining: float | None) -> str | None:
    """0.951116 -> "95.1%": the share of the budget left, as Pyrra and Sloth show it."""
    return None if remaining is None else f"{remaining * 100:.1f}%"


def burn_text(burns: Sequence[tuple[timedelta, float | None]]) -> str | None:
    """The burn rate of the shortest window with data, e.g. "0.42x/5m"."""
    known = sorted((window, rate) for window, rate in burns if rate is not None)
    if not known:
        return None
    window, rate = known[0]
    shown = f"{rate:.0f}" if rate >= 1000 else f"{rate:.3g}"  # 0.421, 14.4, 123, 4567
    return f"{shown}x/{format_duration(window)}"


def _essence(status: Mapping[str, Any]) -> Any:
    conditions = sorted(
        (c.get("type"), c.get("status"), c.get("reason")) for c in status.get("conditions", [])
    )
    return (conditions, status.get("firing"), status.get("activeIncident"), status.get("episode"))


def _status_changed(
    previous: Mapping[str, Any], new: Mapping[str, Any], now: datetime, refresh: timedelta
) -> bool:
    """Write when something meaningful changed, or the numbers are older than ``refresh``."""
    if _essence(previous) != _essence(new):
        return True
    last = previous.get("lastEvaluationTime")
    if not last:
        return True
    return now - datetime.fromisoformat(str(last).replace("Z", "+00:00")) >= refresh


class SloStatusWriter:
    """Writes what a cycle observed onto the SLO: its status, and Warning Events."""

    def __init__(self, store: ResourceStore, *, status_refresh: timedelta) -> None:
        self._store = store
        self._status_refresh = status_refresh

    async def report_invalid(
        self, bodies: list[Body], records: list[SloRecord], now: datetime
    ) -> None:
        """An SLO the engine cannot read says so on itself (condition + Warning Event) once;
        the others are evaluated as usual."""
        valid = {r.key for r in records}
        for body in bodies:
            meta = body.get("metadata") or {}
            if f"{meta.get('namespace')}/{meta.get('name')}" in valid:
                continue
            problem = spec_problem(body) or "the spec cannot be evaluated"
            generation = int(meta.get("generation", 1))
            wanted = [
                Condition(kind, Status.UNKNOWN, INVALID_SPEC, problem, now, generation)
                for kind in ("Burning", "Healthy")
            ]
            previous = {c.type: c for c in existing_conditions(body)}
            if all(
                (old := previous.get(c.type)) is not None
                and (old.status, old.reason, old.message) == (c.status, c.reason, c.message)
                for c in wanted
            ):
                continue
            conditions: tuple[Condition, ...] = tuple(previous.values())
            for condition in wanted:
                conditions = set_condition(conditions, condition)
            key = f"{meta.get('namespace')}/{meta.get('name')}"
            try:
                await self._store.patch_slo_status(
                    str(meta.get("namespace")),
                    str(meta.get("name")),
                    {"lastEvaluationTime": iso(now), "conditions": conditions_status(conditions)},
                    resource_version=meta.get("resourceVersion"),
                )
                await self._store.emit_event(body, INVALID_SPEC, problem, warning=True)
            except IncidentOperatorError as exc:  # a conflict: the next cycle tries again
                log.warning("SLO %s: could not report its invalid spec: %s", key, exc)

    async def write(
        self,
        record: SloRecord,
        evaluation: BurnEvaluation | None,
        decision: Decision,
        unavailable: str | None,
        now: datetime,
        *,
        blind: Blindness | None = None,
        problem: IndicatorProblem | None = None,
    ) -> None:
        """Write the observation onto the version it was computed from.

        Another writer (the Ready handler, a user's edit, kopf's bookkeeping) may have changed
        the SLO since the cycle listed it; ``status.conditions`` is one list, so a blind merge
        patch would drop that writer's conditions. On a conflict, read again and recompute.
        """
        for _attempt in range(STATUS_WRITE_ATTEMPTS):
            previous: Mapping[str, Any] = record.body.get("status") or {}
            status = slo_status(
                record, evaluation, decision.episode, unavailable, now, blind=blind, problem=problem
            )
            if not _status_changed(previous, status, now, self._status_refresh):
                return
            try:
                await self._store.patch_slo_status(
                    record.namespace,
                    record.name,
                    status,
                    resource_version=record.body["metadata"].get("resourceVersion"),
                )
                return
            except Conflict:
                fresh = await self._store.get_slo(record.namespace, record.name)
                reloaded = load(fresh) if fresh is not None else None
                if reloaded is None:  # deleted or no longer valid: nothing to report on
                    return
                record = reloaded
        raise Conflict(
            f"SLO {record.key} kept changing; status write tried {STATUS_WRITE_ATTEMPTS} times"
        )


async def warn(store: ResourceStore, record: SloRecord, reason: str, message: str) -> None:
    """A Warning Event on this SLO: a courtesy, never a reason to stop the episode."""
    try:
        await store.emit_event(record.body, reason, message, warning=True)
    except IncidentOperatorError as exc:
        log.warning("SLO %s: could not record the %s event: %s", record.key, reason, exc)
