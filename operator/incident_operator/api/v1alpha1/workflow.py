"""IncidentWorkflow (namespaced) and ClusterIncidentWorkflow: a team's own automation.

Triggers say when to look, a CEL condition says whether to act, actions say what to do. The
operator compiles every CEL expression when the workflow is applied (a bad one turns Ready
False with the compiler's message) and records each action it ran in the incident's status
under a deterministic key, so a restart or an overlapping trigger never repeats it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, field_validator

from incident_operator.domain import mitigation as mitigation_domain
from incident_operator.domain import workflow_actions as actions
from incident_operator.domain import workflows as domain
from incident_operator.domain.durations import parse_duration

from .common import (
    ApiModel,
    CommonStatus,
    Labels,
    Name,
    PositiveDuration,
    Resource,
    ShortText,
    cel,
    cel_rule,
)
from .incident import IncidentState, Roles
from .mitigation import Mitigation
from .severity import Instructions, Role, TaskText

Expression = Annotated[str, Field(min_length=1, max_length=2048)]
"""A CEL expression over ``incident``, ``severity`` and ``trigger`` that yields a bool."""

EntryType = Annotated[str, Field(max_length=64, pattern=r"^[a-z][a-z0-9-]*$")]
SlackUserId = Annotated[str, Field(pattern=r"^[UW][A-Z0-9]{2,20}$", max_length=21)]
"""A Slack user id, e.g. U0AAAAAAA (W… on Enterprise Grid)."""
SlackUserGroupId = Annotated[str, Field(pattern=r"^S[A-Z0-9]{2,20}$", max_length=21)]
"""A Slack user group id, e.g. S0PAYMENTS."""
SlackChannel = Annotated[
    str,
    Field(
        min_length=2,
        max_length=81,
        pattern=r"^(#?[a-z0-9][a-z0-9._-]*|[CG][A-Z0-9]{2,20})$",
    ),
]
"""A Slack channel: #name (as Severity announceChannels) or a channel id (C…, G…)."""
LabelKey = Annotated[
    str,
    Field(
        min_length=1,
        max_length=317,
        pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$",
    ),
]


class TriggerEvent(StrEnum):
    """What happened to an incident: declared, phaseChanged, severityChanged, labelChanged,
    roleChanged, timelineEntry (an entry of one of ``types`` was added), noUpdate (no status
    update for ``after`` while in one of ``phases``), sloBurn (its SLO's burn started or
    stopped), alertGroup (Alertmanager reported an alert of its group firing or resolved),
    postmortemChanged (its postmortem was drafted or published) or actionItemOverdue (an
    action item of its postmortem is past its due date, once a day)."""

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


class Trigger(ApiModel):
    """One event that makes the operator evaluate the workflow's condition."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": cel(
            cel_rule(
                "self.event != 'noUpdate' || has(self.after)",
                "a noUpdate trigger needs after, e.g. 30m",
                field_path=".after",
            ),
            cel_rule(
                "self.event != 'timelineEntry' || (has(self.types) && size(self.types) > 0)",
                "a timelineEntry trigger needs types, e.g. [note]",
                field_path=".types",
            ),
        )
    }

    event: TriggerEvent
    """declared, phaseChanged, severityChanged, labelChanged, roleChanged, timelineEntry,
    noUpdate, sloBurn, alertGroup, postmortemChanged or actionItemOverdue."""
    to: Annotated[list[ShortText], Field(max_length=16)] = []
    """phaseChanged: only into these phases; severityChanged: only to these Severities;
    sloBurn: started and/or stopped; alertGroup: alert-firing and/or alert-resolved;
    postmortemChanged: drafted and/or published. Empty: any."""
    labels: Annotated[list[LabelKey], Field(max_length=16)] = []
    """labelChanged: only when one of these label keys changed. Empty: any label."""
    types: Annotated[list[EntryType], Field(max_length=16)] = []
    """timelineEntry: the entry types that fire it, e.g. note, escalated, mitigation."""
    after: PositiveDuration | None = None
    """noUpdate: how long without a status update (a note, status update or state change)."""
    phases: Annotated[list[IncidentState], Field(max_length=8)] = []
    """noUpdate: only while the incident is in one of these phases. Empty: any open phase."""
    roles: Annotated[list[Role], Field(max_length=4)] = []
    """roleChanged: only when one of these effective roles changed hands. Empty: any role."""

    def to_domain(self) -> domain.Trigger:
        return domain.Trigger(
            event=domain.Event(self.event.value),
            to=tuple(self.to),
            labels=tuple(self.labels),
            types=tuple(self.types),
            after=parse_duration(self.after) if self.after else None,
            phases=tuple(p.value for p in self.phases),
            roles=tuple(r.value for r in self.roles),
        )


HttpsTemplate = Annotated[
    str, Field(min_length=9, max_length=2048, pattern=r"^https://[^/?#$@\s]+(?:[/?#]\S*)?$")
]
"""An https URL whose host holds no placeholder; ${name}-style placeholders elsewhere."""


class CardField(ApiModel):
    """One labelled value of a card (a Slack section field)."""

    label: Annotated[str, Field(min_length=1, max_length=100)]
    """The label, shown in bold; placeholders as in text."""
    value: Annotated[str, Field(min_length=1, max_length=1800)]
    """The value; placeholders as in text."""


class CardButton(ApiModel):
    """A link button of a card (opens the URL; nothing is sent back to the operator)."""

    text: Annotated[str, Field(min_length=1, max_length=75)]
    """The button's label; placeholders as in text."""
    url: HttpsTemplate
    """Where it links, https only; placeholders as in text (values percent-encoded)."""


class Card(ApiModel):
    """A Slack Block Kit card the operator renders (a header, fields, link buttons): a
    restricted subset, escaped like every timeline post, never blocks written by hand."""

    title: Annotated[str, Field(max_length=150)] = ""
    """The header; placeholders as in text."""
    fields: Annotated[list[CardField], Field(max_length=10)] = []
    """Labelled values, shown two by two."""
    buttons: Annotated[list[CardButton], Field(max_length=5)] = []
    """Link buttons."""


class ActionType(StrEnum):
    """postMessage (to the incident's chat channel), addNote (to the timeline only),
    setLabels, setSeverity or setRoles (on the incident), createTicket (in the tracker the
    operator is configured with, Jira or GitHub), page (a Team's PagerDuty routing key),
    invite (Slack users or a user group into the incident's channel), stop (no later workflow
    runs for this trigger occurrence), addChecklist (tasks for a role, and private
    instructions for its holder), mitigate (request one guarded mitigation, gated like an
    SLO's), sendWebhook (a signed POST of the incident summary to a Team's webhook),
    startConference (a bridge URL from a template, recorded in status.conference), wait (the
    later steps run after a duration), createFollowUp (an action item for the incident's
    postmortem)."""

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


WaitDuration = Annotated[
    str,
    Field(
        pattern=r"^([1-9][0-9]?h)?([1-9][0-9]{0,3}m)?([1-9][0-9]{0,4}s)?$",
        min_length=2,
        max_length=12,
    ),
]
"""How long a wait step waits: hours, minutes and seconds (e.g. 10m, 1h30m), at most 24h."""
MAX_WAIT = "24h"


class Action(ApiModel):
    """One step of the workflow; steps run in order, each at most once per trigger occurrence."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": cel(
            cel_rule(
                "!(self.type in ['postMessage', 'addNote', 'createTicket']) || has(self.text)",
                "postMessage, addNote and createTicket need text",
                field_path=".text",
            ),
            cel_rule(
                "self.type != 'setLabels' || (has(self.labels) && size(self.labels) > 0)",
                "setLabels needs labels",
                field_path=".labels",
            ),
            cel_rule(
                "self.type != 'setSeverity' || has(self.severity)",
                "setSeverity needs severity",
                field_path=".severity",
            ),
            cel_rule(
                "self.type != 'page' || has(self.team)",
                "page needs team",
                field_path=".team",
            ),
            cel_rule(
                "!has(self.channel) || self.type == 'postMessage'",
                "channel is for postMessage only",
                field_path=".channel",
            ),
            cel_rule(
                "!has(self.route) || self.type == 'page'",
                "route is for page only",
                field_path=".route",
            ),
            cel_rule(
                "self.type != 'invite' || (has(self.users) && size(self.users) > 0)"
                " || has(self.userGroup)",
                "invite needs users or userGroup",
                field_path=".users",
            ),
            cel_rule(
                "self.type == 'invite' || (!has(self.userGroup)"
                " && (!has(self.users) || size(self.users) == 0))",
                "users and userGroup are for invite only",
                field_path=".users",
            ),
            cel_rule(
                "self.type != 'addChecklist' || (has(self.role) && has(self.tasks)"
                " && size(self.tasks) > 0)",
                "addChecklist needs role and tasks",
                field_path=".tasks",
            ),
            cel_rule(
                "self.type == 'addChecklist' || (!has(self.role) && !has(self.instructions)"
                " && (!has(self.tasks) || size(self.tasks) == 0))",
                "role, tasks and instructions are for addChecklist only",
                field_path=".tasks",
            ),
            cel_rule(
                "(self.type == 'mitigate') == has(self.mitigation)",
                "mitigate needs mitigation, and mitigation is for mitigate only",
                field_path=".mitigation",
            ),
            cel_rule(
                "self.type != 'sendWebhook' || (has(self.team) && has(self.webhook))",
                "sendWebhook needs team and webhook",
                field_path=".webhook",
            ),
            cel_rule(
                "!has(self.webhook) || self.type == 'sendWebhook'",
                "webhook is for sendWebhook only",
                field_path=".webhook",
            ),
            cel_rule(
                "self.type != 'startConference' || has(self.urlTemplate)",
                "startConference needs urlTemplate",
                field_path=".urlTemplate",
            ),
            cel_rule(
                "!has(self.urlTemplate) || self.type == 'startConference'",
                "urlTemplate is for startConference only",
                field_path=".urlTemplate",
            ),
            cel_rule(
                "!has(self.card) || self.type == 'postMessage'",
                "card is for postMessage only",
                field_path=".card",
            ),
            cel_rule(
                "(self.type == 'wait') == has(self.duration)",
                "wait needs duration, e.g. 10m (and duration is for wait only)",
                field_path=".duration",
            ),
            cel_rule(
                f"!has(self.duration) || duration(self.duration) <= duration('{MAX_WAIT}')",
                f"a wait lasts at most {MAX_WAIT}",
                field_path=".duration",
            ),
            cel_rule(
                "self.type != 'createFollowUp' || has(self.text)",
                "createFollowUp needs text (the action item's title)",
                field_path=".text",
            ),
            cel_rule(
                "self.type == 'createFollowUp' || (!has(self.owner) && !has(self.dueIn))",
                "owner and dueIn are for createFollowUp only",
                field_path=".owner",
            ),
            cel_rule(
                "self.type != 'setRoles' || (has(self.roles) && (has(self.roles.commander)"
                " || has(self.roles.communications) || has(self.roles.operations)"
                " || has(self.roles.scribe)))",
                "setRoles needs roles, e.g. commander: alice",
                field_path=".roles",
            ),
            cel_rule(
                "!has(self.roles) || self.type == 'setRoles'",
                "roles is for setRoles only",
                field_path=".roles",
            ),
        )
    }

    type: ActionType
    """postMessage, addNote, setLabels, setSeverity, createTicket, page, invite, addChecklist,
    stop (the workflows after this one, in order, do not run for this trigger occurrence:
    cluster workflows first, then the namespace's, each by name), sendWebhook,
    startConference, wait (the later steps run after duration), createFollowUp (an action
    item for the incident's own postmortem) or setRoles (roles into spec.roles). mitigate:
    request the guarded mitigation in mitigation."""
    name: Annotated[str, Field(max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")] = ""
    """Name shown in the run history (default: the type and position)."""
    if_: Annotated[Expression | None, Field(alias="if")] = None
    """CEL condition for this step alone (the workflow's condition held already)."""
    continue_on_error: bool = False
    """Run the next steps even when this one fails (default: the run stops there)."""
    channel: SlackChannel | None = None
    """postMessage: post to this Slack channel (#name or id) instead of the incident's own.
    Never for a private incident. An IncidentWorkflow may name only the Slack channel of a
    Team that admits its namespace; a ClusterIncidentWorkflow any channel the bot is in."""
    text: Annotated[str, Field(min_length=1, max_length=3000)] | None = None
    """postMessage, addNote: the text; createTicket, createFollowUp: the ticket's or action
    item's title (at most 256 characters for an action item); page: a line put
    above the incident's summary in the page (optional). ${name},
    ${namespace}, ${title}, ${severity}, ${phase}, ${service} and ${workflow} are replaced."""
    description: Annotated[str, Field(max_length=8192)] = ""
    """createTicket: the ticket's description (placeholders as in text); the incident and the
    workflow are named below it."""
    labels: Labels = {}
    """setLabels: labels to set on the incident."""
    severity: Name | None = None
    """setSeverity: the Severity to set as spec.severityRef."""
    team: Name | None = None
    """page: the Team whose PagerDuty routing key is paged; sendWebhook: the Team whose
    webhook is called. An IncidentWorkflow may page only
    a Team that admits the incident's namespace (spec.namespaces); a ClusterIncidentWorkflow
    may page any Team."""
    route: Name | None = None
    """page: the Team's named route (spec.paging.routes); omitted: its default routing key."""
    users: Annotated[list[SlackUserId], Field(max_length=50)] = []
    """invite: Slack user ids to invite into the incident's channel (once it exists)."""
    user_group: SlackUserGroupId | None = None
    """invite: a Slack user group whose members are invited, as the group is when the step
    runs (usergroups.users.list; the token needs usergroups:read)."""
    role: Role | None = None
    """addChecklist: the role whose tasks these are."""
    tasks: Annotated[list[TaskText], Field(max_length=20)] = []
    """addChecklist: the tasks, added to the incident's status.tasks once, numbered."""
    instructions: Instructions | None = None
    """addChecklist: private instructions sent to the role holder alone (a Slack direct
    message, once; never to the channel, status, Events or logs)."""
    mitigation: Mitigation | None = None
    """mitigate: one guarded mitigation on a target in the incident's namespace (as an SLO's
    spec.mitigations entry). Writing it needs the writer's own right to make that change (the
    chart's requester-authority policy); it runs like an SLO's: without approval only where
    the incident's Severity has mitigation.autoAllowed, through the target's consent guard,
    cooldown and maxActions (docs/workflows.md)."""
    webhook: Name | None = None
    """sendWebhook: the name of a webhook of the Team in team (Team.spec.webhooks). An
    IncidentWorkflow may use only the webhooks of a Team that admits its namespace; a
    ClusterIncidentWorkflow any Team's."""
    url_template: HttpsTemplate | None = None
    """startConference: the bridge's URL, https, e.g.
    https://meet.example.com/inc-${namespace}-${name} (placeholders as in text, each value
    percent-encoded; the host may hold none)."""
    card: Card | None = None
    """postMessage: also show this card (title, fields, link buttons) under the text."""
    duration: WaitDuration | None = None
    """wait: how long (h, m, s; at most 24h) before this run's later steps; counted from when
    the step is reached, kept in the incident's status (a restart neither skips nor repeats
    it). The later steps' if is judged when the wait is over."""
    owner: Name | None = None
    """createFollowUp: who owns the action item (default: none)."""
    due_in: PositiveDuration | None = None
    """createFollowUp: the action item is due this long after the step runs (e.g. 14d)."""
    roles: Roles | None = None
    """setRoles: participants (by name, as in the OnCallRotation) to set in the incident's
    spec.roles, e.g. commander: alice; a role already held there by that person is left as
    it is, roles not named are not touched. A person's spec.roles win over the rotation's,
    so status.roles follows."""

    @field_validator("duration")
    @classmethod
    def _bounded(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) > parse_duration(MAX_WAIT):
            raise ValueError(f"a wait lasts at most {MAX_WAIT}")
        return value

    def to_domain(self, index: int) -> domain.Action:
        return domain.Action(
            type=domain.ActionType(self.type.value),
            name=self.name or f"{index}-{self.type.value.lower()}",
            condition=self.if_,
            continue_on_error=self.continue_on_error,
            text=self.text or "",
            labels=tuple(sorted(self.labels.items())),
            severity=self.severity or "",
            description=self.description,
            team=self.team or "",
            route=self.route or "",
            users=tuple(self.users),
            channel=self.channel or "",
            user_group=self.user_group or "",
            role=self.role.value if self.role else "",
            tasks=tuple(self.tasks),
            instructions=self.instructions or "",
            mitigation=self.mitigation.to_domain("", mitigation_domain.Source.WORKFLOW)
            if self.mitigation is not None
            else None,
            webhook=self.webhook or "",
            url_template=self.url_template or "",
            card=_card(self.card),
            duration=parse_duration(self.duration) if self.duration else None,
            owner=self.owner or "",
            due_in=parse_duration(self.due_in) if self.due_in else None,
            roles=tuple(
                sorted((k, str(v)) for k, v in self.roles.model_dump().items() if v)
                if self.roles is not None
                else ()
            ),
        )


def _card(card: Card | None) -> actions.Card | None:
    if card is None:
        return None
    return actions.Card(
        card.title,
        tuple(actions.CardField(f.label, f.value) for f in card.fields),
        tuple(actions.CardButton(b.text, b.url) for b in card.buttons),
    )


class Repeat(StrEnum):
    """oncePerIncident: the actions run at most once per incident (the first matching trigger);
    everyTrigger: once per trigger occurrence."""

    ONCE_PER_INCIDENT = "oncePerIncident"
    EVERY_TRIGGER = "everyTrigger"


class WorkflowSpec(ApiModel):
    """When to act (triggers), whether to act (condition) and what to do (actions)."""

    description: ShortText = ""
    """What the workflow is for, for people."""
    triggers: Annotated[list[Trigger], Field(min_length=1, max_length=16)]
    """Events that make the operator evaluate the condition; any one of them suffices."""
    condition: Expression | None = None
    """CEL over incident (name, namespace, title, service, severity, phase, state, labels,
    roles, private, source), severity (name, level, displayName) and trigger (event); true
    runs the actions. Omitted: always. Example: incident.severity == 'sev-1' &&
    incident.labels['tier'] == '1'."""
    repeat: Repeat = Repeat.ONCE_PER_INCIDENT
    """oncePerIncident (the default) or everyTrigger."""
    actions: Annotated[list[Action], Field(min_length=1, max_length=16)]
    """Steps, run in order."""
    suspend: bool = False
    """Evaluate nothing while true."""

    def to_domain(self, ref: domain.WorkflowRef) -> domain.Workflow:
        return domain.Workflow(
            ref=ref,
            triggers=tuple(t.to_domain() for t in self.triggers),
            condition=self.condition,
            repeat=domain.Repeat(self.repeat.value),
            actions=tuple(a.to_domain(i) for i, a in enumerate(self.actions)),
            suspend=self.suspend,
        )

    def expressions(self) -> list[tuple[str, str]]:
        """Every CEL expression with the field path it sits at."""
        found = [("spec.condition", self.condition)] if self.condition else []
        found += [(f"spec.actions[{i}].if", a.if_) for i, a in enumerate(self.actions) if a.if_]
        return found


class WorkflowStatus(CommonStatus):
    """Ready (the spec and its CEL compiled) and what the workflow did."""

    runs: Annotated[int, Field(ge=0)] = 0
    """Runs so far (a trigger occurrence whose condition held), across incidents."""
    actions: Annotated[int, Field(ge=0)] = 0
    """Actions executed so far."""
    errors: Annotated[int, Field(ge=0)] = 0
    """Actions that failed so far."""
    last_run_at: datetime | None = None
    """When it last ran."""
    last_incident: ShortText = ""
    """The incident it last ran for, as namespace/name."""
    last_error: Annotated[str, Field(max_length=1024)] = ""
    """Why the last failing action failed."""
    last_error_at: datetime | None = None
    """When an action last failed."""


def workflow_ref(kind: str, metadata: dict[str, object]) -> domain.WorkflowRef:
    """The domain's identity of a workflow object."""
    return domain.WorkflowRef(
        kind=kind,
        namespace=str(metadata.get("namespace") or ""),
        name=str(metadata.get("name") or ""),
        uid=str(metadata.get("uid") or ""),
    )


class IncidentWorkflow(Resource):
    """Automation for the incidents of this namespace only: when a trigger fires and the CEL
    condition holds, run the actions (post to the channel, add a note, set labels, severity or
    roles) once per trigger occurrence."""

    api_version: Literal["sre.dev/v1alpha1"] = "sre.dev/v1alpha1"
    kind: Literal["IncidentWorkflow"] = "IncidentWorkflow"
    spec: WorkflowSpec
    status: WorkflowStatus = WorkflowStatus()


class ClusterIncidentWorkflow(Resource):
    """Automation for the incidents of every namespace (cluster-scoped, written by cluster
    admins): when a trigger fires and the CEL condition holds, run the actions once per
    trigger occurrence."""

    api_version: Literal["sre.dev/v1alpha1"] = "sre.dev/v1alpha1"
    kind: Literal["ClusterIncidentWorkflow"] = "ClusterIncidentWorkflow"
    spec: WorkflowSpec
    status: WorkflowStatus = WorkflowStatus()
