"""`kubectl incident workflow test [WORKFLOW] --incident INC [-n NS] [--cluster] [-f FILE]
[--event EVENT]`.

A dry run: which of the workflow's triggers fire for the incident now (against what the
operator last recorded in its status), how the condition and each step's ``if`` evaluate,
and what would run, with each step's key. Nothing is changed. ``-f`` tests a manifest not
applied yet; ``--cluster`` names a ClusterIncidentWorkflow. When no trigger fires now, the
condition is also judged as if the first trigger (or ``--event``) had fired, to show what
would happen.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

import yaml

from incident_operator.adapters.expressions_port import Expressions
from incident_operator.adapters.ports import Body
from incident_operator.domain import workflows as wf
from incident_operator.domain.times import iso
from incident_operator.errors import IncidentOperatorError
from incident_operator.services.workflow_wait import waits_of
from incident_operator.services.workflows import dry_run, load_workflow

from .manifests import UsageError


class WorkflowSource(Protocol):
    namespace: str

    def incident(self, name: str) -> Body: ...

    def workflow(self, kind: str, name: str) -> Body: ...

    def severity(self, name: str) -> Body | None: ...


Factory = Callable[[str | None], WorkflowSource]


def _real(namespace: str | None) -> WorkflowSource:
    from incident_operator.adapters.workflow_client import WorkflowClient  # noqa: PLC0415

    return WorkflowClient(namespace)


def _expressions() -> Expressions:
    from incident_operator.adapters.cel import CelExpressions  # noqa: PLC0415

    return CelExpressions()


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "workflow", help="work with incident workflows", description=__doc__
    )
    verbs = parser.add_subparsers(dest="verb", required=True)
    test = verbs.add_parser("test", help="dry-run a workflow against an incident")
    test.add_argument("workflow", nargs="?", help="name of the applied workflow")
    test.add_argument("--incident", required=True, help="the incident to test against")
    test.add_argument("-n", "--namespace")
    test.add_argument(
        "--cluster", action="store_true", help="WORKFLOW is a ClusterIncidentWorkflow"
    )
    test.add_argument("-f", "--filename", type=Path, help="a workflow manifest not applied yet")
    test.add_argument(
        "--event",
        choices=[e.value for e in wf.Event],
        help="when no trigger fires now, judge as if this event had (default: the first)",
    )
    test.set_defaults(run=run)


def _manifest(path: Path) -> Body:
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: {exc}") from exc
    found = [d for d in docs if d.get("kind") in ("IncidentWorkflow", "ClusterIncidentWorkflow")]
    if len(found) != 1:
        raise UsageError(f"{path}: expected exactly one workflow, found {len(found)}")
    return dict(found[0])


def run(
    args: argparse.Namespace,
    out: TextIO | None = None,
    factory: Factory | None = None,
    expressions: Expressions | None = None,
    now: datetime | None = None,
) -> int:
    out = out or sys.stdout
    if (args.workflow is None) == (args.filename is None):
        raise UsageError("name a workflow or give -f FILE (one of them)")
    try:
        source = (factory or _real)(args.namespace)
        if args.filename is not None:
            body = _manifest(args.filename)
        else:
            kind = "ClusterIncidentWorkflow" if args.cluster else "IncidentWorkflow"
            body = source.workflow(kind, args.workflow)
        incident = source.incident(args.incident)
        severity_name = str(
            (incident.get("status") or {}).get("severity")
            or (incident.get("spec") or {}).get("severityRef")
            or ""
        )
        severity = source.severity(severity_name) if severity_name else None
    except IncidentOperatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    engine = expressions or _expressions()
    workflow, problems = load_workflow(body, engine)
    name = (body.get("metadata") or {}).get("name", "?")
    if workflow is None:
        print(f"workflow {name} cannot run:", file=out)
        for problem in problems:
            print(f"  {problem}", file=out)
        return 1
    meta = incident.get("metadata") or {}
    if workflow.ref.namespace and workflow.ref.namespace != meta.get("namespace"):
        print(
            f"{workflow.ref.display} never acts on incident {meta.get('namespace')}/"
            f"{meta.get('name')}: a namespaced workflow sees only its own namespace's incidents",
            file=out,
        )
        return 0
    event = wf.Event(args.event) if getattr(args, "event", None) else None
    current, hypothetical = dry_run(
        workflow, incident, severity, now or datetime.now(UTC), engine, event=event
    )
    render(out, workflow, incident, current, hypothetical)
    return 0


def render(
    out: TextIO,
    workflow: wf.Workflow,
    incident: Body,
    current: wf.Evaluation,
    hypothetical: wf.Evaluation | None,
) -> None:
    meta = incident.get("metadata") or {}
    status = incident.get("status") or {}
    print(
        f"{workflow.ref.display} on incident {meta.get('namespace')}/{meta.get('name')} "
        f"(phase {status.get('phase') or '-'}, severity {status.get('severity') or '-'})",
        file=out,
    )
    print("Triggers (now):", file=out)
    for match in current.matches:
        verdict = "fires" if match.occurrences else "no"
        print(f"  {_trigger(match.trigger)}: {verdict} - {match.why}", file=out)
    if workflow.condition:
        print(f"Condition: {workflow.condition}", file=out)
    paused = [w for w in waits_of(incident).values() if w.key.startswith(f"wf/{workflow.ref.id}/")]
    for wait in paused:
        print(
            f"Paused at wait step {wait.key}: the later steps run at {iso(wait.resume_at)}",
            file=out,
        )
    if current.runs:
        _runs(out, current, "Would run now")
        return
    print(f"Nothing runs now: {current.skipped}", file=out)
    if hypothetical is None:
        return
    verdict = hypothetical.condition.describe() if hypothetical.condition else "true"
    event = hypothetical.matches[0].trigger.event.value
    print(f"If {event} fired now, the condition would be {verdict}", file=out)
    if hypothetical.runs:
        _runs(out, hypothetical, "and it would run")


def _trigger(trigger: wf.Trigger) -> str:
    detail = []
    if trigger.to:
        detail.append(f"to {','.join(trigger.to)}")
    if trigger.labels:
        detail.append(f"labels {','.join(trigger.labels)}")
    if trigger.types:
        detail.append(f"types {','.join(trigger.types)}")
    if trigger.after is not None:
        detail.append(f"after {int(trigger.after.total_seconds())}s")
    if trigger.phases:
        detail.append(f"in {','.join(trigger.phases)}")
    if trigger.roles:
        detail.append(f"roles {','.join(trigger.roles)}")
    return trigger.event.value + (f" ({'; '.join(detail)})" if detail else "")


def _runs(out: TextIO, evaluation: wf.Evaluation, heading: str) -> None:
    if evaluation.condition is not None:
        print(f"Condition evaluated: {evaluation.condition.describe()}", file=out)
    for run in evaluation.runs:
        print(f"{heading} ({run.key}, on {run.occurrence.detail}):", file=out)
        for step in run.steps:
            print(f"  {step.index + 1}. {_step(step)}", file=out)
        last = run.steps[-1] if run.steps else None
        if last is not None and _reached_wait(last):
            later = run.workflow.actions[last.index + 1 :]
            print(f"  then, {_duration(last.action)} after step {last.index + 1}:", file=out)
            for i, action in enumerate(later, start=last.index + 2):
                print(f"  {i}. {_step(wf.Step('', i - 1, action))}", file=out)


def _reached_wait(step: wf.Step) -> bool:
    """A wait step that would be reached now (its run pauses there)."""
    return step.action.type is wf.ActionType.WAIT and step.runs and step.resume_at is None


def _reaching(action: wf.Action) -> str:
    """invite, page, addChecklist (never its instructions' text), mitigate, sendWebhook,
    startConference, createFollowUp, setRoles and setSeverity."""
    if action.type is wf.ActionType.INVITE:
        who = [*action.users, *([f"group {action.user_group}"] if action.user_group else [])]
        return "invite " + ", ".join(who)
    if action.type is wf.ActionType.PAGE:
        return f"page team {action.team}" + (f" route {action.route}" if action.route else "")
    if action.type is wf.ActionType.ADD_CHECKLIST:
        private = " and private instructions" if action.instructions else ""
        return f"addChecklist for the {action.role}: {len(action.tasks)} task(s){private}"
    if action.type is wf.ActionType.MITIGATE and action.mitigation is not None:
        asked = action.mitigation
        return (
            f"mitigate {asked.name} ({asked.action} {asked.target.text}; gated like an SLO's "
            "mitigation)"
        )
    if action.type is wf.ActionType.SEND_WEBHOOK:
        return f"sendWebhook {action.webhook} of team {action.team}"
    if action.type is wf.ActionType.START_CONFERENCE:
        return f"startConference {action.url_template}"
    if action.type is wf.ActionType.CREATE_FOLLOW_UP:
        owner = f" owner {action.owner}" if action.owner else ""
        return f"createFollowUp {action.text!r}{owner}"
    if action.type is wf.ActionType.SET_ROLES:
        return "setRoles " + ", ".join(f"{role}={who}" for role, who in action.roles)
    return f"setSeverity {action.severity}"


def _step(step: wf.Step) -> str:
    action = step.action
    what = _waiting(step) if action.type is wf.ActionType.WAIT else _what(action)
    if step.done:
        return f"{what} - done already"
    if step.verdict is not None:
        state = "runs" if step.verdict.value else "skipped"
        return f"{what} - if {action.condition}: {step.verdict.describe()} ({state})"
    return what


def _what(action: wf.Action) -> str:
    """What the step does, in one line."""
    if action.type in (wf.ActionType.POST_MESSAGE, wf.ActionType.ADD_NOTE):
        where = ""
        if action.type is wf.ActionType.POST_MESSAGE:
            where = f"to {action.channel}" if action.channel else "to the incident channel"
        what = f"{action.type.value} {where} {action.text!r}".replace("  ", " ")
        what += f" with a card {action.card.title!r}" if action.card is not None else ""
    elif action.type is wf.ActionType.SET_LABELS:
        what = "setLabels " + ", ".join(f"{k}={v}" for k, v in action.labels)
    elif action.type is wf.ActionType.CREATE_TICKET:
        what = f"createTicket {action.text!r}"
    elif action.type is wf.ActionType.STOP:
        what = "stop (later workflows do not run for this occurrence)"
    else:
        what = _reaching(action)
    return what


def _duration(action: wf.Action) -> str:
    seconds = int(action.duration.total_seconds()) if action.duration else 0
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs else "",
    ]
    return "".join(parts) or "0s"


def _waiting(step: wf.Step) -> str:
    """A wait step: over when, if it was reached, else what it does."""
    what = f"wait {_duration(step.action)}"
    if step.resume_at is not None:
        return what + f" (over at {iso(step.resume_at)})"
    return what + (" (recorded when reached; the later steps run after it)" if step.key else "")
