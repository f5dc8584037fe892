"""Use case: run an incident's guarded mitigations and close the loop on the SLO's burn.

Every tick (handlers/mitigation.py) for one open incident:
load (incident, its SLO, its Severity) -> verify the action in flight against the SLO's latest
evaluation -> gate the next request (domain.mitigation.gate) -> plan it against the target as
it is now (domain) -> execute the plan (dry run or not) -> record in ``status.mitigations``,
the timeline (dedup keys) and Events on the incident and the target.

A verified action moves the incident to ``mitigated`` the way a human would: it sets
``spec.state`` and lets the lifecycle (the one writer of phase) accept it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from incident_operator.adapters.ports import Body, Clock, ResourceStore
from incident_operator.adapters.workloads_port import Workloads
from incident_operator.api.v1alpha1.incident import Incident, MitigationResult, SourceType
from incident_operator.api.v1alpha1.mitigation import Mitigation, MitigationPolicy
from incident_operator.api.v1alpha1.severity import Severity
from incident_operator.api.v1alpha1.slo import ServiceLevelObjective
from incident_operator.domain import mitigation as m
from incident_operator.domain import timeline
from incident_operator.domain.conclusions import Subject
from incident_operator.domain.lifecycle import Phase
from incident_operator.domain.times import iso
from incident_operator.errors import Conflict, IncidentOperatorError, PermanentError
from incident_operator.services.incidents import severity_of

from .freeze import FreezeService
from .incident_lifecycle import IncidentLifecycleService
from .incidents import AUTHOR, Concluder, is_active, phase_of

log = logging.getLogger(__name__)

SLO_KIND = ("sre.dev/v1alpha1", "ServiceLevelObjective")
ENTRY_TYPE = "mitigation"
"""Timeline type of every mitigation step (the comms layer posts it to the incident channel);
the step itself is the last part of the entry's key (applied, verified, refused ...)."""
MITIGATABLE_STATES = frozenset({"triage", "investigating"})
"""Phases from which a verified action concludes the incident mitigated."""


@dataclass(frozen=True)
class Result:
    """One entry of status.mitigations, as the service works with it."""

    name: str
    action: str
    target: str
    state: m.State
    source: str
    dry_run: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    verify_by: datetime | None = None
    message: str = ""
    undo: str = ""

    @property
    def record(self) -> m.Record:
        return m.Record(self.name, self.state, self.started_at, self.verify_by, self.message)

    def body(self) -> Body:
        return MitigationResult(
            name=self.name,
            action=self.action,
            target=self.target,
            state=self.state.value,
            source=self.source,
            dry_run=self.dry_run,
            started_at=self.started_at,
            finished_at=self.finished_at,
            verify_by=self.verify_by,
            message=self.message[:4096],
            undo=self.undo,
        ).model_dump(by_alias=True, mode="json", exclude_none=True, exclude_defaults=False)


def _not_ahead(result: Result, now: datetime) -> Result:
    """A record stamped by a clock that ran ahead, moved back to start now (m.ahead_by)."""
    shift = m.ahead_by(result.started_at, now)
    if not shift:
        return result
    return replace(
        result,
        started_at=now,
        verify_by=result.verify_by - shift if result.verify_by else None,
        finished_at=min(result.finished_at, now) if result.finished_at else None,
    )


def _results(status: Mapping[str, Any]) -> dict[str, Result]:
    out: dict[str, Result] = {}
    for raw in status.get("mitigations") or []:
        try:
            r = MitigationResult.model_validate(raw)
            state = m.State(r.state)
        except (ValidationError, ValueError):
            continue
        out[r.name] = Result(
            r.name,
            r.action,
            r.target,
            state,
            r.source,
            r.dry_run,
            r.started_at,
            r.finished_at,
            r.verify_by,
            r.message,
            r.undo,
        )
    return out


@dataclass(frozen=True)
class Context:
    """Everything one tick decides from."""

    incident: Body
    namespace: str
    name: str
    requests: tuple[m.Request, ...]
    policy: m.Policy
    approved: frozenset[str]
    burn: m.Burn | None
    slo: Body | None
    freeze_changes: bool = False
    """The Severity wants GitOps frozen while the incident is open."""
    freeze_namespaces: frozenset[str] = frozenset()
    """Namespaces besides the incident's where the Severity lets a freeze act."""


def burn_of(slo: ServiceLevelObjective) -> m.Burn | None:
    """The decisive pair of the SLO's episode and its latest short-window burn."""
    episode = slo.status.episode
    if episode is None:
        return None
    long, _, short = episode.pair.partition("/")
    factor = next(
        (w.factor for w in slo.spec.alerting.windows if w.long == long and w.short == short),
        None,
    )
    if factor is None:
        return None
    rate = next((b.burn_rate for b in slo.status.burn_rates if b.window == short), None)
    return m.Burn(episode.pair, factor, rate, slo.status.last_evaluation_time)


class MitigationService:
    def __init__(
        self,
        store: ResourceStore,
        workloads: Workloads,
        clock: Clock,
        *,
        freezes: FreezeService | None = None,
        lifecycle: Concluder | None = None,
    ) -> None:
        self._store = store
        self._workloads = workloads
        self._clock = clock
        self._freezes = freezes or FreezeService(store, workloads, clock)
        self._lifecycle = lifecycle or IncidentLifecycleService(store, clock)

    async def load(self, body: Body) -> Context | None:
        """None when there is nothing to mitigate (closed, unreadable, nothing requested)."""
        if not is_active(body):
            return None
        try:
            incident = Incident.model_validate({k: v for k, v in body.items() if k != "status"})
        except ValidationError:
            return None
        meta = body["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        slo_body: Body | None = None
        slo: ServiceLevelObjective | None = None
        if incident.spec.source.type is SourceType.SLO and incident.spec.source.ref:
            slo_body = await self._workloads.get(
                m.Target(*SLO_KIND, namespace, incident.spec.source.ref)
            )
            if slo_body is not None:
                try:
                    slo = ServiceLevelObjective.model_validate(slo_body)
                except ValidationError as exc:
                    log.warning("incident %s/%s: unreadable SLO: %s", namespace, name, exc)
        requests = [
            mit.to_domain(namespace, m.Source.INCIDENT) for mit in incident.spec.mitigations
        ]
        if slo is not None:
            requests += [mit.to_domain(namespace, m.Source.SLO) for mit in slo.spec.mitigations]
        if not requests:
            return None
        severity_body = await self._store.get_severity(severity_of(body))
        auto_allowed = freeze_changes = False
        freeze_namespaces: frozenset[str] = frozenset()
        if severity_body is not None:
            try:
                allowance = Severity.model_validate(severity_body).spec.mitigation
                auto_allowed, freeze_changes = allowance.auto_allowed, allowance.freeze_changes
                freeze_namespaces = frozenset(allowance.freeze_namespaces)
            except ValidationError:
                auto_allowed = freeze_changes = False
        policy = (slo.spec.mitigation_policy if slo else MitigationPolicy()).to_domain(
            auto_allowed=auto_allowed
        )
        unique: dict[str, m.Request] = {}
        for request in requests:
            unique.setdefault(request.name, request)
        return Context(
            incident=body,
            namespace=namespace,
            name=name,
            requests=tuple(unique.values()),
            policy=policy,
            approved=frozenset(incident.spec.approved_mitigations),
            burn=burn_of(slo) if slo else None,
            slo=slo_body,
            freeze_changes=freeze_changes,
            freeze_namespaces=freeze_namespaces,
        )

    async def reconcile(self, body: Body) -> list[Result]:
        """One tick for one incident; returns status.mitigations as written."""
        meta = body["metadata"]
        spec, status = body.get("spec") or {}, body.get("status") or {}
        if (
            not spec.get("mitigations")
            and (spec.get("source") or {}).get("type") != SourceType.SLO.value
            and not status.get("freezes")
        ):
            return []  # nothing can be asked of this incident: spare the API server
        # Fresh, not the watch's copy: our own last write (running/applied) must be seen.
        fresh = await self._store.get_incident(str(meta["namespace"]), str(meta["name"]))
        if fresh is None:
            return []
        body = fresh
        now = self._clock.now()
        if not is_active(body):
            await self._freezes.release_all(body)
            return []
        context = await self.load(body)
        if context is None:
            return []
        results = _results(body.get("status") or {})
        before = dict(results)
        results = {name: _not_ahead(r, now) for name, r in results.items()}
        worked = False
        try:
            worked = await self._verify(context, results, now)
            for request in context.requests:
                current = results.get(request.name)
                if current is not None and current.state in m.DONE:
                    continue
                records = [r.record for r in results.values()]
                decision = m.gate(
                    request,
                    context.policy,
                    records,
                    approved=request.name in context.approved,
                    now=now,
                )
                if decision.kind is m.GateKind.OFF:
                    continue
                if decision.kind is not m.GateKind.GO:
                    await self._hold(context, request, decision, results, now)
                    continue
                ran = await self._execute(context, request, results, now, decision.dry_run)
                if ran:
                    break  # one change per tick: the next one waits for cooldown/verification
        finally:
            if results != before:
                await self._write(context, results)
        if worked:
            # After the write: whoever sees the incident mitigated sees why (verified).
            await self._settle(context)
        return list(results.values())

    async def _write(self, context: Context, results: Mapping[str, Result]) -> None:
        await self._store.patch_incident(
            context.namespace,
            context.name,
            status={"mitigations": [r.body() for r in results.values()][-32:]},
        )

    def _entry(self, kind: str, at: datetime, message: str, key: str) -> Body:
        return timeline.entry(at, kind, message, author=AUTHOR, source="mitigation", key=key)

    async def _timeline(self, context: Context, *entries: Body) -> None:
        await self._store.append_timeline(context.namespace, context.name, list(entries))

    async def _event(
        self, regarding: Body | None, reason: str, message: str, *, warning: bool = False
    ) -> None:
        if regarding is None:
            return
        try:  # an Event is a courtesy to kubectl describe; losing one must not stop the action
            await self._store.emit_event(regarding, reason, message, warning=warning)
        except IncidentOperatorError as exc:
            log.warning("could not record event %s: %s", reason, exc)

    async def _hold(
        self,
        context: Context,
        request: m.Request,
        decision: m.Gate,
        results: dict[str, Result],
        now: datetime,
    ) -> None:
        state = {
            m.GateKind.PENDING_APPROVAL: m.State.PENDING_APPROVAL,
            m.GateKind.WAITING: m.State.WAITING,
            m.GateKind.BLOCKED: m.State.BLOCKED,
        }[decision.kind]
        message = decision.message.replace("INCIDENT", context.name)
        current = results.get(request.name)
        if current is not None and current.state is state and current.message == message:
            return
        results[request.name] = self._result(request, state, message)
        if current is None or current.state is not state:
            kind = ENTRY_TYPE
            await self._timeline(
                context,
                self._entry(
                    kind, now, f"{request.name}: {message}", f"mitigation/{request.name}/{state}"
                ),
            )
            await self._event(
                context.incident,
                "MitigationSuggested" if state is m.State.PENDING_APPROVAL else "MitigationHeld",
                f"{request.name}: {message}",
                warning=state is m.State.BLOCKED,
            )

    def _result(self, request: m.Request, state: m.State, message: str, **extra: Any) -> Result:
        return Result(
            name=request.name,
            action=request.action.value,
            target=request.target.text,
            state=state,
            source=request.source.value,
            message=message,
            **extra,
        )

    async def _refuse(
        self,
        context: Context,
        request: m.Request,
        reason: str,
        *,
        target: Body | None,
        results: dict[str, Result],
        now: datetime,
    ) -> None:
        results[request.name] = self._result(request, m.State.REFUSED, reason, finished_at=now)
        await self._timeline(
            context,
            self._entry(
                ENTRY_TYPE,
                now,
                f"{request.name} refused: {reason}",
                f"mitigation/{request.name}/refused",
            ),
        )
        text = f"{request.name} ({request.action} {request.target.text}) refused: {reason}"
        await self._event(context.incident, "MitigationRefused", text, warning=True)
        await self._event(
            target, "MitigationRefused", f"incident {context.name}: {text}", warning=True
        )

    async def _execute(
        self,
        context: Context,
        request: m.Request,
        results: dict[str, Result],
        now: datetime,
        dry_run: bool,
    ) -> bool:
        """Plan and run one request; True when it changed (or is changing) something."""
        target = await self._workloads.get(request.target)
        if target is None:
            await self._refuse(
                context,
                request,
                f"{request.target.text} not found in {context.namespace}",
                target=None,
                results=results,
                now=now,
            )
            return False
        # Guard first (namespace, opt-in): a freeze is only ever for a target that passed it.
        refusal = m.guard_target(request, target, context.namespace, gitops_frozen=True)
        frozen = False
        if refusal is None and context.freeze_changes:
            outcome = await self._freezes.hold_for(
                context.incident,
                request.target,
                target,
                allowed=context.freeze_namespaces,
                dry_run=dry_run,
            )
            refusal = m.Refusal(outcome.refusal) if outcome.refusal else None
            frozen = outcome.frozen
        if refusal is None:
            refusal = m.guard_target(request, target, context.namespace, gitops_frozen=frozen)
        if refusal is not None:
            await self._refuse(
                context, request, refusal.reason, target=target, results=results, now=now
            )
            return False
        replicasets = (
            await self._workloads.replicasets_of(target)
            if request.action is m.ActionKind.ROLLBACK
            else []
        )
        planned = m.plan(request, target, replicasets, incident=context.name)
        previous = results.get(request.name)
        if isinstance(planned, m.Refusal):
            if planned.no_op and previous is not None and previous.state is m.State.RUNNING:
                # We crashed after the API accepted our change: it is applied, not a no-op.
                await self._applied(
                    context,
                    request,
                    previous,
                    summary=planned.reason,
                    target=target,
                    results=results,
                    now=now,
                )
                return True
            if planned.no_op:
                results[request.name] = self._result(
                    request, m.State.NO_OP, planned.reason, finished_at=now, dry_run=dry_run
                )
                await self._timeline(
                    context,
                    self._entry(
                        ENTRY_TYPE,
                        now,
                        f"{request.name} skipped: {planned.reason}",
                        f"mitigation/{request.name}/no-op",
                    ),
                )
                return False
            await self._refuse(
                context, request, planned.reason, target=target, results=results, now=now
            )
            return False
        if dry_run:
            try:
                await self._workloads.apply(planned, dry_run=True)
            except PermanentError as exc:
                await self._refuse(
                    context,
                    request,
                    f"server-side dry run: {exc}",
                    target=target,
                    results=results,
                    now=now,
                )
                return False
            message = f"dry run (nothing changed): would have {planned.summary}"
            results[request.name] = self._result(
                request, m.State.DRY_RUN, message, dry_run=True, started_at=now, finished_at=now
            )
            await self._timeline(
                context,
                self._entry(
                    ENTRY_TYPE,
                    now,
                    f"{request.name}: {message}",
                    f"mitigation/{request.name}/dry-run",
                ),
            )
            await self._event(context.incident, "MitigationDryRun", f"{request.name}: {message}")
            await self._event(target, "MitigationDryRun", f"incident {context.name}: {message}")
            return False
        undo = m.undo(request, target)
        running = self._result(
            request,
            m.State.RUNNING,
            planned.summary,
            started_at=now,
            undo=Mitigation.from_domain(undo).model_dump_json(by_alias=True, exclude_none=True)
            if undo is not None
            else "",
        )
        results[request.name] = running
        await self._write(context, results)  # before the change: a crash re-runs, never forgets
        try:
            await self._workloads.apply(planned, dry_run=False)
        except Conflict as exc:
            # Someone changed the spec since we looked: stay running, re-plan next tick.
            log.info("incident %s: %s; re-planning", context.name, exc)
            return True
        except PermanentError as exc:
            await self._refuse(
                context,
                request,
                f"the API server refused: {exc}",
                target=target,
                results=results,
                now=now,
            )
            return False
        await self._applied(
            context,
            request,
            running,
            summary=planned.summary,
            target=target,
            results=results,
            now=now,
        )
        return True

    async def _applied(
        self,
        context: Context,
        request: m.Request,
        running: Result,
        *,
        summary: str,
        target: Body,
        results: dict[str, Result],
        now: datetime,
    ) -> None:
        started: datetime = running.started_at or now
        verify_by: datetime | None = None
        if context.burn is not None:
            deadline = started + context.policy.verify_within
            verify_by = deadline
            message = (
                f"{summary}; verifying: the {context.burn.pair} short-window burn must fall "
                f"below {context.burn.factor:g}x by {iso(deadline)}"
            )
        else:
            message = f"{summary}; no SLO burn to verify against: confirm by hand"
        results[request.name] = replace(
            running, state=m.State.APPLIED, verify_by=verify_by, message=message
        )
        await self._timeline(
            context,
            self._entry(
                ENTRY_TYPE,
                started,
                f"{request.name} applied: {message}",
                f"mitigation/{request.name}/applied",
            ),
        )
        await self._event(context.incident, "MitigationApplied", f"{request.name}: {summary}")
        await self._event(target, "MitigationApplied", f"incident {context.name}: {summary}")

    async def _verify(self, context: Context, results: dict[str, Result], now: datetime) -> bool:
        """Judge applied actions against the burn; True when one of them worked."""
        worked = False
        for name, result in list(results.items()):
            if result.state is not m.State.APPLIED or result.verify_by is None:
                continue
            if context.burn is None:
                continue
            verification = m.verify(result.record, context.burn, now)
            if verification.verdict is m.Verdict.PENDING:
                continue
            if verification.verdict is m.Verdict.VERIFIED:
                results[name] = replace(
                    result,
                    state=m.State.VERIFIED,
                    finished_at=now,
                    message=f"{result.message.split('; verifying')[0]}; {verification.message}",
                )
                await self._mitigated(context, result, verification.message, now)
                worked = True
            else:
                reverted = ""
                if context.policy.revert_on_failure and result.undo:
                    reverted = "; " + await self._revert(context, result, now)
                results[name] = replace(
                    result,
                    state=m.State.FAILED,
                    finished_at=now,
                    message=f"{result.message.split('; verifying')[0]}; "
                    f"{verification.message}{reverted}",
                )
                text = f"{name} did not stop the burn: {verification.message}{reverted}"
                await self._timeline(
                    context,
                    self._entry(ENTRY_TYPE, now, text, f"mitigation/{name}/failed"),
                    self._entry(
                        "escalated",
                        now,
                        f"Mitigation {name} failed; the responders must take over.",
                        f"mitigation/{name}/escalated",
                    ),
                )
                await self._event(context.incident, "MitigationFailed", text, warning=True)
                await self._event(
                    await self._target_of(context, name),
                    "MitigationFailed",
                    f"incident {context.name}: {text}",
                    warning=True,
                )
        return worked

    async def _revert(self, context: Context, result: Result, now: datetime) -> str:
        """Undo a failed action (revertOnFailure); says what happened, never raises a refusal."""
        try:
            request = Mitigation.model_validate_json(result.undo).to_domain(
                context.namespace, m.Source.INCIDENT
            )
        except (ValidationError, ValueError):
            return "not reverted: the recorded undo is unreadable"
        target = await self._workloads.get(request.target)
        if target is None:
            return f"not reverted: {request.target.text} is gone"
        replicasets = (
            await self._workloads.replicasets_of(target)
            if request.action is m.ActionKind.ROLLBACK
            else []
        )
        planned = m.plan(request, target, replicasets, incident=context.name)
        if isinstance(planned, m.Refusal):
            return f"not reverted: {planned.reason}"
        try:
            await self._workloads.apply(planned, dry_run=False)
        except PermanentError as exc:
            return f"not reverted: the API server refused: {exc}"
        text = f"{result.name} reverted: {planned.summary}"
        await self._timeline(
            context, self._entry(ENTRY_TYPE, now, text, f"mitigation/{result.name}/reverted")
        )
        await self._event(context.incident, "MitigationReverted", text, warning=True)
        await self._event(target, "MitigationReverted", f"incident {context.name}: {text}")
        return f"reverted: {planned.summary}"

    async def _target_of(self, context: Context, name: str) -> Body | None:
        request = next((r for r in context.requests if r.name == name), None)
        return await self._workloads.get(request.target) if request is not None else None

    async def _mitigated(
        self, context: Context, result: Result, verified: str, now: datetime
    ) -> None:
        text = f"{result.name} ({result.action} {result.target}) worked: {verified}"
        await self._timeline(
            context,
            self._entry(ENTRY_TYPE, now, text, f"mitigation/{result.name}/verified"),
        )
        await self._event(context.incident, "MitigationVerified", text)
        await self._event(
            await self._target_of(context, result.name),
            "MitigationVerified",
            f"incident {context.name}: {text}",
        )

    async def _settle(self, context: Context) -> None:
        """Conclude mitigated (in status, never the spec Git owns) unless it is past that."""
        if phase_of(context.incident).value in MITIGATABLE_STATES:
            await self._lifecycle.conclude(
                context.namespace,
                context.name,
                Subject.STATE,
                Phase.MITIGATED.value,
                reason="MitigationVerified",
                message="a mitigation was verified: the burn it targeted stopped",
            )
