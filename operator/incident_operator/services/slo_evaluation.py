"""Use case: every cycle, measure all SLOs at once, decide each burn episode, act, record.

load (list SLOs) -> measure (one query per window) -> decide (domain.burn + domain.episodes)
-> execute (declare / raise severity / burn stopped through the ResourceStore) -> status.
Failures stay local: one SLO's error never stops the others' evaluation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from incident_operator.adapters.ports import (
    Clock,
    IndicatorProblem,
    MetricsSource,
    NoOperatorMetrics,
    OperatorMetrics,
    RatioHistory,
    ResourceStore,
    WindowMeasurements,
)
from incident_operator.api.v1alpha1.convert import existing_conditions
from incident_operator.domain.burn import Blindness, blindness, evaluate
from incident_operator.domain.conditions import Status
from incident_operator.domain.durations import parse_duration
from incident_operator.domain.episodes import Action, Decision, Episode, burn_began, decide
from incident_operator.domain.slo import WindowPair
from incident_operator.domain.times import iso
from incident_operator.errors import IncidentOperatorError, MetricsUnavailable

from .incident_lifecycle import IncidentLifecycleService
from .incidents import Concluder, is_active
from .slo_declaration import SloIncidents, timeline_entry
from .slo_records import ParsedSlos, SloRecord
from .slo_status import INVALID_INDICATOR, SloStatusWriter, blind_message, blind_reported, warn

log = logging.getLogger(__name__)


class Metrics(MetricsSource, RatioHistory, Protocol):
    """Instant measurements for the cycle, range queries to find when a burn began."""


@dataclass(frozen=True)
class CycleReport:
    slos: int
    queries: int
    seconds: float
    declared: tuple[str, ...]
    unavailable: str | None
    measure_seconds: float = 0.0
    """Of ``seconds``, the time spent waiting for Prometheus."""


class SloEvaluationService:
    def __init__(
        self,
        store: ResourceStore,
        metrics: Metrics,
        clock: Clock,
        *,
        status_refresh: timedelta = timedelta(minutes=5),
        concurrency: int = 16,
        operator_metrics: OperatorMetrics | None = None,
        lifecycle: Concluder | None = None,
    ) -> None:
        self._operator_metrics: OperatorMetrics = operator_metrics or NoOperatorMetrics()
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._incidents = SloIncidents(store, lifecycle or IncidentLifecycleService(store, clock))
        self._status = SloStatusWriter(store, status_refresh=status_refresh)
        self._concurrency = concurrency
        self._records = ParsedSlos()

    async def cycle(self) -> CycleReport:
        started = time.monotonic()
        queries_before = self._metrics.queries
        now = self._clock.now()
        bodies = await self._store.list_slos()
        records = self._records.load_all(bodies)
        await self._status.report_invalid(bodies, records, now)
        windows = sorted({w for r in records for w in r.objective.windows})
        unavailable: str | None = None
        measured: dict[str, WindowMeasurements] = {}
        problems: dict[str, IndicatorProblem] = {}
        measuring = time.monotonic()
        if records:
            try:
                result = await self._metrics.measure(
                    {r.key: r.sli for r in records},
                    windows,
                    now,
                    # Request counts only where the low-traffic guard needs them.
                    counted={r.key for r in records if r.objective.min_requests > 0},
                )
                measured, problems = result.values, result.problems
            except MetricsUnavailable as exc:
                unavailable = str(exc)
        measure_seconds = time.monotonic() - measuring
        # SLOs are independent: act on them concurrently, bounded so that a thousand status
        # writes do not become a thousand simultaneous API requests.
        limit = asyncio.Semaphore(self._concurrency)

        async def one(record: SloRecord) -> Decision | None:
            async with limit:
                try:
                    return await self._evaluate_one(
                        record,
                        measured.get(record.key, {}),
                        unavailable,
                        now,
                        problem=problems.get(record.key),
                    )
                except IncidentOperatorError as exc:
                    log.warning("SLO %s: %s", record.key, exc)
                    return None

        decisions = await asyncio.gather(*(one(r) for r in records))
        declared = [
            f"{r.namespace}/{d.episode.incident}"
            for r, d in zip(records, decisions, strict=True)
            if d is not None and d.action is Action.DECLARE and d.episode
        ]
        report = CycleReport(
            slos=len(records),
            queries=self._metrics.queries - queries_before,
            seconds=time.monotonic() - started,
            measure_seconds=measure_seconds,
            declared=tuple(declared),
            unavailable=unavailable,
        )
        self._operator_metrics.slo_cycle(
            seconds=report.seconds,
            slos=report.slos,
            queries=report.queries,
            declared=len(report.declared),
            unavailable=report.unavailable is not None,
        )
        return report

    async def _evaluate_one(
        self,
        record: SloRecord,
        measurements: WindowMeasurements,
        unavailable: str | None,
        now: datetime,
        *,
        problem: IndicatorProblem | None = None,
    ) -> Decision:
        """Decide and record one SLO. ``problem``: this SLO alone could not be measured (its
        own PromQL), which is no data for it and nothing for any other SLO."""
        if problem is not None:
            await self._report_problem(record, problem)
        unmeasured = unavailable is not None or problem is not None
        evaluation = None if unmeasured else evaluate(record.objective, measurements)
        episode = record.episode
        firing = evaluation is not None and evaluation.decisive is not None
        incident_open = False
        if firing and episode is not None and episode.stopped_at is not None:
            incident_open = await self._incident_open(record.namespace, episode.incident)
        began = None
        needs_start = episode is None or (episode.stopped_at is not None and not incident_open)
        if firing and needs_start and record.declare and evaluation and evaluation.decisive:
            began = await self._burn_began(record, evaluation.decisive, now)
        decision = decide(
            slo=record.name,
            objective=record.objective,
            episode=episode,
            evaluation=evaluation,
            now=now,
            burn_began=began,
            hold_down=parse_duration(record.hold_down),
            declare=record.declare,
            auto_resolve=record.auto_resolve,
            incident_open=incident_open,
        )
        if decision.action is Action.DECLARE:
            decision = await self._incidents.declare(record, decision, evaluation, now)
        elif decision.action is not Action.NONE and decision.episode is not None:
            await self._incidents.follow_up(record, decision, now)
        blind = (
            None
            if evaluation is None
            else blindness(
                evaluation,
                record.no_data_since,
                now,
                parse_duration(record.no_data_after),
            )
        )
        was_blind = blind_reported(record.body)
        await self._status.write(
            record, evaluation, decision, unavailable, now, blind=blind, problem=problem
        )
        if blind is not None and blind.blind and not was_blind:
            await self._report_blind(record, blind, decision.episode, now)
        return decision

    async def _report_blind(
        self, record: SloRecord, blind: Blindness, episode: Episode | None, now: datetime
    ) -> None:
        """A blind SLO is an operational problem of its own: tell its owners, once per run.

        A Warning Event on the SLO, and, while it has an open incident, a timeline entry there
        (which the comms layer posts to the incident's channel). Neither may stop the cycle.
        """
        message = blind_message(blind)
        try:
            await self._store.emit_event(record.body, "SloBlind", message, warning=True)
        except IncidentOperatorError as exc:
            log.warning("SLO %s: could not record the SloBlind event: %s", record.key, exc)
        if episode is None or episode.stopped_at is not None or blind.since is None:
            return
        try:
            await self._store.append_timeline(
                record.namespace,
                episode.incident,
                [
                    timeline_entry(
                        record, "slo-blind", now, message, key=f"slo-blind/{iso(blind.since)}"
                    )
                ],
            )
        except IncidentOperatorError as exc:
            log.warning(
                "SLO %s: could not note the missing data on %s: %s",
                record.key,
                episode.incident,
                exc,
            )

    async def _report_problem(self, record: SloRecord, problem: IndicatorProblem) -> None:
        """A Warning Event on this SLO when its indicator problem is new or different."""
        previous = next(
            (c for c in existing_conditions(record.body) if c.type == INVALID_INDICATOR), None
        )
        if (
            previous is not None
            and previous.status is Status.TRUE
            and previous.reason == problem.reason
            and previous.message == problem.message
        ):
            return
        await warn(self._store, record, problem.reason, problem.message)

    async def _incident_open(self, namespace: str, name: str) -> bool:
        incident = await self._store.get_incident(namespace, name)
        return incident is not None and is_active(incident)

    async def _burn_began(
        self, record: SloRecord, pair: WindowPair, now: datetime
    ) -> datetime | None:
        """Start of the burn: the short window's ratio above budget, looked up over the long one."""
        step = max(timedelta(seconds=15), pair.long / 1000)
        try:
            samples = await self._metrics.ratio_series(
                record.sli, pair.short, now - pair.long, now, step
            )
        except MetricsUnavailable as exc:
            log.warning("SLO %s: burn start unknown, using now: %s", record.key, exc)
            return None
        return burn_began(samples, record.objective.budget)
