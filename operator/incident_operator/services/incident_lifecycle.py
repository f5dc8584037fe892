"""Use case: judge an incident's requested state and write what the operator accepted.

This is the one writer of an Incident's lifecycle status (phase, milestones, MTTx figures,
Ready and TransitionRefused conditions). Other writers (SLO engine, Alertmanager webhook)
own ``detected``/``declared`` and their timeline entries, so this service only ever
*merges*: the status goes out as a JSON merge patch holding just the keys it decides, and
timeline entries are merged by dedup key into the timeline of the body the write is guarded
by (or through ``append_timeline``), never a list overwrite. The entries that explain a
decision go in the same write as the decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from incident_operator.adapters.ports import (
    Body,
    Clock,
    NoOperatorMetrics,
    OperatorMetrics,
    ResourceStore,
)
from incident_operator.adapters.postmortem_ports import PostmortemStore
from incident_operator.api.v1alpha1.convert import merge_timeline
from incident_operator.domain import conclusions, lifecycle, timeline
from incident_operator.domain.times import parse_time
from incident_operator.errors import Conflict

from . import lifecycle_metrics
from .incidents import conclusion_of, intent_of, requested_state, severity_of
from .lifecycle_plan import TRANSITION_REFUSED, LifecyclePlan, plan_lifecycle, wants_rotation
from .lifecycle_status import entry
from .postmortem_creation import close_blocker
from .roles import ask_rotation

CONCLUDE_ATTEMPTS = 5


def merged_timeline(body: Mapping[str, Any], plan: LifecyclePlan, now: datetime) -> list[Body]:
    """What the survivor receives when this incident is merged into it (else nothing).

    Every entry of the merged incident, keyed ``merged/<name>/<key>`` so a repeat adds nothing
    and two merged incidents never collide, plus one ``merged-from`` entry saying where they
    came from. Sent only on the move itself; the merged incident keeps its own copy.
    """
    decision = plan.decision
    if not (
        isinstance(decision, lifecycle.Accepted)
        and decision.changed
        and decision.phase is lifecycle.Phase.MERGED
    ):
        return []
    name = str(body["metadata"]["name"])
    own = [e for e in (body.get("status") or {}).get("timeline") or [] if isinstance(e, dict)]
    own += list(plan.timeline)
    moved: list[Body] = [
        {
            **e,
            "message": f"[{name}] {e.get('message', '')}"[: timeline.MESSAGE_MAX],
            "key": f"merged/{name}/{e.get('key') or e.get('at')}"[: timeline.KEY_MAX],
        }
        for e in own
    ]
    moved.append(
        entry(
            now,
            "merged-from",
            f"Incident {name} was merged into this one; its {len(own)} timeline entries "
            "follow with their original times",
            f"merged-from/{name}",
        )
    )
    return moved


def _declared_at(body: Mapping[str, Any]) -> datetime | None:
    """The declaration instant: the stamp when present, else the object's creation."""
    status = body.get("status") or {}
    stamped = parse_time((status.get("timestamps") or {}).get("declared"))
    return stamped or parse_time((body.get("metadata") or {}).get("creationTimestamp"))


class IncidentLifecycleService:
    """Reads the Severity, plans, then writes status, timeline and the Warning Event."""

    def __init__(
        self,
        store: ResourceStore,
        clock: Clock,
        *,
        metrics: OperatorMetrics | None = None,
        postmortems: PostmortemStore | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._postmortems = postmortems
        self._metrics: OperatorMetrics = metrics if metrics is not None else NoOperatorMetrics()

    async def plan(self, body: Mapping[str, Any]) -> LifecyclePlan:
        """Read the incident's Severity and decide; nothing is written."""
        ref = severity_of(body)
        severity = await self._store.get_severity(ref) if ref else None
        now = self._clock.now()
        rotation = None
        if (name := wants_rotation(body, severity)) is not None:
            meta = body.get("metadata") or {}
            at = _declared_at(body) or now
            rotation = await ask_rotation(self._store, str(meta.get("namespace", "")), name, at)
        survivor = None
        spec = body.get("spec") or {}
        if spec.get("state") == lifecycle.Phase.MERGED.value and spec.get("mergedInto"):
            namespace = str((body.get("metadata") or {}).get("namespace", ""))
            survivor = await self._store.get_incident(namespace, str(spec["mergedInto"]))
        return plan_lifecycle(
            body,
            severity,
            now,
            rotation,
            merge_target_exists=survivor is not None,
            postmortem_blocking=await self._postmortem_blocking(body, severity),
        )

    async def _postmortem_blocking(
        self, body: Mapping[str, Any], severity: Body | None
    ) -> str | None:
        """Why closing must wait for the postmortem (only asked when closing is requested)."""
        status = body.get("status") or {}
        closing = lifecycle.Phase.CLOSED.value
        if self._postmortems is None or requested_state(body) != closing:
            return None
        if status.get("phase") == closing:
            return None
        ref = status.get("postmortemRef")
        namespace = str((body.get("metadata") or {}).get("namespace", ""))
        found = await self._postmortems.get_postmortem(namespace, str(ref)) if ref else None
        return close_blocker(body, severity, found)

    async def record(self, body: Mapping[str, Any], plan: LifecyclePlan) -> None:
        """The Warning Event and a merged incident's entries on its survivor; the status and
        this incident's own timeline entries are the caller's to write, in one request.

        The handler hands both to kopf so they land with kopf's own bookkeeping.
        """
        meta = body["metadata"]
        if plan.event is not None:
            await self._store.emit_event(dict(body), TRANSITION_REFUSED, plan.event, warning=True)
        moved = merged_timeline(body, plan, self._clock.now())
        if moved:
            survivor = str(body["spec"]["mergedInto"])
            await self._store.append_timeline(meta["namespace"], survivor, moved)
        lifecycle_metrics.report(self._metrics, body, plan.decision)

    async def conclude(
        self,
        namespace: str,
        name: str,
        subject: conclusions.Subject,
        value: str,
        *,
        reason: str,
        message: str,
    ) -> bool:
        """Record the operator's conclusion and judge it like a requested state, in one write.

        The conclusion goes to ``status.conclusions`` (never the spec humans and Git own),
        drawn over the spec's current value; the lifecycle then accepts it into the phase or
        severity with the same rules as a human's request (required roles, postmortem), and
        the write is conditional on the version read, so a human's concurrent change wins.
        False when the incident is gone.
        """
        for _ in range(CONCLUDE_ATTEMPTS):
            body = await self._store.get_incident(namespace, name)
            if body is None:
                return False
            intent = intent_of(body, subject)
            if subject is conclusions.Subject.STATE and lifecycle.is_past(
                intent, lifecycle.Phase(value)
            ):
                return True  # the human already went as far: their request stands
            drawn = conclusions.draw(intent, value, reason, message, self._clock.now())
            kept = conclusion_of(body, subject)
            if drawn is None and kept is None:
                return True  # the spec already says so
            if (
                drawn is not None
                and kept is not None
                and (kept.value, kept.over) == (drawn.value, drawn.over)
            ):
                return True  # concluded before: nothing new (no rewrite, no entry)
            stored = None if drawn is None else conclusions.to_status(drawn)
            status = dict(body.get("status") or {})
            held = {
                k: v
                for k, v in {**(status.get("conclusions") or {}), subject.value: stored}.items()
                if v is not None
            }
            judged = {**body, "status": {**status, "conclusions": held}}
            plan = await self.plan(judged)
            patch = dict(plan.status)
            patch["conclusions"] = {**(patch.get("conclusions") or {}), subject.value: stored}
            # The entries go in the same version-guarded write: merged on the body it guards.
            patch.update(merge_timeline(status, plan.timeline) or {})
            version = str((body.get("metadata") or {}).get("resourceVersion") or "") or None
            try:
                await self._store.patch_incident(
                    namespace, name, status=patch, resource_version=version
                )
            except Conflict:
                continue
            await self.record(judged, plan)
            return True
        raise Conflict(f"incident {namespace}/{name} kept changing; conclusion {value} not kept")

    async def reconcile(self, body: Mapping[str, Any]) -> LifecyclePlan:
        """Plan and write everything through the store (status included)."""
        plan = await self.plan(body)
        meta = body["metadata"]
        if plan.status:
            await self._store.patch_incident(meta["namespace"], meta["name"], status=plan.status)
        if plan.timeline:
            await self._store.append_timeline(meta["namespace"], meta["name"], plan.timeline)
        await self.record(body, plan)
        return plan
