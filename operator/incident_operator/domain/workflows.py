"""Workflows: which triggers fired for one incident, whether to act, and the keyed steps to run.

Pure: the incident's facts, what the workflow layer remembered of it (the last snapshot, the
keys of the steps already done), ``now`` and a condition evaluator come in; a plan comes out.

Exactly once: every step has a deterministic key, workflow id + trigger occurrence + step
index. A change occurrence is named by the sequence number the change gets (the remembered
snapshot and its sequence are written with the done keys in one status write), so a restart
before that write recomputes the same keys, and the effects dedup on them (timeline entries
carry the key; setting a label or severity to a value is idempotent). Two triggers of one
workflow firing on the same change share the occurrence and so act once. A workflow set to
run once per incident uses one occurrence for all of them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from string import Template

from .catalog import PageRoute, TeamEntry
from .mitigation import Request
from .paging import dedup_key
from .workflow_actions import Card

TERMINAL_PHASES = frozenset({"closed", "declined", "merged"})
MAX_DONE = 512
"""Done keys kept in the incident's status (oldest dropped first)."""
MAX_RUNS = 50
"""Runs kept in the incident's run history (older ones are counted in runsFolded)."""
SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,20}$")
"""A Slack user id, as status.workflows.invitees admits it."""
MAX_CHANNEL_POSTS = 16
"""Posts to named channels the workflows may owe one incident (status.workflows.channelPosts)."""
MAX_INVITEES = 100
"""People the workflows may ask to be in an incident's channel (status.workflows.invitees)."""
"""Runs kept in the incident's run history (older ones are counted in runsFolded)."""


class Event(StrEnum):
    DECLARED = "declared"
    PHASE_CHANGED = "phaseChanged"
    SEVERITY_CHANGED = "severityChanged"
    LABEL_CHANGED = "labelChanged"
    ROLE_CHANGED = "roleChanged"
    TIMELINE_ENTRY = "timelineEntry"
    NO_UPDATE = "noUpdate"
    SLO_BURN = "sloBurn"
    ALERT_GROUP = "alertGroup"
    POSTMORTEM_CHANGED = "postmortemChanged"
    ACTION_ITEM_OVERDUE = "actionItemOverdue"


class ActionType(StrEnum):
    POST_MESSAGE = "postMessage"
    ADD_NOTE = "addNote"
    SET_LABELS = "setLabels"
    SET_SEVERITY = "setSeverity"
    CREATE_TICKET = "createTicket"
    PAGE = "page"
    INVITE = "invite"
    STOP = "stop"
    ADD_CHECKLIST = "addChecklist"
    MITIGATE = "mitigate"
    SEND_WEBHOOK = "sendWebhook"
    START_CONFERENCE = "startConference"
    WAIT = "wait"
    CREATE_FOLLOW_UP = "createFollowUp"
    SET_ROLES = "setRoles"


class Repeat(StrEnum):
    ONCE_PER_INCIDENT = "oncePerIncident"
    EVERY_TRIGGER = "everyTrigger"


@dataclass(frozen=True)
class WorkflowRef:
    kind: str
    namespace: str
    name: str
    uid: str = ""
    created: datetime | None = None
    """Events before the workflow existed never fire it."""

    @property
    def id(self) -> str:
        """Stable identity in keys: the uid (a re-created workflow is a new workflow)."""
        return self.uid or f"{self.kind}/{self.namespace}/{self.name}"

    @property
    def display(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


@dataclass(frozen=True)
class Trigger:
    event: Event
    to: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    after: timedelta | None = None
    phases: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Action:
    type: ActionType
    name: str
    condition: str | None = None
    continue_on_error: bool = False
    text: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    severity: str = ""
    description: str = ""
    team: str = ""
    """page: the Team whose routing key is paged."""
    route: str = ""
    """page: the Team's named route (empty: its default routing key)."""
    users: tuple[str, ...] = ()
    """invite: Slack user ids."""
    user_group: str = ""
    """invite: a Slack user group id, resolved to its members when the step runs."""
    channel: str = ""
    """postMessage: a named Slack channel (``#name`` or an id) instead of the incident's."""
    role: str = ""
    """addChecklist: the role whose tasks these are."""
    tasks: tuple[str, ...] = ()
    """addChecklist: the tasks."""
    instructions: str = ""
    """addChecklist: private text for the role holder (a direct message, never recorded)."""
    mitigation: Request | None = None
    """mitigate: the mitigation to request (target namespace empty: the incident's)."""
    webhook: str = ""
    """sendWebhook: the name of a webhook of ``team`` (domain/workflow_actions.py)."""
    url_template: str = ""
    """startConference: the bridge URL's template."""
    card: Card | None = None
    """postMessage: a card shown under the text."""
    duration: timedelta | None = None
    """wait: how long the run's later steps wait (domain/workflow_wait.py)."""
    owner: str = ""
    """createFollowUp: the action item's owner."""
    due_in: timedelta | None = None
    """createFollowUp: the action item is due this long after the step runs."""
    roles: tuple[tuple[str, str], ...] = ()
    """setRoles: role -> participant, set in the incident's spec.roles."""


@dataclass(frozen=True)
class Workflow:
    ref: WorkflowRef
    triggers: tuple[Trigger, ...]
    actions: tuple[Action, ...]
    condition: str | None = None
    repeat: Repeat = Repeat.ONCE_PER_INCIDENT
    suspend: bool = False


@dataclass(frozen=True)
class Snapshot:
    """What the change triggers compare: the phase, severity and labels in force."""

    phase: str = ""
    severity: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    timeline_at: datetime | None = None
    """The newest timeline entry seen (entries after it are new)."""
    roles: tuple[tuple[str, str], ...] = ()
    """Effective roles: role -> person."""

    def same_state(self, other: Snapshot) -> bool:
        return (self.phase, self.severity, self.labels, self.roles) == (
            other.phase,
            other.severity,
            other.labels,
            other.roles,
        )


@dataclass(frozen=True)
class Entry:
    at: datetime
    type: str
    key: str = ""
    source: str = ""


@dataclass(frozen=True)
class Facts:
    """The incident as the triggers see it."""

    current: Snapshot
    declared: datetime | None = None
    last_update: datetime | None = None
    entries: tuple[Entry, ...] = ()

    @property
    def open(self) -> bool:
        return bool(self.current.phase) and self.current.phase not in TERMINAL_PHASES


@dataclass(frozen=True)
class Memory:
    """What the workflow layer recorded in the incident's status last time."""

    seen: Snapshot | None = None
    sequence: int = 0
    done: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Occurrence:
    key: str
    event: Event
    at: datetime
    detail: str = ""
    lasting: bool = False
    """Found again at every look (declared, noUpdate) until recorded as seen: each is
    judged once, so a condition that becomes true later does not revive it."""


@dataclass(frozen=True)
class Verdict:
    value: bool
    error: str = ""

    def describe(self) -> str:
        return f"error: {self.error}" if self.error else str(self.value).lower()


Evaluate = Callable[[str, Occurrence], Verdict]
"""Evaluate one CEL expression for one trigger occurrence (bound to the incident's data)."""


@dataclass(frozen=True)
class Step:
    key: str
    index: int
    action: Action
    verdict: Verdict | None = None
    """The step's own ``if``, when it has one."""
    done: bool = False
    occurrence: str = ""
    """The trigger occurrence the step runs for (``once`` for oncePerIncident)."""
    resume_at: datetime | None = None
    """wait: when its wait, recorded in the incident's status, is over (None: reached now)."""

    @property
    def runs(self) -> bool:
        return not self.done and (self.verdict is None or self.verdict.value)


@dataclass(frozen=True)
class TriggerMatch:
    trigger: Trigger
    occurrences: tuple[Occurrence, ...]
    why: str
    """Why it did or did not match, for the dry run."""


@dataclass(frozen=True)
class Run:
    workflow: Workflow
    key: str
    occurrence: Occurrence
    events: tuple[Event, ...]
    steps: tuple[Step, ...]
    occurrences: tuple[str, ...] = ()
    """Keys of the trigger occurrences it runs for (several when they share a run)."""

    @property
    def pending(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if not s.done)


@dataclass(frozen=True)
class Evaluation:
    """One workflow against one incident: matches, the condition, the runs (if any)."""

    workflow: Workflow
    matches: tuple[TriggerMatch, ...]
    condition: Verdict | None = None
    runs: tuple[Run, ...] = ()
    judged: tuple[str, ...] = ()
    """Keys marking the lasting occurrences judged now (record them with the done keys)."""
    skipped: str = ""
    """Why nothing runs although a trigger matched (condition false, already done)."""


@dataclass(frozen=True)
class Plan:
    evaluations: tuple[Evaluation, ...]
    snapshot: Snapshot
    sequence: int

    @property
    def runs(self) -> tuple[Run, ...]:
        return tuple(r for e in self.evaluations for r in e.runs if r.pending)

    @property
    def judged(self) -> tuple[str, ...]:
        return tuple(k for e in self.evaluations for k in e.judged)


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def step_key(ref: WorkflowRef, occurrence: str, index: int) -> str:
    return f"{run_key(ref, occurrence)}/{index}"


def run_key(ref: WorkflowRef, occurrence: str) -> str:
    return f"wf/{ref.id}/{occurrence}"


def seen_key(ref: WorkflowRef, occurrence: Occurrence) -> str:
    """Marks a lasting occurrence as judged (recorded with the done keys)."""
    return f"wf/{ref.id}/seen/{occurrence.key}"


def _changed(before: Iterable[tuple[str, str]], after: Iterable[tuple[str, str]]) -> set[str]:
    old, new = dict(before), dict(after)
    return {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}


def _after_creation(ref: WorkflowRef, at: datetime) -> bool:
    return ref.created is None or at >= ref.created


def _change(
    trigger: Trigger, facts: Facts, memory: Memory, now: datetime
) -> tuple[tuple[Occurrence, ...], str]:
    seen, current = memory.seen, facts.current
    if seen is None:
        return (), "first look at this incident: no earlier state to compare"
    if trigger.event in (Event.PHASE_CHANGED, Event.SEVERITY_CHANGED):
        detail, why = _value_change(trigger, seen, current)
    else:
        detail, why = _keyed_change(trigger, seen, current)
    if not detail:
        return (), why
    return (Occurrence(f"change-{memory.sequence + 1}", trigger.event, now, detail),), detail


def _value_change(trigger: Trigger, seen: Snapshot, current: Snapshot) -> tuple[str, str]:
    """(what changed, "") or ("", why it does not count) for phase and severity."""
    what = "phase" if trigger.event is Event.PHASE_CHANGED else "severity"
    old, new = getattr(seen, what), getattr(current, what)
    if old == new:
        return "", f"{what} still {new}"
    if trigger.to and new not in trigger.to:
        return "", f"{what} {old} -> {new}, not to {list(trigger.to)}"
    return f"{what} {old or '-'} -> {new}", ""


def _keyed_change(trigger: Trigger, seen: Snapshot, current: Snapshot) -> tuple[str, str]:
    """The same for labels and roles (maps: a key added, changed or removed)."""
    if trigger.event is Event.ROLE_CHANGED:
        what, changed, only = "role", _changed(seen.roles, current.roles), trigger.roles
    else:
        what, changed, only = "label", _changed(seen.labels, current.labels), trigger.labels
    if only:
        changed &= set(only)
    if not changed:
        return "", f"no watched {what} changed"
    return f"{what}s changed: " + ", ".join(sorted(changed)), ""


CHANGES = frozenset(
    {Event.PHASE_CHANGED, Event.SEVERITY_CHANGED, Event.LABEL_CHANGED, Event.ROLE_CHANGED}
)

ENTRY_EVENTS: Mapping[Event, str] = {
    Event.TIMELINE_ENTRY: "matching timeline",
    Event.SLO_BURN: "SLO burn",
    Event.ALERT_GROUP: "Alertmanager",
    Event.POSTMORTEM_CHANGED: "postmortem",
    Event.ACTION_ITEM_OVERDUE: "overdue action item",
}
"""Triggers that fire on timeline entries: what each one's entries are (for people)."""

SLO_BURN_TYPES: Mapping[str, str] = {
    "burn-began": "started",
    "burn-resumed": "started",
    "burn-stopped": "stopped",
}
"""The SLO engine's entries (source ``slo/<name>``) and what each means for sloBurn's ``to``."""
POSTMORTEM_STATE = re.compile(r"^postmortem/[^/]+/(drafted|published)$")
"""The postmortem service's entries on a draft and a publication (source ``postmortem``)."""


def entry_event(trigger: Trigger, entry: Entry) -> str:
    """What ``entry`` is to ``trigger`` (e.g. "started", "published"), or "" if it does not
    fire it. Each event is recognised by what the operator's own writers record: the SLO
    engine, the Alertmanager receiver and the postmortem service (source and key)."""
    event = trigger.event
    if event is Event.TIMELINE_ENTRY:
        return entry.type if entry.type in trigger.types else ""
    what = ""
    if event is Event.SLO_BURN and entry.source.startswith("slo/"):
        what = SLO_BURN_TYPES.get(entry.type, "")
    elif event is Event.ALERT_GROUP and entry.source.startswith("alertmanager/"):
        what = entry.type if entry.type.startswith("alert") else ""
    elif event is Event.POSTMORTEM_CHANGED and entry.source == "postmortem":
        match = POSTMORTEM_STATE.match(entry.key)
        what = match.group(1) if match else ""
    elif event is Event.ACTION_ITEM_OVERDUE and entry.source == "postmortem":
        what = "overdue" if "/overdue/" in entry.key else ""
    if what and trigger.to and what not in trigger.to:
        return ""
    return what


def occurrences(
    trigger: Trigger, facts: Facts, memory: Memory, now: datetime
) -> tuple[tuple[Occurrence, ...], str]:
    """The occurrences of ``trigger`` that are new since ``memory``, and why (for people)."""
    if trigger.event is Event.DECLARED:
        if facts.declared is None:
            return (), "not declared yet"
        once = Occurrence("declared", Event.DECLARED, facts.declared, "declared", lasting=True)
        return (once,), "declared"
    if trigger.event in CHANGES:
        return _change(trigger, facts, memory, now)
    if trigger.event in ENTRY_EVENTS:
        since = memory.seen.timeline_at if memory.seen else None
        new = [
            (e, what)
            for e in facts.entries
            if (since is None or e.at > since) and (what := entry_event(trigger, e))
        ]
        found = tuple(
            Occurrence(
                f"entry-{short_hash(e.key or f'{e.type}@{e.at.isoformat()}')}",
                trigger.event,
                e.at,
                f"{what} ({e.type} entry at {e.at.isoformat()})",
            )
            for e, what in new
        )
        return found, f"{len(found)} new {ENTRY_EVENTS[trigger.event]} entries"
    return _quiet(trigger, facts, now)


def _quiet(trigger: Trigger, facts: Facts, now: datetime) -> tuple[tuple[Occurrence, ...], str]:
    if trigger.after is None or not facts.open:
        return (), "incident not open"
    if trigger.phases and facts.current.phase not in trigger.phases:
        return (), f"phase {facts.current.phase} not in {list(trigger.phases)}"
    last = facts.last_update or facts.declared
    if last is None:
        return (), "no update time known"
    due = last + trigger.after
    if now < due:
        return (), f"last update {last.isoformat()}, due at {due.isoformat()}"
    seconds = int(trigger.after.total_seconds())
    key = f"quiet-{short_hash(f'{last.isoformat()}/{seconds}')}"
    detail = f"no update since {last.isoformat()} ({seconds}s)"
    return (Occurrence(key, Event.NO_UPDATE, due, detail, lasting=True),), detail


def evaluate_workflow(
    workflow: Workflow, facts: Facts, memory: Memory, now: datetime, evaluate: Evaluate
) -> Evaluation:
    """Match the triggers; per occurrence not done yet, evaluate the condition and plan a run."""
    matches = []
    found: list[Occurrence] = []
    for trigger in workflow.triggers:
        occ, why = occurrences(trigger, facts, memory, now)
        occ = tuple(
            o
            for o in occ
            if _after_creation(workflow.ref, o.at)
            and not (o.lasting and seen_key(workflow.ref, o) in memory.done)
        )
        matches.append(TriggerMatch(trigger, occ, why))
        found += occ
    judged = tuple(seen_key(workflow.ref, o) for o in found if o.lasting)
    evaluation = Evaluation(workflow, tuple(matches), judged=judged)
    if workflow.suspend:
        return replace(evaluation, judged=(), skipped="suspended")
    if not found:
        return replace(evaluation, skipped="no trigger fired")
    by_key: dict[str, list[Occurrence]] = {}
    for o in found:
        name = "once" if workflow.repeat is Repeat.ONCE_PER_INCIDENT else o.key
        by_key.setdefault(name, []).append(o)
    runs: list[Run] = []
    skipped = "already ran for this occurrence"
    for name, group in by_key.items():
        steps = steps_for(workflow, name, memory.done)
        if all(s.done for s in steps):
            continue
        first = group[0]
        verdict = evaluate(workflow.condition, first) if workflow.condition else Verdict(True)
        evaluation = replace(evaluation, condition=verdict)
        if not verdict.value:
            skipped = verdict.error or "condition is false"
            continue
        steps = tuple(
            replace(s, verdict=evaluate(s.action.condition, first))
            if s.action.condition and not s.done
            else s
            for s in steps
        )
        events = tuple(dict.fromkeys(o.event for o in group))
        keys = tuple(dict.fromkeys(o.key for o in group))
        runs.append(Run(workflow, run_key(workflow.ref, name), first, events, steps, keys))
    if not runs:
        return replace(evaluation, skipped=skipped)
    return replace(evaluation, runs=tuple(runs))


def steps_for(workflow: Workflow, occurrence: str, done: frozenset[str]) -> tuple[Step, ...]:
    """The keyed steps of ``workflow``'s run for ``occurrence``, those in ``done`` marked."""
    return tuple(
        Step(key, i, a, done=key in done, occurrence=occurrence)
        for i, a in enumerate(workflow.actions)
        for key in (step_key(workflow.ref, occurrence, i),)
    )


def plan(
    workflows: Iterable[Workflow],
    facts: Facts,
    memory: Memory,
    now: datetime,
    evaluate: Evaluate,
) -> Plan:
    """Every workflow's evaluation, and the snapshot and sequence to remember afterwards.

    Workflows are evaluated, and their runs executed, in one order: ClusterIncidentWorkflows
    before IncidentWorkflows (the cluster admin's policy first), each kind by namespace and
    name. A ``stop`` step ends the later workflows' runs for the same occurrence."""
    news = _news(facts, memory)
    evaluations = tuple(
        evaluate_workflow(w, facts, memory, now, evaluate)
        if news or _may_last(w, facts, memory)
        else Evaluation(w, (), skipped="nothing new")
        for w in sorted(workflows, key=lambda w: (w.ref.kind, w.ref.namespace, w.ref.name))
    )
    changed = memory.seen is not None and not memory.seen.same_state(facts.current)
    newest = max((e.at for e in facts.entries), default=None)
    seen_at = memory.seen.timeline_at if memory.seen else None
    if seen_at is not None and (newest is None or seen_at > newest):
        newest = seen_at
    snapshot = replace(facts.current, timeline_at=newest)
    return Plan(evaluations, snapshot, memory.sequence + (1 if changed else 0))


def _news(facts: Facts, memory: Memory) -> bool:
    """Whether anything changed since the last look (a change or timeline trigger could fire);
    without news only the lasting triggers need judging, which keeps an idle tick cheap."""
    if memory.seen is None or not memory.seen.same_state(facts.current):
        return True
    since = memory.seen.timeline_at
    return any(since is None or e.at > since for e in facts.entries)


def _may_last(workflow: Workflow, facts: Facts, memory: Memory) -> bool:
    """Whether a lasting trigger could fire with nothing new: a timer, or a declaration not
    judged yet (the common idle tick finds neither and costs a set lookup per workflow)."""
    for trigger in workflow.triggers:
        if trigger.event is Event.NO_UPDATE:
            return True
        if trigger.event is Event.DECLARED and facts.declared is not None:
            declared = Occurrence("declared", Event.DECLARED, facts.declared, lasting=True)
            if seen_key(workflow.ref, declared) not in memory.done:
                return True
    return False


def stopped_by(run: Run, stopped: Mapping[str, str]) -> str:
    """The workflow whose ``stop`` step ran earlier for every occurrence ``run`` is for, or
    "" (``stopped``: occurrence key -> that workflow). Workflows run in the order of
    :func:`plan` (ClusterIncidentWorkflows first, then IncidentWorkflows, each by name)."""
    if not run.occurrences or any(k not in stopped for k in run.occurrences):
        return ""
    return stopped[run.occurrences[0]]


def with_effects(snapshot: Snapshot, actions: Iterable[Action]) -> Snapshot:
    """``snapshot`` as the workflows' own successful label, severity and role changes leave
    it, so a workflow's own change is not news to the change triggers (a role set in
    spec.roles is the effective role: a person's spec.roles win over the rotation's)."""
    labels = dict(snapshot.labels)
    roles = dict(snapshot.roles)
    severity = snapshot.severity
    for action in actions:
        if action.type is ActionType.SET_LABELS:
            labels.update(action.labels)
        elif action.type is ActionType.SET_SEVERITY and action.severity:
            severity = action.severity
        elif action.type is ActionType.SET_ROLES:
            roles.update(action.roles)
    return replace(
        snapshot,
        labels=tuple(sorted(labels.items())),
        severity=severity,
        roles=tuple(sorted(roles.items())),
    )


def invitees(recorded: Iterable[str], users: Iterable[str]) -> tuple[str, ...] | str:
    """The people the incident's channel is owed after an invite step adds ``users`` (the
    comms outbox invites each once: status.chat.invited), or why not (too many). What is
    not a Slack user id (a user group's answer is Slack's, not ours) is left out: the
    status schema would refuse it, and with it the whole record of the run."""
    merged = tuple(dict.fromkeys([*recorded, *(u for u in users if SLACK_USER.match(u))]))
    if len(merged) > MAX_INVITEES:
        return f"more than {MAX_INVITEES} people invited by workflows to one incident"
    return merged


def same_channel(a: str, b: str) -> bool:
    """``#name`` and ``name`` are one channel; an id is compared as it is."""
    return a.removeprefix("#") == b.removeprefix("#")


def channel_refusal(
    ref: WorkflowRef, channel: str, *, private: bool, teams: Iterable[TeamEntry], namespace: str
) -> str:
    """Why a postMessage may not go to the named ``channel`` ("" when it may).

    A private incident's details are never posted to a named channel, by any workflow: its
    announcements are not either (comms announces only incidents anyone may know about). An
    IncidentWorkflow, written by a tenant, may post only to the Slack channel of a Team that
    admits the incident's namespace (``Team.spec.slack.channel``, cluster-admin written): a
    shared or another team's channel, which the bot may be in and the tenant not, stays out of
    its reach. A ClusterIncidentWorkflow, written by a cluster admin, may post anywhere.
    """
    if private:
        return (
            "the incident is private: its details are never posted to a named channel "
            "(nor announced)"
        )
    if not ref.namespace:
        return ""
    if any(t.admits(namespace) and same_channel(t.slack_channel or "", channel) for t in teams):
        return ""
    return (
        f"{channel} is not the Slack channel of a Team that admits namespace {namespace}: "
        "an IncidentWorkflow may post only there (a ClusterIncidentWorkflow anywhere)"
    )


def page_route(
    ref: WorkflowRef, action: Action, team: TeamEntry | None, namespace: str
) -> PageRoute | str:
    """The route a ``page`` step may page, or why it may not (on whose authority).

    A ClusterIncidentWorkflow is written by a cluster admin and may page any Team. An
    IncidentWorkflow is written by a tenant of one namespace: it may page only a Team that
    admits the incident's namespace (``Team.spec.namespaces``, cluster-admin written) — the
    rule a Service there must meet to claim the Team, and the one an escalation step to
    ``team/<name>`` meets — so naming a team in a tenant's YAML never reaches it otherwise.
    """
    if team is None:
        return f"team {action.team} does not exist"
    if ref.namespace and not team.admits(namespace):
        return (
            f"team {team.name} does not admit namespace {namespace} (its spec.namespaces): "
            "an IncidentWorkflow may page only a Team that admits its namespace"
        )
    if action.route:
        if action.route not in team.routes:
            return f"team {team.name} declares no paging route {action.route}"
        secret = team.routes[action.route]
    else:
        secret = team.routing_key
    if secret is None:
        return f"team {team.name} has no routing key" + (
            f" for route {action.route}" if action.route else ""
        )
    return PageRoute(team.name, action.route or None, secret)


def page_dedup_key(ref: WorkflowRef, step: Step, namespace: str, incident: str) -> str:
    """``incident-operator/<ns>/<incident>/workflow/<workflow>/<action>[/<occurrence>]``:
    deterministic per workflow, trigger occurrence and action (a repeat after a crash lands
    on the same PagerDuty alert), distinct from the incident's own and its escalations'."""
    kind = "clusterworkflow" if not ref.namespace else "workflow"
    tail = "" if step.occurrence in ("", "once") else f"/{step.occurrence}"
    return dedup_key(namespace, f"{incident}/{kind}/{ref.name}/{step.action.name}{tail}")


def render(text: str, values: Mapping[str, str]) -> str:
    """``${name}``-style placeholders replaced; unknown ones are left as written."""
    return Template(text).safe_substitute(values)


@dataclass(frozen=True)
class RunRecord:
    """One run as the incident's history keeps it."""

    workflow: str
    key: str
    events: tuple[str, ...]
    at: datetime
    result: str
    """succeeded, failed, partial, stopped or waiting."""
    actions: tuple[str, ...] = ()
    message: str = ""


@dataclass(frozen=True)
class History:
    runs: tuple[RunRecord, ...] = ()
    folded: int = 0
    done: tuple[str, ...] = field(default_factory=tuple)


def remember(history: History, runs: Iterable[RunRecord], keys: Iterable[str]) -> History:
    """Add runs and done keys, keeping the newest MAX_RUNS runs and MAX_DONE keys."""
    fresh = list(runs)
    again = {r.key for r in fresh}  # a run retried after a passing failure replaces its record
    all_runs = [r for r in history.runs if r.key not in again] + fresh
    over = max(0, len(all_runs) - MAX_RUNS)
    done = list(dict.fromkeys([*history.done, *keys]))
    return History(tuple(all_runs[over:]), history.folded + over, tuple(done[-MAX_DONE:]))
