"""Use case: run an incident's guarded mitigations and close the loop on the SLO's burn.

Every tick (handlers/mitigation.py) for one open incident:
load (incident, its SLO, its Severity) -> verify the action in flight against the SLO's latest
evaluation -> gate the next request (domain.mitigation.gate) -> plan it against the target as
it is now (domain) -> execute the plan (dry run or not) -> record in ``status.mitigations``,
the timeline (dedup keys) and Events on the incident and the target.

A verified action moves the incident to ``mitigated`` the way a human would: it sets
``spec.state`` and lets the lifecycle (the one writer of phase) accept it.

The verification is mitigation_verification.py; what a tick reads and writes (its context,
the result records, the recorder) is mitigation_state.py.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from incident_operator.adapters.ports import Body, Clock, ResourceStore
from incident_operator.adapters.workloads_port import Workloads
from incident_operator.api.v1alpha1.incident import SourceType
from incident_operator.api.v1alpha1.mitigation import Mitigation
from incident_operator.domain import mitigation as m
from incident_operator.errors import Conflict, PermanentError

from .freeze import FreezeService
from .incident_lifecycle import IncidentLifecycleService
from .incidents import Concluder, is_active
from .mitigation_state import (
    ENTRY_TYPE,
    Context,
    MitigationRecorder,
    Result,
    load_context,
    not_ahead,
    plan_now,
    results_of,
)
from .mitigation_verification import AWAITING_BURN, NO_BURN, MitigationVerifier, verifying

log = logging.getLogger(__name__)


def asks_for_mitigation(spec: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    """Something may be asked of this incident's mitigations: its own list, its SLO's, a
    workflow's request, or a change freeze to lift. Without any, a tick has nothing to do
    (and the handler's timer does not run: kopf re-checks on every change of the incident)."""
    return bool(
        spec.get("mitigations")
        or (spec.get("source") or {}).get("type") == SourceType.SLO.value
        or status.get("freezes")
        or (status.get("workflows") or {}).get("mitigations")
    )


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
        self._recorder = MitigationRecorder(store)
        self._verifier = MitigationVerifier(
            workloads, self._recorder, lifecycle or IncidentLifecycleService(store, clock)
        )

    async def reconcile(self, body: Body) -> list[Result]:
        """One tick for one incident; returns status.mitigations as written."""
        meta = body["metadata"]
        if not asks_for_mitigation(body.get("spec") or {}, body.get("status") or {}):
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
        context = await load_context(self._store, self._workloads, body)
        if context is None:
            return []
        results = results_of(body.get("status") or {})
        before = dict(results)
        results = {name: not_ahead(r, now) for name, r in results.items()}
        worked = False
        try:
            worked = await self._verifier.verify(context, results, now)
            await self._advance(context, results, now)
        finally:
            if results != before:
                await self._recorder.write(context, results)
        if worked:
            # After the write: whoever sees the incident mitigated sees why (verified).
            await self._verifier.settle(context)
        return list(results.values())

    async def _advance(self, context: Context, results: dict[str, Result], now: datetime) -> None:
        """Gate each open request in turn; hold the held ones, run the first that may go."""
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
            await self._recorder.append(
                context,
                self._recorder.entry(
                    kind, now, f"{request.name}: {message}", f"mitigation/{request.name}/{state}"
                ),
            )
            await self._recorder.event(
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
        await self._recorder.append(
            context,
            self._recorder.entry(
                ENTRY_TYPE,
                now,
                f"{request.name} refused: {reason}",
                f"mitigation/{request.name}/refused",
            ),
        )
        text = f"{request.name} ({request.action} {request.target.text}) refused: {reason}"
        await self._recorder.event(context.incident, "MitigationRefused", text, warning=True)
        await self._recorder.event(
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
        refusal = await self._guard(context, request, target, dry_run)
        if refusal is not None:
            await self._refuse(
                context, request, refusal.reason, target=target, results=results, now=now
            )
            return False
        planned = await plan_now(self._workloads, request, target, context.name)
        if isinstance(planned, m.Refusal):
            return await self._not_planned(
                context, request, planned, target=target, results=results, now=now, dry_run=dry_run
            )
        if dry_run:
            return await self._dry_run(
                context, request, planned, target=target, results=results, now=now
            )
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
        # Before the change: a crash re-runs it, never forgets it.
        await self._recorder.write(context, results)
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

    async def _guard(
        self, context: Context, request: m.Request, target: Body, dry_run: bool
    ) -> m.Refusal | None:
        """Why the target may not be changed, or None; freezes its GitOps owner when the
        Severity wants that (only ever for a target that passed the guard)."""
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
        return refusal

    async def _not_planned(
        self,
        context: Context,
        request: m.Request,
        planned: m.Refusal,
        *,
        target: Body,
        results: dict[str, Result],
        now: datetime,
        dry_run: bool,
    ) -> bool:
        """A request the plan refused: applied already (after a crash), a no-op, or refused."""
        previous = results.get(request.name)
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
            await self._recorder.append(
                context,
                self._recorder.entry(
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

    async def _dry_run(
        self,
        context: Context,
        request: m.Request,
        planned: m.Plan,
        *,
        target: Body,
        results: dict[str, Result],
        now: datetime,
    ) -> bool:
        """The API server's dry run of the plan, recorded as what would have changed."""
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
        await self._recorder.append(
            context,
            self._recorder.entry(
                ENTRY_TYPE,
                now,
                f"{request.name}: {message}",
                f"mitigation/{request.name}/dry-run",
            ),
        )
        await self._recorder.event(
            context.incident, "MitigationDryRun", f"{request.name}: {message}"
        )
        await self._recorder.event(
            target, "MitigationDryRun", f"incident {context.name}: {message}"
        )
        return False

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
            verify_by = started + context.policy.verify_within
            message = verifying(summary, context.burn, verify_by)
        elif context.slo is not None:
            # The SLO that declared it has not recorded its burn episode yet (this tick ran
            # between the declaration and the SLO's status write): the verifier starts the
            # verification once it has.
            message = f"{summary}{AWAITING_BURN}"
        else:
            message = f"{summary}{NO_BURN}"
        results[request.name] = replace(
            running, state=m.State.APPLIED, verify_by=verify_by, message=message
        )
        await self._recorder.append(
            context,
            self._recorder.entry(
                ENTRY_TYPE,
                started,
                f"{request.name} applied: {message}",
                f"mitigation/{request.name}/applied",
            ),
        )
        await self._recorder.event(
            context.incident, "MitigationApplied", f"{request.name}: {summary}"
        )
        await self._recorder.event(
            target, "MitigationApplied", f"incident {context.name}: {summary}"
        )
