"""What one mitigation tick works with: the ``Context`` it decides from (``load_context``),
the ``Result`` records of ``status.mitigations``, and the ``MitigationRecorder`` that writes
them, the timeline entries and the Events.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from incident_operator.adapters.ports import Body, ResourceStore
from incident_operator.adapters.workloads_port import Workloads
from incident_operator.api.v1alpha1.incident import Incident, MitigationResult, SourceType
from incident_operator.api.v1alpha1.mitigation import MitigationPolicy
from incident_operator.api.v1alpha1.severity import Severity
from incident_operator.api.v1alpha1.slo import ServiceLevelObjective
from incident_operator.domain import mitigation as m
from incident_operator.domain import timeline
from incident_operator.errors import IncidentOperatorError
from incident_operator.services.incidents import severity_of

from .incidents import AUTHOR, is_active
from .workflow_mitigation import workflow_requests

log = logging.getLogger(__name__)


SLO_KIND = ("sre.dev/v1alpha1", "ServiceLevelObjective")


ENTRY_TYPE = "mitigation"
"""Timeline type of every mitigation step (the comms layer posts it to the incident channel);
the step itself is the last part of the entry's key (applied, verified, refused ...)."""


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


def not_ahead(result: Result, now: datetime) -> Result:
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


def results_of(status: Mapping[str, Any]) -> dict[str, Result]:
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


async def load_context(store: ResourceStore, workloads: Workloads, body: Body) -> Context | None:
    """None when there is nothing to mitigate (closed, unreadable, nothing requested)."""
    if not is_active(body):
        return None
    try:
        incident = Incident.model_validate({k: v for k, v in body.items() if k != "status"})
    except ValidationError:
        return None
    meta = body["metadata"]
    namespace, name = str(meta["namespace"]), str(meta["name"])
    slo_body, slo = await _declaring_slo(workloads, incident, namespace, name)
    requests = [mit.to_domain(namespace, m.Source.INCIDENT) for mit in incident.spec.mitigations]
    if slo is not None:
        requests += [mit.to_domain(namespace, m.Source.SLO) for mit in slo.spec.mitigations]
    requests += workflow_requests(body.get("status") or {}, namespace)
    if not requests:
        return None
    auto_allowed, freeze_changes, freeze_namespaces = await _allowance(store, body)
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


async def _declaring_slo(
    workloads: Workloads, incident: Incident, namespace: str, name: str
) -> tuple[Body | None, ServiceLevelObjective | None]:
    """The SLO that declared the incident (its object and its model; the model None when
    unreadable), or (None, None) for an incident no SLO declared."""
    if incident.spec.source.type is not SourceType.SLO or not incident.spec.source.ref:
        return None, None
    slo_body = await workloads.get(m.Target(*SLO_KIND, namespace, incident.spec.source.ref))
    if slo_body is None:
        return None, None
    try:
        return slo_body, ServiceLevelObjective.model_validate(slo_body)
    except ValidationError as exc:
        log.warning("incident %s/%s: unreadable SLO: %s", namespace, name, exc)
        return slo_body, None


async def _allowance(store: ResourceStore, body: Body) -> tuple[bool, bool, frozenset[str]]:
    """What the Severity allows: (automatic actions, change freezes, freeze namespaces);
    nothing when it is missing or unreadable."""
    severity_body = await store.get_severity(severity_of(body))
    if severity_body is None:
        return False, False, frozenset()
    try:
        allowance = Severity.model_validate(severity_body).spec.mitigation
    except ValidationError:
        return False, False, frozenset()
    return (
        allowance.auto_allowed,
        allowance.freeze_changes,
        frozenset(allowance.freeze_namespaces),
    )


class MitigationRecorder:
    """Writes a tick's outcome: ``status.mitigations``, timeline entries, Events."""

    def __init__(self, store: ResourceStore) -> None:
        self._store = store

    async def write(self, context: Context, results: Mapping[str, Result]) -> None:
        await self._store.patch_incident(
            context.namespace,
            context.name,
            status={"mitigations": [r.body() for r in results.values()][-32:]},
        )

    def entry(self, kind: str, at: datetime, message: str, key: str) -> Body:
        return timeline.entry(at, kind, message, author=AUTHOR, source="mitigation", key=key)

    async def append(self, context: Context, *entries: Body) -> None:
        """Append ``entries`` to the incident's timeline."""
        await self._store.append_timeline(context.namespace, context.name, list(entries))

    async def event(
        self, regarding: Body | None, reason: str, message: str, *, warning: bool = False
    ) -> None:
        if regarding is None:
            return
        try:  # an Event is a courtesy to kubectl describe; losing one must not stop the action
            await self._store.emit_event(regarding, reason, message, warning=warning)
        except IncidentOperatorError as exc:
            log.warning("could not record event %s: %s", reason, exc)


async def plan_now(
    workloads: Workloads, request: m.Request, target: Body, incident: str
) -> m.Plan | m.Refusal:
    """``m.plan`` against ``target`` as it is now; a rollback also reads its ReplicaSets."""
    replicasets = (
        await workloads.replicasets_of(target) if request.action is m.ActionKind.ROLLBACK else []
    )
    return m.plan(request, target, replicasets, incident=incident)
