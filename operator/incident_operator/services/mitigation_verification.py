"""Closing the loop on a mitigation: judge each applied action against the SLO's burn.

Verified: the incident is concluded ``mitigated`` (in status, the way the lifecycle accepts
a human's move); failed: it is escalated to the responders and, with ``revertOnFailure``,
the action is undone.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from pydantic import ValidationError

from incident_operator.adapters.ports import Body
from incident_operator.adapters.workloads_port import Workloads
from incident_operator.api.v1alpha1.mitigation import Mitigation
from incident_operator.domain import mitigation as m
from incident_operator.domain.conclusions import Subject
from incident_operator.domain.lifecycle import Phase
from incident_operator.domain.times import iso
from incident_operator.errors import PermanentError

from .incidents import Concluder, phase_of
from .mitigation_state import ENTRY_TYPE, Context, MitigationRecorder, Result, plan_now

MITIGATABLE_STATES = frozenset({"triage", "investigating"})
"""Phases from which a verified action concludes the incident mitigated."""

AWAITING_BURN = "; verifying once the SLO records its burn episode"
"""An action applied before the declaring SLO's status held its episode: without the burn
there was nothing to judge it by yet, and deciding "confirm by hand" then left it unverified
for good (and the incident never concluded mitigated) whenever the mitigation tick beat the
SLO's status write."""


NO_BURN = "; no SLO burn to verify against: confirm by hand"
"""An action applied on an incident no SLO declared: a person judges it."""


def verifying(summary: str, burn: m.Burn, deadline: datetime) -> str:
    """An applied action's message while it is being verified."""
    return (
        f"{summary}; verifying: the {burn.pair} short-window burn must fall "
        f"below {burn.factor:g}x by {iso(deadline)}"
    )


class MitigationVerifier:
    def __init__(
        self, workloads: Workloads, recorder: MitigationRecorder, lifecycle: Concluder
    ) -> None:
        self._workloads = workloads
        self._recorder = recorder
        self._lifecycle = lifecycle

    async def verify(self, context: Context, results: dict[str, Result], now: datetime) -> bool:
        """Judge applied actions against the burn; True when one of them worked."""
        worked = False
        for name in list(results):
            result = results[name]
            if result.state is not m.State.APPLIED or context.burn is None:
                continue
            if result.verify_by is None:
                if result.started_at is None:
                    continue
                # Applied before the SLO recorded its burn episode, which it has since:
                # verify against the deadline the action would have had.
                deadline = result.started_at + context.policy.verify_within
                summary = result.message.removesuffix(AWAITING_BURN).removesuffix(NO_BURN)
                result = replace(
                    result, verify_by=deadline, message=verifying(summary, context.burn, deadline)
                )
                results[name] = result
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
                await self._recorder.append(
                    context,
                    self._recorder.entry(ENTRY_TYPE, now, text, f"mitigation/{name}/failed"),
                    self._recorder.entry(
                        "escalated",
                        now,
                        f"Mitigation {name} failed; the responders must take over.",
                        f"mitigation/{name}/escalated",
                    ),
                )
                await self._recorder.event(context.incident, "MitigationFailed", text, warning=True)
                await self._recorder.event(
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
        planned = await plan_now(self._workloads, request, target, context.name)
        if isinstance(planned, m.Refusal):
            return f"not reverted: {planned.reason}"
        try:
            await self._workloads.apply(planned, dry_run=False)
        except PermanentError as exc:
            return f"not reverted: the API server refused: {exc}"
        text = f"{result.name} reverted: {planned.summary}"
        await self._recorder.append(
            context,
            self._recorder.entry(ENTRY_TYPE, now, text, f"mitigation/{result.name}/reverted"),
        )
        await self._recorder.event(context.incident, "MitigationReverted", text, warning=True)
        await self._recorder.event(target, "MitigationReverted", f"incident {context.name}: {text}")
        return f"reverted: {planned.summary}"

    async def _target_of(self, context: Context, name: str) -> Body | None:
        request = next((r for r in context.requests if r.name == name), None)
        return await self._workloads.get(request.target) if request is not None else None

    async def _mitigated(
        self, context: Context, result: Result, verified: str, now: datetime
    ) -> None:
        text = f"{result.name} ({result.action} {result.target}) worked: {verified}"
        await self._recorder.append(
            context,
            self._recorder.entry(ENTRY_TYPE, now, text, f"mitigation/{result.name}/verified"),
        )
        await self._recorder.event(context.incident, "MitigationVerified", text)
        await self._recorder.event(
            await self._target_of(context, result.name),
            "MitigationVerified",
            f"incident {context.name}: {text}",
        )

    async def settle(self, context: Context) -> None:
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
