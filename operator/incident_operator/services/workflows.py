"""Use case: run the workflows an incident can see, each step at most once.

Which workflows an incident sees: the IncidentWorkflows of its own namespace and every
ClusterIncidentWorkflow, nothing else (a tenant's workflow never reaches another namespace).
The index holds only workflows whose spec and CEL compiled; the others are Ready=False.

Order of writes, for exactly-once effects: the steps' effects (timeline entries carrying the
step key, label, severity and role edits that set a value), then ``status.workflows`` with
the done keys and the new snapshot, then the Events and the workflows' counts. A crash before the
status write recomputes the same keys and the effects dedup on them; a crash after it finds
the keys done.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from incident_operator.adapters.catalog_port import TeamWebhooks
from incident_operator.adapters.comms_ports import UserGroups
from incident_operator.adapters.expressions_port import Expressions
from incident_operator.adapters.ports import Body, Clock, ResourceStore
from incident_operator.adapters.postmortem_ports import ActionItems
from incident_operator.adapters.tickets_port import TicketRequest, TicketTracker
from incident_operator.adapters.workflows_port import RunTally, WorkflowStore
from incident_operator.api.v1alpha1.incident import Incident, IncidentStatus
from incident_operator.api.v1alpha1.severity import Severity
from incident_operator.api.v1alpha1.workflow import (
    ClusterIncidentWorkflow,
    IncidentWorkflow,
    WorkflowSpec,
    workflow_ref,
)
from incident_operator.domain import checklists, outbox, response, timeline
from incident_operator.domain import workflow_wait as waiting
from incident_operator.domain import workflows as wf
from incident_operator.domain.comms import IncidentSummary
from incident_operator.domain.deletion import deleting
from incident_operator.domain.tickets import workflow_marker
from incident_operator.domain.times import iso, parse_time
from incident_operator.errors import IncidentOperatorError, PermanentError, TemporaryError

from . import workflow_actions
from .catalog import CatalogService
from .comms_facts import CommsConfig, summary_of
from .workflow_actions import WorkflowWebhooks
from .workflow_follow_up import FOLLOW_UP, carry, follow_up_step
from .workflow_mitigation import ENTRY as MITIGATION
from .workflow_mitigation import describe as describe_mitigation
from .workflow_mitigation import request_record, with_requested
from .workflow_wait import room_for, wait_status, waits_of, waits_patch

log = logging.getLogger(__name__)

MODELS: dict[str, type[IncidentWorkflow] | type[ClusterIncidentWorkflow]] = {
    "IncidentWorkflow": IncidentWorkflow,
    "ClusterIncidentWorkflow": ClusterIncidentWorkflow,
}
CLUSTER_KIND = "ClusterIncidentWorkflow"
MESSAGE = "workflow-message"
NOTE = "workflow-note"
TICKET = "workflow-ticket"
PAGE = "workflow-page"
WEBHOOK = "workflow-webhook"
"""A sendWebhook step's delivery owed (on the timeline only; status.workflows.webhooks)."""
CHANNEL_MESSAGE = "workflow-channel-message"
"""A post to a named channel, on the timeline (not posted to the incident's channel)."""
CHECKLIST = "workflow-checklist"
MAX_PAGES = 32
"""Workflow pages an incident's status keeps (status.pager.workflowPages maxProperties)."""
SOURCE = "workflow"


def workflow_problems(spec: WorkflowSpec, expressions: Expressions) -> tuple[str, ...]:
    """Every CEL expression that does not compile, with its field path."""
    found = []
    for path, source in spec.expressions():
        problem = expressions.problem(source)
        if problem is not None:
            found.append(f"{path}: {problem}")
    return tuple(found)


def dry_run(
    workflow: wf.Workflow,
    body: Mapping[str, Any],
    severity: Mapping[str, Any] | None,
    now: datetime,
    expressions: Expressions,
    *,
    event: wf.Event | None = None,
) -> tuple[wf.Evaluation, wf.Evaluation | None]:
    """What the workflow does for the incident now, changing nothing; and, when no trigger
    fires now, the same judged as if one had (``event``, or its first trigger's)."""
    evaluate = evaluator(expressions, variables_of(body, severity))
    memory = memory_of(body)
    found = wf.evaluate_workflow(workflow, facts_of(body), memory, now, evaluate)
    now_plan = waiting.evaluation(found, waits_of(body), memory.done, now, evaluate)
    if now_plan.runs or not workflow.triggers:
        return now_plan, None
    event = event or workflow.triggers[0].event
    pretend = wf.Occurrence("dry-run", event, now, "as if it fired now")
    steps = tuple(
        wf.Step(wf.step_key(workflow.ref, "dry-run", i), i, a)
        for i, a in enumerate(workflow.actions)
    )
    verdict = evaluate(workflow.condition, pretend) if workflow.condition else wf.Verdict(True)
    steps = tuple(
        replace(s, verdict=evaluate(s.action.condition, pretend)) if s.action.condition else s
        for s in steps
    )
    run = wf.Run(workflow, wf.run_key(workflow.ref, "dry-run"), pretend, (event,), steps)
    matches = (wf.TriggerMatch(wf.Trigger(event), (pretend,), "as if it fired now"),)
    runs = (run,) if verdict.value else ()
    hypothetical = wf.Evaluation(workflow, matches, condition=verdict, runs=runs)
    return now_plan, hypothetical


def load_workflow(
    body: Mapping[str, Any], expressions: Expressions
) -> tuple[wf.Workflow | None, tuple[str, ...]]:
    """The domain workflow of an object, or None and why it cannot be used."""
    model_type = MODELS.get(str(body.get("kind")))
    if model_type is None:
        return None, (f"not a workflow: kind {body.get('kind')!r}",)
    try:
        model = model_type.model_validate({k: v for k, v in body.items() if k != "status"})
    except ValidationError as exc:
        return None, tuple(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
    problems = workflow_problems(model.spec, expressions)
    if problems:
        return None, problems
    meta = dict(body.get("metadata") or {})
    ref = workflow_ref(model.kind, meta)
    created = parse_time(meta.get("creationTimestamp"))
    found = model.spec.to_domain(
        wf.WorkflowRef(ref.kind, ref.namespace, ref.name, ref.uid, created)
    )
    return found, ()


def parse_workflow(body: Mapping[str, Any], expressions: Expressions) -> wf.Workflow | None:
    """The domain workflow of a watched object; None when it cannot be used."""
    return load_workflow(body, expressions)[0]


class WorkflowIndex:
    """The usable workflows by kind, namespace and name, fed by the watch."""

    def __init__(self, expressions: Expressions) -> None:
        self._expressions = expressions
        self._by_key: dict[tuple[str, str, str], wf.Workflow] = {}

    def observe(self, body: Mapping[str, Any], *, deleted: bool = False) -> None:
        meta = body.get("metadata") or {}
        key = (str(body.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))
        found = None if deleted else parse_workflow(body, self._expressions)
        if found is None:
            self._by_key.pop(key, None)
        else:
            self._by_key[key] = found

    def visible(self, namespace: str) -> list[wf.Workflow]:
        """The namespace's own workflows and the cluster's; never another namespace's."""
        return [
            w
            for (kind, ns, _), w in self._by_key.items()
            if kind == CLUSTER_KIND or (ns == namespace and ns)
        ]

    def by_id(self, workflow_id: str) -> wf.Workflow | None:
        """The usable workflow whose id (uid) the keys carry."""
        return next((w for w in self._by_key.values() if w.ref.id == workflow_id), None)

    def __len__(self) -> int:
        return len(self._by_key)


def _labels(body: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    raw = (body.get("metadata") or {}).get("labels") or {}
    return tuple(sorted((str(k), str(v)) for k, v in raw.items()))


def facts_of(body: Mapping[str, Any]) -> wf.Facts:
    status = body.get("status") or {}
    spec = body.get("spec") or {}
    declared = parse_time((status.get("timestamps") or {}).get("declared"))
    entries = []
    for raw in status.get("timeline") or []:
        at = parse_time(raw.get("at")) if isinstance(raw, dict) else None
        if at is not None:
            entries.append(
                wf.Entry(
                    at,
                    str(raw.get("type") or ""),
                    str(raw.get("key") or ""),
                    str(raw.get("source") or ""),
                )
            )
    updates = [(e.type, e.at) for e in entries]
    return wf.Facts(
        current=wf.Snapshot(
            phase=str(status.get("phase") or ""),
            severity=str(status.get("severity") or spec.get("severityRef") or ""),
            labels=_labels(body),
            roles=tuple(
                sorted((str(k), str(v)) for k, v in (status.get("roles") or {}).items() if v)
            ),
        ),
        declared=declared,
        last_update=response.last_update(declared, updates) if declared else None,
        entries=tuple(entries),
    )


def memory_of(body: Mapping[str, Any]) -> wf.Memory:
    raw = (body.get("status") or {}).get("workflows") or {}
    seen_raw = raw.get("seen")
    seen = None
    if isinstance(seen_raw, dict):
        seen = wf.Snapshot(
            phase=str(seen_raw.get("phase") or ""),
            severity=str(seen_raw.get("severity") or ""),
            labels=tuple(sorted((seen_raw.get("labels") or {}).items())),
            timeline_at=parse_time(seen_raw.get("timelineAt")),
            roles=tuple(sorted((seen_raw.get("roles") or {}).items())),
        )
    return wf.Memory(
        seen=seen,
        sequence=int(raw.get("sequence") or 0),
        done=frozenset(str(k) for k in raw.get("done") or []),
    )


def history_of(body: Mapping[str, Any]) -> wf.History:
    raw = (body.get("status") or {}).get("workflows") or {}
    runs = []
    for r in raw.get("runs") or []:
        at = parse_time(r.get("at"))
        if at is None:
            continue
        runs.append(
            wf.RunRecord(
                workflow=str(r.get("workflow", "")),
                key=str(r.get("key", "")),
                events=tuple(r.get("events") or ()),
                at=at,
                result=str(r.get("result", "")),
                actions=tuple(r.get("actions") or ()),
                message=str(r.get("message", "")),
            )
        )
    return wf.History(tuple(runs), int(raw.get("runsFolded") or 0), tuple(raw.get("done") or ()))


def variables_of(body: Mapping[str, Any], severity: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a workflow's CEL sees: incident, severity (trigger is added per occurrence)."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    source = spec.get("source") or {}
    sev_spec = (severity or {}).get("spec") or {}
    return {
        "incident": {
            "name": str(meta.get("name", "")),
            "namespace": str(meta.get("namespace", "")),
            "title": str(spec.get("title", "")),
            "summary": str(spec.get("summary", "")),
            "service": str(spec.get("service", "")),
            "severity": str(status.get("severity") or spec.get("severityRef") or ""),
            "phase": str(status.get("phase") or ""),
            "state": str(spec.get("state") or "triage"),
            "labels": {str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
            "roles": {str(k): str(v) for k, v in (status.get("roles") or {}).items() if v},
            "private": bool(spec.get("private", False)),
            "source": {
                "type": str(source.get("type", "manual")),
                "ref": str(source.get("ref", "")),
            },
        },
        "severity": {
            "name": str(((severity or {}).get("metadata") or {}).get("name", "")),
            "level": int(sev_spec.get("level") or 0),
            "displayName": str(sev_spec.get("displayName", "")),
        },
    }


def evaluator(expressions: Expressions, variables: Mapping[str, Any]) -> wf.Evaluate:
    def evaluate(source: str, occurrence: wf.Occurrence) -> wf.Verdict:
        trigger = {"event": occurrence.event.value, "detail": occurrence.detail}
        try:
            return wf.Verdict(expressions.evaluate(source, {**variables, "trigger": trigger}))
        except IncidentOperatorError as exc:
            return wf.Verdict(False, str(exc))

    return evaluate


def template_values(body: Mapping[str, Any], workflow: wf.Workflow) -> dict[str, str]:
    incident = variables_of(body, None)["incident"]
    keys = ("name", "namespace", "title", "severity", "phase", "service")
    return {**{k: incident[k] for k in keys}, "workflow": workflow.ref.name}


@dataclass
class Outcome:
    """What executing one run did."""

    record: wf.RunRecord
    done: list[str] = field(default_factory=list)
    applied: list[wf.Action] = field(default_factory=list)
    ran: int = 0
    errors: list[str] = field(default_factory=list)
    retry: bool = False
    """A step failed for a reason that may pass: it stays owed (and the snapshot stays)."""
    pages: dict[str, Body] = field(default_factory=dict)
    """``status.pager.workflowPages`` entries of the pages its steps triggered, by id."""
    invitees: list[str] = field(default_factory=list)
    """Slack users its invite steps added (to ``status.workflows.invitees``)."""
    channel_posts: dict[str, Body] = field(default_factory=dict)
    """``status.workflows.channelPosts`` entries its postMessage steps owe named channels."""
    checklists: dict[str, Body] = field(default_factory=dict)
    """``status.workflows.checklists`` entries its addChecklist steps added, by step key."""
    stop: bool = False
    """A stop step ran: later workflows do not run for the run's occurrences."""
    mitigations: dict[str, Body] = field(default_factory=dict)
    """``status.workflows.mitigations`` entries its mitigate steps requested, by name."""
    stopped_by: str = ""
    """It did not run: this earlier workflow's stop step ended it (nothing to report)."""
    conference: Body | None = None
    """``status.conference`` its startConference step started."""
    webhooks: dict[str, Body] = field(default_factory=dict)
    """``status.workflows.webhooks`` entries its sendWebhook steps owe, by id."""
    waits: dict[str, Body] = field(default_factory=dict)
    """``status.workflows.waits`` entries of the wait step it reached, by id."""
    waiting: datetime | None = None
    """It paused at a wait step: its later steps run at this time."""
    follow_ups: dict[str, Body] = field(default_factory=dict)
    """``status.workflows.followUps`` entries its createFollowUp steps recorded, by id."""


def snapshot_status(snapshot: wf.Snapshot, before: Mapping[str, Any]) -> Body:
    """``status.workflows.seen`` as a merge patch (a label or role no longer there is set to
    null)."""
    labels: dict[str, Any] = dict.fromkeys(before.get("labels") or {})
    labels.update(dict(snapshot.labels))
    roles: dict[str, Any] = dict.fromkeys(before.get("roles") or {})
    roles.update(dict(snapshot.roles))
    return {
        "phase": snapshot.phase,
        "severity": snapshot.severity,
        "labels": labels,
        "roles": roles,
        "timelineAt": iso(snapshot.timeline_at) if snapshot.timeline_at else None,
    }


def workflow_object(ref: wf.WorkflowRef) -> Body:
    """Enough of the workflow object for an Event about it."""
    meta: Body = {"name": ref.name, "namespace": ref.namespace}
    if ref.uid:
        meta["uid"] = ref.uid
    return {"apiVersion": "sre.dev/v1alpha1", "kind": ref.kind, "metadata": meta}


def run_status(record: wf.RunRecord) -> Body:
    out: Body = {
        "workflow": record.workflow,
        "key": record.key,
        "events": list(record.events),
        "at": iso(record.at),
        "result": record.result,
        "actions": list(record.actions),
    }
    if record.message:
        out["message"] = record.message[:1024]
    return out


def owed_effects(outcomes: Iterable[Outcome], raw: Mapping[str, Any]) -> tuple[Body, Body]:
    """What the runs' steps owe others, written with the done keys: the additions to
    ``status.workflows`` (channel posts, a map comms reads and only this writer adds to;
    invitees, a list only this writer sets, from the freshest body) and the workflow pages."""
    found = list(outcomes)
    owed: Body = {}
    posts = {k: v for o in found for k, v in o.channel_posts.items()}
    if posts:
        owed["channelPosts"] = posts
    checklists = {k: v for o in found for k, v in o.checklists.items()}
    if checklists:
        owed["checklists"] = checklists
    invited = [u for o in found for u in o.invitees]
    if invited:
        owed["invitees"] = list(dict.fromkeys([*(raw.get("invitees") or []), *invited]))
    mitigations: Body = {}
    for o in found:  # two runs of one look asking for one name: the first one's stands
        for k, v in o.mitigations.items():
            mitigations.setdefault(k, v)
    if mitigations:
        owed["mitigations"] = mitigations
    hooks = {k: v for o in found for k, v in o.webhooks.items()}
    if hooks:
        owed["webhooks"] = hooks
    return owed, {k: v for o in found for k, v in o.pages.items()}


def checklist_step(
    current: Mapping[str, Any], step: wf.Step, ref: wf.WorkflowRef, outcome: Outcome
) -> str:
    """Record an addChecklist step's tasks under its key (the checklist writer numbers them
    into status.tasks, services/checklists.py); its instructions stay in the workflow, read
    when the direct message is sent. The timeline's words for it."""
    action = step.action
    recorded = ((current.get("status") or {}).get("workflows") or {}).get("checklists") or {}
    if step.key not in recorded:
        if len(recorded) + len(outcome.checklists) >= checklists.MAX_CHECKLISTS:
            raise PermanentError(
                f"this incident holds {checklists.MAX_CHECKLISTS} workflow checklists already"
            )
        outcome.checklists[step.key] = {
            "role": action.role,
            "tasks": list(action.tasks),
            "instructions": bool(action.instructions),
            "workflow": f"{ref.display} {action.name}"[:256],
        }
    return f"Checklist for the {action.role}: {len(action.tasks)} task(s)"


def _recorded(
    current: Mapping[str, Any], step: wf.Step, ref: wf.WorkflowRef, outcome: Outcome
) -> tuple[str, str] | None:
    """Steps whose effect is a record in the incident's status, written with the done keys
    and acted on by another service: addChecklist (the checklist writer numbers the tasks)
    and mitigate (the mitigation service gates and runs it)."""
    action = step.action
    if action.type is wf.ActionType.ADD_CHECKLIST:
        return CHECKLIST, checklist_step(current, step, ref, outcome)
    if action.mitigation is None:
        return None
    asked = request_record(current, step, ref, outcome.mitigations)
    if asked is None:
        return None
    outcome.mitigations[asked[0]] = asked[1]
    return MITIGATION, describe_mitigation(action.mitigation, ref)


def conference_status(outcomes: Iterable[Outcome], now: datetime) -> Body:
    """``status.conference`` of the first bridge the runs started, written with the done keys
    (a crash before that write starts the same bridge again: the URL is the template's)."""
    started = next((o.conference for o in outcomes if o.conference), None)
    return {"conference": {**started, "startedAt": iso(now)}} if started else {}


REACHING = frozenset(
    {wf.ActionType.PAGE, wf.ActionType.SEND_WEBHOOK, wf.ActionType.START_CONFERENCE}
)
"""Steps that reach beyond the incident (a team's pager or endpoint, a bridge URL)."""


def step_records(
    body: Mapping[str, Any], outcomes: Iterable[Outcome], done: Iterable[str], carried: Body
) -> Body:
    """The ``status.workflows`` patches of waits (reached now, finished) and follow-ups
    (recorded now, or carried into the postmortem now)."""
    found = list(outcomes)
    out: Body = {}
    waits = waits_patch(body, {k: v for o in found for k, v in o.waits.items()}, done)
    if waits:
        out["waits"] = waits
    follow_ups = {**carried, **{k: v for o in found for k, v in o.follow_ups.items()}}
    if follow_ups:
        out["followUps"] = follow_ups
    return out


def paused(
    body: Mapping[str, Any],
    run: wf.Run,
    step: wf.Step,
    outcome: Outcome,
    *,
    now: datetime,
    reached: int,
) -> bool:
    """Whether ``step`` is a wait reached now (recorded in ``outcome``: the run pauses);
    a wait that is over is done like any step. ``reached``: the waits the runs before it
    in this look reached (the status keeps at most MAX_WAITS)."""
    if step.action.type is not wf.ActionType.WAIT or step.resume_at is not None:
        return False
    if not room_for(body, reached + len(outcome.waits)):
        raise PermanentError(f"this incident has {waiting.MAX_WAITS} paused runs already")
    wait = waiting.reached(step, run, now)
    outcome.waits[waiting.wait_id(step.key)] = wait_status(wait, run.workflow.ref.display)
    outcome.waiting = wait.resume_at
    return True


class WorkflowService:
    """Plans with the domain, executes through the ports, records in the incident's status."""

    def __init__(
        self,
        store: ResourceStore,
        workflow_store: WorkflowStore,
        expressions: Expressions,
        clock: Clock,
        index: WorkflowIndex,
        *,
        tracker: TicketTracker | None = None,
        catalog: CatalogService | None = None,
        groups: UserGroups | None = None,
        before_side_effect: Callable[[str, str], Awaitable[None]] | None = None,
        webhooks: TeamWebhooks | None = None,
        action_items: ActionItems | None = None,
    ) -> None:
        """``catalog``: the Teams and their routing keys, for ``page`` steps; ``groups``: the
        chat's user groups, for ``invite`` steps naming one; ``before_side_effect(namespace,
        name)`` runs before a page is opened (the deletion service holds the incident's
        finalizer there, so a deleted incident's page is resolved first)."""
        self._before_side_effect = before_side_effect
        self._action_items = action_items
        """createFollowUp: the incident's own Postmortem's action items."""
        self._catalog = catalog
        self._groups = groups
        self._tracker = tracker
        self._store = store
        self._workflow_store = workflow_store
        self._expressions = expressions
        self._clock = clock
        self.index = index
        self.webhooks = WorkflowWebhooks(store, clock, catalog, webhooks, self._summary)

    async def plan(
        self, body: Mapping[str, Any], workflows: Iterable[wf.Workflow] | None = None
    ) -> wf.Plan:
        """Every visible workflow's evaluation now (``workflows``: these instead)."""
        namespace = str((body.get("metadata") or {}).get("namespace", ""))
        chosen = list(workflows) if workflows is not None else self.index.visible(namespace)
        severity_name = variables_of(body, None)["incident"]["severity"]
        severity = await self._store.get_severity(severity_name) if severity_name else None
        variables = variables_of(body, severity)
        return waiting.plan(
            chosen,
            facts_of(body),
            memory_of(body),
            self._clock.now(),
            evaluator(self._expressions, variables),
            waits=waits_of(body),
        )

    async def run(self, body: Mapping[str, Any]) -> None:
        """Evaluate and execute; write status.workflows, Events and the workflows' counts."""
        namespace = str((body.get("metadata") or {}).get("namespace", ""))
        await self._deliver_owed(body)
        if not self.index.visible(namespace):
            return  # nothing to remember either: no write for incidents no workflow sees
        plan = await self.plan(body)
        if plan.runs:  # act only on the freshest state: the event's body may predate our write
            meta = body.get("metadata") or {}
            fresh = await self._store.get_incident(str(meta.get("namespace")), str(meta["name"]))
            if fresh is None:
                return
            body = fresh
            plan = await self.plan(body)
        memory = memory_of(body)
        judged = [k for k in plan.judged if k not in memory.done]
        unchanged = memory.seen == plan.snapshot and memory.sequence == plan.sequence
        carried = await carry(body, self._action_items)  # follow-ups a fresh draft lacks
        if not plan.runs and not judged and unchanged and not carried:
            return
        now = self._clock.now()
        outcomes = await self._execute_all(body, plan.runs, now)
        retry = any(o.retry for o in outcomes)
        applied = [a for o in outcomes for a in o.applied]
        snapshot = wf.with_effects(plan.snapshot, applied)
        done = [k for o in outcomes for k in o.done] + ([] if retry else judged)
        history = wf.remember(history_of(body), [o.record for o in outcomes], done)
        raw = (body.get("status") or {}).get("workflows") or {}
        status: Body = {
            "done": list(history.done),
            "runs": [run_status(r) for r in history.runs],
            "runsFolded": history.folded,
        }
        owed, pages = owed_effects(outcomes, raw)
        status.update(owed)
        status.update(step_records(body, outcomes, done, carried))
        if not retry:  # else the same occurrences must come round again for the owed steps
            status["seen"] = snapshot_status(snapshot, raw.get("seen") or {})
            status["sequence"] = plan.sequence
        meta = body["metadata"]
        written: Body = {"workflows": status}
        if pages:  # with the done keys: a crash before this write re-pages on the same key
            written["pager"] = {"workflowPages": pages}
        written.update(conference_status(outcomes, now))
        after = await self._store.patch_incident(meta["namespace"], meta["name"], status=written)
        if owed.get("webhooks"):  # delivered now, through the outbox (attempt, then POST)
            await self.webhooks.deliver(after)
        for run, outcome in zip(plan.runs, outcomes, strict=True):
            if not outcome.stopped_by:  # a stopped run did nothing: no Event, no count
                await self._report(body, run, outcome, now)

    async def _deliver_owed(self, body: Mapping[str, Any]) -> None:
        """The webhooks an earlier run owes (its workflow may be gone since), from a fresh read."""
        if self.webhooks.due(body):
            meta = body["metadata"]
            fresh = await self._store.get_incident(str(meta["namespace"]), str(meta["name"]))
            if fresh is not None:
                await self.webhooks.deliver(fresh)

    async def _execute_all(
        self, body: Mapping[str, Any], runs: Iterable[wf.Run], now: datetime
    ) -> list[Outcome]:
        """Each run in the plan's order; a run whose occurrences an earlier stop step ended is
        recorded as stopped, its steps done (so it never runs for them later either)."""
        outcomes = []
        stopped: dict[str, str] = {}
        for run in runs:
            by = wf.stopped_by(run, stopped)
            if by:
                record = wf.RunRecord(
                    workflow=run.workflow.ref.display,
                    key=run.key,
                    events=tuple(e.value for e in run.events),
                    at=now,
                    result="stopped",
                    message=f"stopped by {by}",
                )
                done = [s.key for s in run.pending]
                outcomes.append(Outcome(record, done=done, stopped_by=by))
                continue
            reached = sum(len(o.waits) for o in outcomes)
            outcome = await self._execute(body, run, now, reached=reached)
            body = with_requested(body, outcome.mitigations)  # seen by the later runs
            if outcome.stop:
                stopped.update(dict.fromkeys(run.occurrences, run.workflow.ref.display))
            outcomes.append(outcome)
        return outcomes

    async def _execute(
        self, body: Mapping[str, Any], run: wf.Run, now: datetime, *, reached: int = 0
    ) -> Outcome:
        """Run's pending steps in order, up to a wait step reached now (``reached``: the
        waits the runs before it in this look reached)."""
        meta = body["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        outcome = Outcome(wf.RunRecord(run.workflow.ref.display, run.key, (), now, ""))
        entries: list[Body] = []
        stopped = False
        values = template_values(body, run.workflow)
        for step in run.pending:
            if stopped or not step.runs:
                if step.verdict is not None and step.verdict.error and not stopped:
                    outcome.errors.append(f"{step.action.name}: if: {step.verdict.error}")
                    stopped = not step.action.continue_on_error
                outcome.done.append(step.key)
                continue
            try:
                if paused(body, run, step, outcome, now=now, reached=reached):
                    break  # the later steps run when the timer finds the wait over
                await self._act(
                    step,
                    current=body,
                    ref=run.workflow.ref,
                    values=values,
                    entries=entries,
                    outcome=outcome,
                    now=now,
                )
            except TemporaryError as exc:
                outcome.errors.append(f"{step.action.name}: {exc}")
                outcome.retry = True
                break
            except IncidentOperatorError as exc:
                outcome.errors.append(f"{step.action.name}: {exc}")
                outcome.done.append(step.key)
                stopped = not step.action.continue_on_error
                continue
            outcome.done.append(step.key)
            outcome.applied.append(step.action)
            outcome.ran += 1
        if entries:
            await self._store.append_timeline(namespace, name, entries)
        result = "succeeded" if not outcome.errors else ("partial" if outcome.ran else "failed")
        message = "; ".join(outcome.errors)
        if outcome.waiting is not None:
            result = "waiting" if not outcome.errors else result
            message = "; ".join([*outcome.errors, f"waiting until {iso(outcome.waiting)}"])
        outcome.record = wf.RunRecord(
            workflow=run.workflow.ref.display,
            key=run.key,
            events=tuple(e.value for e in run.events),
            at=now,
            result=result,
            actions=tuple(s.action.name for s in run.pending if s.action in outcome.applied),
            message=message[:1024],
        )
        return outcome

    async def _act(
        self,
        step: wf.Step,
        *,
        current: Mapping[str, Any],
        ref: wf.WorkflowRef,
        values: Mapping[str, str],
        entries: list[Body],
        outcome: Outcome,
        now: datetime,
    ) -> None:
        """Execute one step; what it says on the timeline is added to ``entries``."""
        said = await self._effect(step, current=current, ref=ref, values=values, outcome=outcome)
        if said is not None:
            kind, text = said
            entries.append(
                timeline.entry(now, kind, text, source=SOURCE, key=step.key, author=ref.display)
            )

    async def _effect(
        self,
        step: wf.Step,
        *,
        current: Mapping[str, Any],
        ref: wf.WorkflowRef,
        values: Mapping[str, str],
        outcome: Outcome,
    ) -> tuple[str, str] | None:
        """The step's effect; its timeline entry (type, text), if it has one."""
        action = step.action
        namespace, name = str(current["metadata"]["namespace"]), str(current["metadata"]["name"])
        if action.type is wf.ActionType.POST_MESSAGE and action.channel:
            text = wf.render(action.text, values)
            await self._channel_post(current, step, ref, text, outcome)
            await workflow_actions.record_card(self._store, current, step, values)
            return CHANNEL_MESSAGE, f"To {action.channel}: {text}"
        if action.type is wf.ActionType.POST_MESSAGE and action.card is not None:
            await workflow_actions.record_card(self._store, current, step, values)
            return MESSAGE, wf.render(action.text, values)
        if action.type in REACHING:
            return await self._reach(step, current=current, ref=ref, values=values, outcome=outcome)
        if action.type in (wf.ActionType.POST_MESSAGE, wf.ActionType.ADD_NOTE):
            kind = MESSAGE if action.type is wf.ActionType.POST_MESSAGE else NOTE
            return kind, wf.render(action.text, values)
        if action.type is wf.ActionType.CREATE_TICKET:
            return TICKET, await self._ticket(namespace, name, step, ref.display, values)
        if action.type is wf.ActionType.STOP:
            outcome.stop = True
            return None
        if action.type is wf.ActionType.CREATE_FOLLOW_UP:
            text = await follow_up_step(
                current,
                step,
                workflow=f"{ref.display} {action.name}",
                values=values,
                now=self._clock.now(),
                items=self._action_items,
                recorded=outcome.follow_ups,
            )
            return FOLLOW_UP, text
        if action.type is wf.ActionType.INVITE:
            await self._invite(current, action, outcome)
            return None
        if action.type in (wf.ActionType.ADD_CHECKLIST, wf.ActionType.MITIGATE):
            return _recorded(current, step, ref, outcome)
        await self._edit(namespace, name, action, current)
        return None

    async def _reach(
        self,
        step: wf.Step,
        *,
        current: Mapping[str, Any],
        ref: wf.WorkflowRef,
        values: Mapping[str, str],
        outcome: Outcome,
    ) -> tuple[str, str] | None:
        """page, sendWebhook and startConference (services/workflow_actions.py): what reaches
        beyond the incident, owed with the done keys and delivered after them."""
        action = step.action
        if action.type is wf.ActionType.PAGE:
            paged = await self._page(current, step, ref, values)
            if paged is None:
                return None
            page_id, page = paged
            outcome.pages[page_id] = page
            return PAGE, f"Paged team {page['team']} ({action.name} of {ref.display})"
        if action.type is wf.ActionType.START_CONFERENCE:
            started, url = workflow_actions.conference(current, step, ref, values)
            if started is None or outcome.conference is not None:
                return None  # one bridge per incident: the first one started stays
            outcome.conference = started
            return workflow_actions.CONFERENCE, f"Conference bridge: {url}"
        if not self.webhooks.enabled:
            raise PermanentError("Team webhooks are not read (no catalog Secret namespace)")
        owed = await workflow_actions.owe_webhook(
            self._catalog, current, step, ref, outcome.webhooks
        )
        if owed is None:
            return None
        ident, record = owed
        outcome.webhooks[ident] = record
        return WEBHOOK, (
            f"Webhook {record['webhook']} of team {record['team']} owed the incident summary "
            "(delivered once through the outbox)"
        )

    async def _edit(
        self, namespace: str, name: str, action: wf.Action, current: Mapping[str, Any]
    ) -> None:
        """setLabels, setSeverity and setRoles: set a value unless it is there already, as a
        person's edit (``edit_incident`` refuses a field Git applied: the step fails, saying
        so)."""
        if action.type is wf.ActionType.SET_LABELS:
            have = (current.get("metadata") or {}).get("labels") or {}
            if any(have.get(k) != v for k, v in action.labels):  # else done already
                labels: Body = {"metadata": {"labels": dict(action.labels)}}
                await self._store.edit_incident(namespace, name, labels)
        elif (
            action.type is wf.ActionType.SET_SEVERITY
            and (current.get("spec") or {}).get("severityRef") != action.severity
        ):
            severity: Body = {"spec": {"severityRef": action.severity}}
            await self._store.edit_incident(namespace, name, severity)
        elif action.type is wf.ActionType.SET_ROLES:
            have = ((current.get("spec") or {}).get("roles")) or {}
            if any(have.get(k) != v for k, v in action.roles):  # else done already
                roles: Body = {"spec": {"roles": dict(action.roles)}}
                await self._store.edit_incident(namespace, name, roles)

    async def _invite(
        self, current: Mapping[str, Any], action: wf.Action, outcome: Outcome
    ) -> None:
        """Owe the channel the step's people (the comms outbox invites each once)."""
        recorded = ((current.get("status") or {}).get("workflows") or {}).get("invitees")
        users = [*action.users, *await self._group(action.user_group)]
        merged = wf.invitees([*(recorded or []), *outcome.invitees], users)
        if isinstance(merged, str):
            raise PermanentError(merged)
        fresh = set(merged) - set(outcome.invitees)
        outcome.invitees.extend(u for u in users if u in fresh and u not in outcome.invitees)

    async def _ticket(
        self, namespace: str, name: str, step: wf.Step, author: str, values: Mapping[str, str]
    ) -> str:
        """The step's ticket, found by its marker (a retry adopts it) or created."""
        if self._tracker is None:
            raise PermanentError("no ticket tracker is configured (Jira or GitHub)")
        action = step.action
        footer = f"Incident {namespace}/{name}, opened by {author}."
        description = wf.render(action.description, values)
        request = TicketRequest(
            title=wf.render(action.text, values),
            description=f"{description}\n\n{footer}" if description else footer,
            labels=("incident-operator", f"incident-{name}"),
            marker=workflow_marker(step.key),
        )
        ticket = await self._tracker.find(request)
        if ticket is None:
            ticket = await self._tracker.create(request)
        return f"Ticket {ticket.ref}: {ticket.url}"

    async def _channel_post(
        self,
        current: Mapping[str, Any],
        step: wf.Step,
        ref: wf.WorkflowRef,
        text: str,
        outcome: Outcome,
    ) -> None:
        """Owe the post to its named channel (the comms outbox delivers it once), on the
        workflow's authority (``wf.channel_refusal``)."""
        channel = step.action.channel
        namespace = str(current["metadata"]["namespace"])
        private = bool((current.get("spec") or {}).get("private", False))
        teams = (
            await self._catalog.teams() if ref.namespace and self._catalog and not private else []
        )
        refusal = wf.channel_refusal(
            ref, channel, private=private, teams=teams, namespace=namespace
        )
        if refusal:
            raise PermanentError(refusal)
        recorded = ((current.get("status") or {}).get("workflows") or {}).get("channelPosts")
        post = wf.short_hash(step.key)
        if post in (recorded or {}):
            return
        if len(recorded or {}) + len(outcome.channel_posts) >= wf.MAX_CHANNEL_POSTS:
            raise PermanentError(f"this incident owes {wf.MAX_CHANNEL_POSTS} channel posts already")
        workflow = f"{ref.display} {step.action.name}"[:256]
        outcome.channel_posts[post] = {"channel": channel, "text": text, "workflow": workflow}

    async def _group(self, group: str) -> tuple[str, ...]:
        """The members of a Slack user group (none asked for: none)."""
        if not group:
            return ()
        if self._groups is None:
            raise PermanentError(f"no chat is configured to look up user group {group}")
        return await self._groups.group_members(group)

    async def _page(
        self,
        current: Mapping[str, Any],
        step: wf.Step,
        ref: wf.WorkflowRef,
        values: Mapping[str, str],
    ) -> tuple[str, Body] | None:
        """Trigger the step's page on the Team's key, on the workflow's authority (the domain's
        ``page_route``); None when its record shows it paged already. Its status record is
        written with the done keys: a crash in between triggers again on the same dedup key,
        which PagerDuty appends to the open alert (one page, as the outbox's unconfirmed
        trigger relies on)."""
        action = step.action
        meta = current["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        status = current.get("status") or {}
        key = wf.page_dedup_key(ref, step, namespace, name)
        page_id = wf.short_hash(key)
        recorded = (status.get("pager") or {}).get("workflowPages") or {}
        if page_id in recorded:
            return None
        if len(recorded) >= MAX_PAGES:
            raise PermanentError(f"this incident has {MAX_PAGES} workflow pages already")
        phase = str(status.get("phase") or "")
        if phase not in outbox.PAGED_PHASES:
            raise PermanentError(f"the incident is {phase or 'not accepted yet'}: nothing to page")
        if self._catalog is None or not self._catalog.pages:
            raise PermanentError("team routing keys are not read (no catalog Secret namespace)")
        route = wf.page_route(ref, action, await self._catalog.team(action.team), namespace)
        if isinstance(route, str):
            raise PermanentError(route)
        pager = await self._catalog.route_pager(route)
        if pager is None:
            raise PermanentError(f"team {route.team}'s routing key cannot be read")
        if deleting(current):
            raise PermanentError("the incident is being deleted: nothing to page")
        if self._before_side_effect is not None:
            await self._before_side_effect(namespace, name)
        summary = await self._summary(current)
        line = wf.render(action.text, values) if action.text else ""
        who = f"team {route.team}"
        summary = replace(
            summary,
            title=f"[{who}, {ref.display}] {summary.title}",
            summary="\n\n".join(t for t in (line, summary.summary) if t),
        )
        await pager.trigger(summary, dedup_key=key, urgency="high")
        record: Body = {
            "dedupKey": key,
            "state": "triggered",
            "team": route.team,
            "workflow": f"{ref.display} {action.name}"[:256],
        }
        if route.route:
            record["route"] = route.route
        return page_id, record

    async def _summary(self, current: Mapping[str, Any]) -> IncidentSummary:
        try:
            incident = Incident.model_validate({k: v for k, v in current.items() if k != "status"})
            status = IncidentStatus.model_validate(current.get("status") or {})
        except ValidationError as exc:
            raise PermanentError(
                f"the incident does not validate: {exc.error_count()} errors"
            ) from exc
        severity_body = await self._store.get_severity(
            status.severity or incident.spec.severity_ref
        )
        try:
            severity = Severity.model_validate(severity_body) if severity_body else None
        except ValidationError:
            severity = None
        return summary_of(incident, status, severity, CommsConfig())

    async def _report(
        self, body: Mapping[str, Any], run: wf.Run, outcome: Outcome, now: datetime
    ) -> None:
        record = outcome.record
        trigger = run.occurrence.detail or run.occurrence.event.value
        message = f"{record.workflow} ran {outcome.ran} action(s) on {trigger}: {record.result}"
        if record.message:
            message += f" ({record.message})"
        meta = body["metadata"]
        reason = "WorkflowRan" if not outcome.errors else "WorkflowFailed"
        ref = run.workflow.ref
        try:
            await self._store.emit_event(dict(body), reason, message, warning=bool(outcome.errors))
            if ref.namespace:  # the workflow's own Event, in its (the incident's) namespace
                about = f"incident {meta['name']}: {message}"
                await self._store.emit_event(
                    workflow_object(ref), reason, about, warning=bool(outcome.errors)
                )
            await self._workflow_store.record(
                run.workflow.ref,
                RunTally(
                    runs=0 if any(s.resume_at for s in run.steps) else 1,  # counted at its start
                    actions=outcome.ran,
                    errors=len(outcome.errors),
                    at=now,
                    incident=f"{meta['namespace']}/{meta['name']}",
                    last_error="; ".join(outcome.errors),
                ),
            )
        except IncidentOperatorError as exc:  # reporting must not undo or repeat the run
            log.warning("workflow report for %s failed: %s", record.workflow, exc)
