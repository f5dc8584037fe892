"""Use case: every cycle, measure all SLOs at once, decide each burn episode, act, record.

load (list SLOs) -> measure (one query per window) -> decide (domain.burn + domain.episodes)
-> execute (declare / raise severity / burn stopped through the ResourceStore) -> status.
Failures stay local: one SLO's error never stops the others' evaluation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError

from incident_operator.adapters.ports import (
    Body,
    Clock,
    IndicatorProblem,
    MetricsSource,
    NoOperatorMetrics,
    OperatorMetrics,
    RatioHistory,
    ResourceStore,
    WindowMeasurements,
)
from incident_operator.api.v1alpha1.convert import conditions_status, existing_conditions
from incident_operator.api.v1alpha1.slo import (
    EpisodeStatus,
    ServiceLevelObjective,
    ServiceLevelObjectiveStatus,
)
from incident_operator.domain import roles as domain_roles
from incident_operator.domain import timeline
from incident_operator.domain.burn import Blindness, BurnEvaluation, blindness, evaluate
from incident_operator.domain.conclusions import Subject, human_chose
from incident_operator.domain.conditions import Condition, Status, set_condition
from incident_operator.domain.durations import format_duration, parse_duration
from incident_operator.domain.episodes import Action, Decision, Episode, burn_began, decide
from incident_operator.domain.lifecycle import Phase
from incident_operator.domain.names import label_value
from incident_operator.domain.slo import Objective, WindowPair
from incident_operator.domain.times import iso
from incident_operator.errors import Conflict, IncidentOperatorError, MetricsUnavailable

from .incident_lifecycle import IncidentLifecycleService
from .incidents import (
    AUTHOR,
    DECLARED_SEVERITY,
    SERVICE_LABEL,
    Concluder,
    intent_of,
    is_active,
    severity_of,
)
from .roles import UNFILLED, RotationAnswer, ask_rotation

log = logging.getLogger(__name__)

SLO_LABEL = "sre.dev/slo"
INVALID_INDICATOR = "InvalidIndicator"
INVALID_SPEC = "InvalidSpec"
STATUS_WRITE_ATTEMPTS = 5


class Metrics(MetricsSource, RatioHistory, Protocol):
    """Instant measurements for the cycle, range queries to find when a burn began."""


@dataclass(frozen=True)
class SloRecord:
    body: Body
    model: ServiceLevelObjective
    objective: Objective

    @property
    def namespace(self) -> str:
        return str(self.body["metadata"]["namespace"])

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def episode(self) -> Episode | None:
        episode = self.model.status.episode
        return episode.to_domain() if episode else None


@dataclass(frozen=True)
class CycleReport:
    slos: int
    queries: int
    seconds: float
    declared: tuple[str, ...]
    unavailable: str | None
    measure_seconds: float = 0.0
    """Of ``seconds``, the time spent waiting for Prometheus."""


def spec_problem(body: Body) -> str | None:
    """Why the engine cannot evaluate this SLO's spec, or None (see ``load``)."""
    try:
        model = ServiceLevelObjective.model_validate(
            {k: v for k, v in body.items() if k != "status"}
        )
        model.spec.to_domain()
    except ValidationError as exc:
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )[:1024]
    except ValueError as exc:
        return str(exc)[:1024]
    return None


def load(body: Body) -> SloRecord | None:
    """The SLO as the engine needs it; None (and a log line) when it cannot be read."""
    meta = body.get("metadata", {})
    try:
        model = ServiceLevelObjective.model_validate(
            {k: v for k, v in body.items() if k != "status"}
        )
        objective = model.spec.to_domain()
    except (ValidationError, ValueError) as exc:
        log.warning("skipping SLO %s/%s: %s", meta.get("namespace"), meta.get("name"), exc)
        return None
    try:  # our own earlier observation: unreadable means start afresh, not stop evaluating
        status = ServiceLevelObjectiveStatus.model_validate(body.get("status") or {})
    except ValidationError as exc:
        log.warning(
            "SLO %s/%s: ignoring unreadable status: %s",
            meta.get("namespace"),
            meta.get("name"),
            exc,
        )
        status = ServiceLevelObjectiveStatus()
    return SloRecord(body, model.model_copy(update={"status": status}), objective)


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
        self._lifecycle = lifecycle or IncidentLifecycleService(store, clock)
        self._status_refresh = status_refresh
        self._concurrency = concurrency
        self._parsed: dict[str, tuple[str, SloRecord | None]] = {}

    async def cycle(self) -> CycleReport:
        started = time.monotonic()
        queries_before = self._metrics.queries
        now = self._clock.now()
        bodies = await self._store.list_slos()
        records = self._load_all(bodies)
        await self._report_invalid(bodies, records, now)
        windows = sorted({w for r in records for w in r.objective.windows})
        unavailable: str | None = None
        measured: dict[str, WindowMeasurements] = {}
        problems: dict[str, IndicatorProblem] = {}
        measuring = time.monotonic()
        if records:
            try:
                result = await self._metrics.measure(
                    {r.key: r.model.spec.sli() for r in records},
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

    async def _report_invalid(
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

    def _load_all(self, bodies: list[Body]) -> list[SloRecord]:
        """Parse the SLOs, reusing the parse of any object whose resourceVersion is unchanged.

        Validating a thousand SLOs costs about a second a cycle; most have not changed.
        """
        cache: dict[str, tuple[str, SloRecord | None]] = {}
        records = []
        for body in bodies:
            meta = body.get("metadata", {})
            key = f"{meta.get('namespace')}/{meta.get('name')}/{meta.get('uid')}"
            version = str(meta.get("resourceVersion", ""))
            cached = self._parsed.get(key)
            record = cached[1] if cached and cached[0] == version and version else load(body)
            cache[key] = (version, record)
            if record is not None:
                records.append(record)
        self._parsed = cache
        return records

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
        spec = record.model.spec
        firing = evaluation is not None and evaluation.decisive is not None
        incident_open = False
        if firing and episode is not None and episode.stopped_at is not None:
            incident_open = await self._incident_open(record.namespace, episode.incident)
        began = None
        needs_start = episode is None or (episode.stopped_at is not None and not incident_open)
        if firing and needs_start and spec.declare.enabled and evaluation and evaluation.decisive:
            began = await self._burn_began(record, evaluation.decisive, now)
        decision = decide(
            slo=record.name,
            objective=record.objective,
            episode=episode,
            evaluation=evaluation,
            now=now,
            burn_began=began,
            hold_down=parse_duration(spec.alerting.hold_down),
            declare=spec.declare.enabled,
            auto_resolve=spec.declare.auto_resolve,
            incident_open=incident_open,
        )
        if decision.action is Action.DECLARE:
            decision = await self._declare(record, decision, evaluation, now)
        elif decision.action is not Action.NONE and decision.episode is not None:
            await self._follow_up(record, decision, now)
        blind = (
            None
            if evaluation is None
            else blindness(
                evaluation,
                record.model.status.no_data_since,
                now,
                parse_duration(spec.alerting.no_data_after),
            )
        )
        was_blind = _blind_reported(record.body)
        await self._write_status(
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
        await self._warn(record, problem.reason, problem.message)

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
                record.model.spec.sli(), pair.short, now - pair.long, now, step
            )
        except MetricsUnavailable as exc:
            log.warning("SLO %s: burn start unknown, using now: %s", record.key, exc)
            return None
        return burn_began(samples, record.objective.budget)

    async def _declare(
        self,
        record: SloRecord,
        decision: Decision,
        evaluation: BurnEvaluation | None,
        now: datetime,
    ) -> Decision:
        """Adopt the SLO's open incident if one exists (a crash after create), else create it."""
        assert decision.episode is not None
        assert decision.pair is not None
        episode, pair = decision.episode, decision.pair
        existing = [
            i
            for i in await self._store.find_incidents(
                record.namespace, {SLO_LABEL: label_value(record.name)}
            )
            # The label is a (hashed) selector; the relationship is the incident's source.
            if (i["spec"].get("source") or {}).get("ref") == record.name and is_active(i)
        ]
        if existing:
            adopted = sorted(existing, key=lambda i: i["metadata"]["name"])[-1]
            started = (adopted["spec"].get("source") or {}).get("detectedAt")
            episode = Episode(
                incident=adopted["metadata"]["name"],
                started_at=datetime.fromisoformat(started) if started else episode.started_at,
                last_firing_at=now,
                severity=severity_of(adopted) or episode.severity,
                pair=episode.pair,
            )
            log.info("SLO %s: adopting open incident %s", record.key, episode.incident)
            await self._record_declaration(record, episode, pair, evaluation, now)
            return Decision(Action.NONE, episode, pair)
        assigned, role_timeline = await self._declared_roles(record, pair.severity, now)
        incident = await self._store.create_incident(
            record.namespace, incident_body(record, episode, pair, evaluation, roles=assigned)
        )
        await self._record_declaration(record, episode, pair, evaluation, now, extra=role_timeline)
        try:
            severity_missing = await self._store.get_severity(pair.severity) is None
        except IncidentOperatorError:
            severity_missing = False  # unknown, not missing: say nothing
        if severity_missing:
            await self._warn(
                record,
                "SeverityNotFound",
                f"Declared {incident['metadata']['name']} at severity {pair.severity}, which "
                "does not exist: no paging, chat or postmortem policy applies. Create the "
                "Severity or correct alerting.windows.",
            )
        try:  # an Event is a courtesy to kubectl describe; losing one must not stop the episode
            await self._store.emit_event(
                record.body,
                "IncidentDeclared",
                f"Declared incident {incident['metadata']['name']} ({pair.severity}): "
                f"{burn_summary(record.objective, pair, evaluation)}",
            )
        except IncidentOperatorError as exc:
            log.warning("SLO %s: could not record the IncidentDeclared event: %s", record.key, exc)
        return decision

    async def _record_declaration(
        self,
        record: SloRecord,
        episode: Episode,
        pair: WindowPair,
        evaluation: BurnEvaluation | None,
        now: datetime,
        *,
        extra: tuple[Body, ...] = (),
    ) -> None:
        """Timestamps and the declaration timeline entry (plus ``extra``); idempotent by key."""
        await self._store.patch_incident(
            record.namespace,
            episode.incident,
            status={
                "timestamps": {"detected": iso(episode.started_at), "declared": iso(now)},
                "durations": {"timeToDetect": (now - episode.started_at).total_seconds()},
                "severity": episode.severity,
            },
        )
        await self._store.append_timeline(
            record.namespace,
            episode.incident,
            [
                timeline_entry(
                    record,
                    "burn-began",
                    episode.started_at,
                    f"Error budget burn began ({record.objective.target:.4g} target).",
                    key=f"burn-began/{iso(episode.started_at)}",
                ),
                timeline_entry(
                    record,
                    "declared",
                    now,
                    f"Declared by SLO {record.name} at {pair.severity}: "
                    f"{burn_summary(record.objective, pair, evaluation)}",
                    key=f"declared/{record.name}",
                ),
                *extra,
            ],
        )

    async def _declared_roles(
        self, record: SloRecord, severity: str, now: datetime
    ) -> tuple[dict[str, str], tuple[Body, ...]]:
        """Roles for the new incident from its rotation at ``now``, and their timeline entries.

        The rotation is ``declare.rotationRef``, else the severity's ``rotationRef``. Nothing
        here may stop the declaration: a rotation that cannot answer gives no roles and one
        entry saying why (a responder reading the timeline learns nobody was assigned).
        """
        ref = record.model.spec.declare.rotation_ref
        answer: RotationAnswer | None = None
        try:
            if ref is None:
                found = await self._store.get_severity(severity)
                value = ((found or {}).get("spec") or {}).get("rotationRef")
                ref = value if isinstance(value, str) and value else None
            if ref is None:
                return {}, ()
            answer = await ask_rotation(self._store, record.namespace, ref, now)
        except IncidentOperatorError as exc:
            problem: str | None = f"OnCallRotation {record.namespace}/{ref} unreadable ({exc})"
        else:
            problem = answer.problem
        assignment = domain_roles.effective_roles({}, answer.roles if answer else None)
        entries: list[Body] = [
            {**timeline_entry(record, e.type, now, e.message, key=""), "key": e.key}
            for e in domain_roles.role_entries(
                {}, assignment.roles, from_rotation=assignment.from_rotation, version="1"
            )
        ]
        if problem is not None:
            entries.append(timeline_entry(record, UNFILLED, now, problem, key="roles-unfilled"))
            await self._warn(record, "RotationUnavailable", problem)
        return assignment.roles, tuple(entries)

    async def _warn(self, record: SloRecord, reason: str, message: str) -> None:
        """A Warning Event on this SLO: a courtesy, never a reason to stop the episode."""
        try:
            await self._store.emit_event(record.body, reason, message, warning=True)
        except IncidentOperatorError as exc:
            log.warning("SLO %s: could not record the %s event: %s", record.key, reason, exc)

    async def _follow_up(self, record: SloRecord, decision: Decision, now: datetime) -> None:
        episode = decision.episode
        assert episode is not None
        incident = await self._store.get_incident(record.namespace, episode.incident)
        if incident is None:
            log.warning("SLO %s: incident %s is gone", record.key, episode.incident)
            return
        stamp = iso(now)
        if decision.action in (Action.RAISE_SEVERITY, Action.LOWER_SEVERITY) and decision.pair:
            await self._change_severity(record, incident, decision, now)
        elif decision.action is Action.BURN_STOPPED:
            message = f"Burn stopped: no window pair fired since {iso(episode.last_firing_at)}."
            if decision.resolve and is_active(incident):
                await self._lifecycle.conclude(
                    record.namespace,
                    episode.incident,
                    Subject.STATE,
                    Phase.RESOLVED.value,
                    reason="BurnStopped",
                    message=f"SLO {record.key} stopped burning (declare.autoResolve)",
                )
                message += " Resolved automatically (declare.autoResolve)."
            await self._store.append_timeline(
                record.namespace,
                episode.incident,
                [timeline_entry(record, "burn-stopped", now, message, key=f"burn-stopped/{stamp}")],
            )
        elif decision.action is Action.BURN_RESUMED:
            await self._store.append_timeline(
                record.namespace,
                episode.incident,
                [
                    timeline_entry(
                        record,
                        "burn-resumed",
                        now,
                        "The burn resumed.",
                        key=f"burn-resumed/{stamp}",
                    )
                ],
            )

    async def _change_severity(
        self, record: SloRecord, incident: Body, decision: Decision, now: datetime
    ) -> None:
        """Follow the burn up or down, unless a human chose the incident's severity.

        The declaring source's severity is the declared-severity annotation: a spec value other
        than that is someone's choice. The operator's own moves are conclusions in status.
        """
        episode, pair = decision.episode, decision.pair
        assert episode is not None
        assert pair is not None
        declared = incident["metadata"].get("annotations", {}).get(DECLARED_SEVERITY)
        current = severity_of(incident)
        raised = decision.action is Action.RAISE_SEVERITY
        why = (
            f"Faster burn ({pair.long_text}/{pair.short_text} x{pair.factor:g})"
            if raised
            else f"Calmer burn (only {pair.long_text}/{pair.short_text} x{pair.factor:g} fires; "
            f"faster pairs below threshold for {record.model.spec.alerting.hold_down})"
        )
        kind = "severity-raised" if raised else "severity-lowered"
        if not human_chose(intent_of(incident, Subject.SEVERITY), declared):
            # A conclusion in status: the spec (a human's, or Git's) is never rewritten.
            await self._lifecycle.conclude(
                record.namespace,
                episode.incident,
                Subject.SEVERITY,
                episode.severity,
                reason="FasterBurn" if raised else "CalmerBurn",
                message=f"{why}: {current} -> {episode.severity}",
            )
            entry = f"{why}: severity {'raised' if raised else 'lowered'} {current} -> "
            entry += f"{episode.severity}."
        else:  # a human chose the severity; say so instead of overriding them
            entry = f"{why} suggests {episode.severity}; kept {current}."
            kind = kind if raised else "severity-suggested"
        await self._store.append_timeline(
            record.namespace,
            episode.incident,
            [timeline_entry(record, kind, now, entry, key=f"severity/{episode.pair}/{iso(now)}")],
        )

    async def _write_status(
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


def burn_summary(objective: Objective, pair: WindowPair, evaluation: BurnEvaluation | None) -> str:
    rates = {w.window: w.burn_rate for w in evaluation.windows} if evaluation else {}
    long, short = rates.get(pair.long), rates.get(pair.short)
    return (
        f"burn rate {long or 0:.1f}x over {pair.long_text} and {short or 0:.1f}x over "
        f"{pair.short_text} (threshold {pair.factor:g}x of a "
        f"{objective.target * 100:g}% objective)"
    )


def timeline_entry(record: SloRecord, kind: str, at: datetime, message: str, *, key: str) -> Body:
    return timeline.entry(
        at, kind, message, author=AUTHOR, source=f"slo/{record.name}", key=f"{record.name}/{key}"
    )


def incident_body(
    record: SloRecord,
    episode: Episode,
    pair: WindowPair,
    evaluation: BurnEvaluation | None,
    *,
    roles: Mapping[str, str] | None = None,
) -> Body:
    """The Incident to create; ``roles`` (from the rotation) go into ``spec.roles``.

    In the spec, not only the status: an automatic declaration has no human to pick the
    commander, so the operator does it as the declarer, and the plugin's ``assign`` edits the
    same field a human would have set.
    """
    spec = record.model.spec
    labels = {
        **spec.declare.labels,
        SLO_LABEL: label_value(record.name),
        SERVICE_LABEL: spec.service,
    }
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "Incident",
        "metadata": {
            "name": episode.incident,
            "namespace": record.namespace,
            "labels": labels,
            "annotations": {DECLARED_SEVERITY: pair.severity},
        },
        "spec": {
            "title": f"{spec.service}: SLO {record.name} is burning its error budget"[:200],
            "summary": burn_summary(record.objective, pair, evaluation),
            "service": spec.service,
            "severityRef": pair.severity,
            "state": "triage",
            "source": {"type": "slo", "ref": record.name, "detectedAt": iso(episode.started_at)},
            **({"roles": dict(roles)} if roles else {}),
            # Escalations ask the same rotation the roles came from.
            **({"rotationRef": spec.declare.rotation_ref} if spec.declare.rotation_ref else {}),
        },
    }


BLIND = "Blind"


def blind_message(blind: Blindness) -> str:
    windows = ", ".join(format_duration(w) for w in blind.windows)
    since = f" since {iso(blind.since)}" if blind.since else ""
    return (
        f"No data for window(s) {windows}{since}: a burn in them can be neither seen nor "
        "seen to end (series gone, no traffic or 0/0). Episodes stay open and severities "
        "unchanged until data returns."
    )


def _blind_reported(body: Body) -> bool:
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
    after = record.model.spec.alerting.no_data_after
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
