"""Incident: the human-set intent (spec) and everything the operator observed (status)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from incident_operator.domain.checklists import MAX_TASKS

from .common import (
    ApiModel,
    CommonStatus,
    LongText,
    Name,
    ObjectName,
    Resource,
    ShortText,
    cel,
    cel_rule,
)
from .mitigation import Mitigation, Mitigations
from .severity import Role


class IncidentState(StrEnum):
    """Lifecycle state: triage, investigating, mitigated, resolved, closed; an incident can also
    end as declined (not an incident) or merged (into another). closed, declined and merged are
    terminal."""

    TRIAGE = "triage"
    INVESTIGATING = "investigating"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    CLOSED = "closed"
    DECLINED = "declined"
    MERGED = "merged"


class Roles(ApiModel):
    """People by participant name (as in the OnCallRotation) holding each incident role."""

    commander: Name | None = None
    """Incident commander: leads the response, approves suggested mitigations and by default
    owns the postmortem."""
    communications: Name | None = None
    """Communications lead: keeps stakeholders informed with status updates."""
    operations: Name | None = None
    """Operations lead: works on the fix."""
    scribe: Name | None = None
    """Scribe: keeps the timeline and notes as the response unfolds."""


class SourceType(StrEnum):
    """What declared an incident: manual (a person, e.g. kubectl incident declare or a manifest),
    slo (an SLO's burn), alertmanager (an alert group) or chat (a Slack command)."""

    MANUAL = "manual"
    SLO = "slo"
    ALERTMANAGER = "alertmanager"
    CHAT = "chat"


class Source(ApiModel):
    """What declared the incident, and when the problem began as its source saw it."""

    type: SourceType = SourceType.MANUAL
    """manual (the default: a person), slo, alertmanager or chat."""
    ref: Annotated[str, Field(max_length=512)] = ""
    """What declared it: SLO name, Alertmanager group key, chat message link."""
    detected_at: datetime | None = None
    """When the problem began as the source saw it (for an SLO: when the burn began)."""


class PublicStatus(StrEnum):
    """Where a public update says the incident stands, in Statuspage's words: investigating,
    identified (the cause is known), monitoring (a fix is in) or resolved."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


class PublicUpdate(ApiModel):
    """One update written for customers (the status page shows it as written)."""

    at: datetime
    """When it was published (RFC 3339)."""
    status: PublicStatus
    """investigating, identified, monitoring or resolved."""
    text: Annotated[str, Field(min_length=1, max_length=2000)]
    """The update as customers read it."""
    author: Annotated[str, Field(max_length=64)] = ""
    """Who wrote it (never shown on the page)."""


class Public(ApiModel):
    """The incident as customers are told about it, kept apart from the internal title,
    summary and timeline, which never reach the status page."""

    title: Annotated[str, Field(max_length=200)] = ""
    """Headline on the status page; empty: the page shows the incident's title."""
    impact: Annotated[str, Field(max_length=1000)] = ""
    """What customers notice, in their words, e.g. Some card payments fail."""
    updates: Annotated[list[PublicUpdate], Field(max_length=50)] = []
    """Public updates, oldest first; the status page shows them instead of its own wording."""


class StakeholderUpdate(ApiModel):
    """The communications lead's say in the next stakeholder update (kubectl incident
    stakeholder-update, /incident stakeholder-update): its wording, and a request to send it
    before it is due. Where it goes is the Severity's (spec.stakeholders), never the
    incident's."""

    text: Annotated[str, Field(max_length=1000)] = ""
    """What is being done, in the stakeholders' words; used by every following update until
    changed. Empty: the latest note or status update of the timeline."""
    requested_at: datetime | None = None
    """Send an update now (the cadence restarts from it): an instant later than the last
    update's asks for one more, once."""


class IncidentSpec(ApiModel):
    """What people ask for: title, service, severity, requested state, roles and mitigations.

    Owned by humans and Git (kubectl, Slack commands, a GitOps tool); the operator judges each
    request and reports what is in force in status (phase, severity, roles).
    """

    model_config = ApiModel.model_config | {
        "json_schema_extra": cel(
            cel_rule(
                "self.state == 'merged' ? has(self.mergedInto) : !has(self.mergedInto)",
                "mergedInto names the surviving incident and is set exactly when state is merged",
                field_path=".mergedInto",
            ),
            # Transition rules the API server can judge from the spec alone (the operator
            # judges the rest, e.g. required roles, and says why in a condition and Event).
            cel_rule(
                "oldSelf.state != 'closed' || self.state == 'closed'",
                "a closed incident cannot change state (closed is terminal)",
                field_path=".state",
            ),
            cel_rule(
                "oldSelf.state != 'declined' || self.state == 'declined'",
                "a declined incident cannot change state (declined is terminal)",
                field_path=".state",
            ),
            cel_rule(
                "oldSelf.state != 'merged' || self.state == 'merged'",
                "a merged incident cannot change state (merged is terminal)",
                field_path=".state",
            ),
            cel_rule(
                "self.state != 'declined' || oldSelf.state in ['triage', 'investigating', "
                "'declined']",
                "only an incident in triage or investigating can be declined",
                field_path=".state",
            ),
            cel_rule(
                "self.state != 'triage' || oldSelf.state == 'triage'",
                "an incident cannot go back to triage once acknowledged",
                field_path=".state",
            ),
        )
    }

    title: Annotated[str, Field(min_length=1, max_length=200)]
    """One-line headline shown in chat, pages and listings, e.g. Checkout returns 5xx."""
    summary: LongText = ""
    """What is known so far, in prose; shown in the pinned status message in chat."""
    service: Name
    """The affected service, e.g. checkout: a Service (kind Service, this namespace) whose
    owner team is paged and involved (condition ServiceResolved)."""
    services: Annotated[
        list[Name], Field(max_length=16, json_schema_extra={"x-kubernetes-list-type": "set"})
    ] = []
    """Further services the incident touches; every owning team is involved
    (status.catalog.teams). Pages go to the first of spec.service, then these, whose owner
    has a routing key."""
    severity_ref: Name
    """Name of the cluster-scoped Severity."""
    state: IncidentState = IncidentState.TRIAGE
    """The state responders set; the operator validates each transition."""
    roles: Roles = Roles()
    """Roles people assigned, by participant name; status.roles holds the effective roles, the
    empty ones filled from the on-call rotation."""
    source: Source = Source()
    """What declared the incident and when the problem began (manual unless the operator
    declared it)."""
    private: bool = False
    """Private incidents get a private channel and stay off the status page."""
    public: Public = Public()
    """Public title, impact and updates for the status page (kubectl incident update
    --public); the internal title, summary and timeline never reach the page."""
    stakeholder_update: StakeholderUpdate = StakeholderUpdate()
    """Wording of, and requests for, stakeholder updates (the Severity sets the cadence)."""
    merged_into: Name | None = None
    """The surviving incident, when state is merged."""
    mitigations: Mitigations = []
    """Mitigations requested for this incident (by a human: they need no further approval)."""
    approved_mitigations: Annotated[
        list[Name], Field(max_length=16, json_schema_extra={"x-kubernetes-list-type": "set"})
    ] = []
    """Names of suggested mitigations (the SLO's, in mode suggest) the commander approved."""
    rotation_ref: Name | None = None
    """OnCallRotation (same namespace) whose people take the roles and the escalations;
    empty: the Severity's rotationRef. The SLO engine fills it from the SLO's declare block."""
    tasks_done: Annotated[
        list[Annotated[int, Field(ge=1, le=MAX_TASKS)]],
        Field(max_length=MAX_TASKS, json_schema_extra={"x-kubernetes-list-type": "set"}),
    ] = []
    """Numbers of the checklist tasks (status.tasks) people ticked (kubectl incident task done
    N, /incident task done N); status.tasks[].done follows. Removing a number reopens it."""


class Timestamps(ApiModel):
    """When the incident reached each milestone, as the operator stamped it (RFC 3339).
    Skipping states stamps every milestone passed; reopening clears mitigated and resolved."""

    detected: datetime | None = None
    """When the problem began: spec.source.detectedAt, or the burn's or alerts' start."""
    declared: datetime | None = None
    """When the incident was declared (its creation, for one a person created)."""
    acknowledged: datetime | None = None
    """When it left triage: someone took it on."""
    mitigated: datetime | None = None
    """When it reached mitigated: the impact stopped, the cause may remain."""
    resolved: datetime | None = None
    """When it reached resolved."""
    closed: datetime | None = None
    """When it was closed."""


class Durations(ApiModel):
    """MTTx figures in seconds."""

    time_to_detect: float | None = None
    """Seconds from when the problem began to the declaration."""
    time_to_acknowledge: float | None = None
    """Seconds from the declaration to acknowledgement."""
    time_to_mitigate: float | None = None
    """Seconds from the declaration to mitigation."""
    time_to_resolve: float | None = None
    """Seconds from the declaration to resolution."""


class TimelineEntry(ApiModel):
    """One dated event of an incident: a state change, role change, escalation, note, chat pin,
    mitigation step, or (in a postmortem) a Kubernetes Event."""

    at: datetime
    """When it happened."""
    type: Annotated[str, Field(max_length=64, pattern=r"^[a-z][a-z0-9-]*$")]
    """Kind of entry, e.g. declared, state-changed, escalated, note, mitigation, recent-change."""
    message: Annotated[str, Field(max_length=4096)]
    """What happened, for people."""
    author: ShortText = ""
    """Who wrote or caused it: a person, or incident-operator."""
    source: Annotated[str, Field(max_length=64)] = ""
    """Where it came from, e.g. kubectl, slack, operator, mitigation, slo/<name>."""
    key: Annotated[str, Field(max_length=256)] = ""
    """Deduplication key."""


class TaskStatus(ApiModel):
    """One task a role owes this incident, from the Severity's or a workflow's checklist."""

    number: Annotated[int, Field(ge=1, le=MAX_TASKS)]
    """What people tick it by; never reused."""
    key: Annotated[str, Field(max_length=256)]
    """Its checklist's id and the task's place in it: added once under this key."""
    role: Role
    """The role that owes it."""
    text: Annotated[str, Field(max_length=200)]
    """The task."""
    source: Annotated[str, Field(max_length=256)]
    """Its checklist: severity/<severity>/<role>, or the workflow step's key (wf/...)."""
    instructions: bool = False
    """Its checklist has private instructions for the role holder (sent as a direct message;
    the text itself is never kept here)."""
    done: bool = False
    """Its number is in spec.tasksDone."""
    done_by: ShortText = ""
    """Who ticked it (the author of its task-done timeline entry)."""
    done_at: datetime | None = None
    """When the operator saw it ticked."""


MAX_ESCALATIONS = 80
"""Escalation levels an incident can reach: eight steps, run in ten rounds at most."""


class EscalationRecord(ApiModel):
    """One escalation step that ran: whom it reached, so chat and the pager can follow."""

    level: Annotated[int, Field(ge=1, le=MAX_ESCALATIONS)]
    """Escalation level, counting from 1 across repeated rounds."""
    target: ShortText
    """The step's target as configured: layer/<name>, person/<name> or team/<name>."""
    person: Name | None = None
    """The participant it reached (the one on call in the layer at the step's due time);
    empty for a team or a layer with nobody on call."""
    at: datetime
    """When the step ran (its due time)."""


class ResponseStatus(ApiModel):
    """Where the Severity's response policy stands (escalations and update reminders)."""

    ack_due: datetime | None = None
    """The first escalation runs at this instant if nobody acknowledged by then."""
    escalation_level: Annotated[int, Field(ge=0, le=MAX_ESCALATIONS)] = 0
    """How many escalation steps have run (0: none)."""
    escalated_to: Annotated[list[Name], Field(max_length=64)] = []
    """People notified by escalation, in order of their first step."""
    escalations: Annotated[list[EscalationRecord], Field(max_length=MAX_ESCALATIONS)] = []
    """The steps that ran, in order: each is paged and its person messaged directly."""
    next_escalation_at: datetime | None = None
    """When the next escalation step runs if the incident is still unacknowledged then."""
    last_update: datetime | None = None
    """Last status update (note, status update or state change)."""
    update_due: datetime | None = None
    """A reminder is posted if no status update arrives by then."""


class TimelineSummary(ApiModel):
    """What was folded out of the bounded timeline: the oldest detail, counted by type."""

    entries: Annotated[int, Field(ge=0)] = 0
    """How many entries were folded out of status.timeline."""
    by_type: Annotated[dict[str, int], Field(max_length=64)] = {}
    """Number of folded entries per entry type, e.g. note: 120."""
    first: datetime | None = None
    """Time of the oldest folded entry."""
    last: datetime | None = None
    """Time of the newest folded entry."""


class ChatRef(ApiModel):
    """What the chat layer delivered (the outbox compares it with what is wanted)."""

    channel_id: ShortText = ""
    """Id of the incident's own channel, once created."""
    channel_name: ShortText = ""
    """Name of that channel, e.g. inc-2026-12-06-checkout-returns-5xx."""
    status_message_ts: ShortText = ""
    """Slack timestamp (the message id) of the status message posted in the channel."""
    status_digest: ShortText = ""
    """Content version of the pinned status message as last posted or updated."""
    topic_digest: ShortText = ""
    """Content version of the channel topic as last set."""
    invited: Annotated[list[ShortText], Field(max_length=64)] = []
    """Slack user ids invited to the channel."""
    pinned: bool = False
    """Whether the status message is pinned in the channel."""
    announced: Annotated[list[ShortText], Field(max_length=8)] = []
    """Channels (the Severity's chat.announceChannels) the declaration was announced in."""
    posted: Annotated[list[ShortText], Field(max_length=500)] = []
    """Fingerprints of the timeline entries posted to the channel."""
    channel_posts: Annotated[list[ShortText], Field(max_length=16)] = []
    """Ids of the workflows' posts to named channels delivered (status.workflows.channelPosts)."""
    archived: bool = False
    """Whether the channel was archived (after close, or when the incident was deleted)."""
    direct_messages: Annotated[
        list[Annotated[int, Field(ge=1, le=MAX_ESCALATIONS)]],
        Field(max_length=MAX_ESCALATIONS),
    ] = []
    """Escalation levels whose person was sent a direct message."""
    instructed: Annotated[list[Annotated[str, Field(max_length=32)]], Field(max_length=32)] = []
    """Ids of the checklists whose private instructions were sent to the role holder."""


class EscalationPage(ApiModel):
    """The page of one escalation step (dedup key <incident's>/escalation/<level>)."""

    level: Annotated[int, Field(ge=1, le=MAX_ESCALATIONS)]
    """The escalation level it pages for."""
    state: ShortText = ""
    """triggered, acknowledged or resolved."""
    team: Name | None = None
    """The team whose routing key it was triggered with; empty: the operator's global key.
    Acknowledge and resolve go to the same key."""
    route: Name | None = None
    """The team's named route used, if any."""


class WorkflowPage(ApiModel):
    """A page a workflow's page step triggered (keyed by the step's id)."""

    dedup_key: ShortText
    """incident-operator/<namespace>/<name>/workflow/<workflow>/<action>[/<occurrence>]."""
    state: ShortText = ""
    """triggered or resolved (resolved when the incident leaves the paged phases)."""
    team: Name
    """The Team whose routing key it was triggered with; resolve goes to the same key."""
    route: Name | None = None
    """The team's named route used, if any."""
    workflow: ShortText = ""
    """The workflow and step that paged, for people."""


class PagerRef(ApiModel):
    """The incident's page at the pager (PagerDuty Events v2), as last confirmed."""

    dedup_key: ShortText = ""
    """Dedup key of the page, incident-operator/<namespace>/<name>."""
    state: ShortText = ""
    """triggered, acknowledged or resolved."""
    escalations: Annotated[list[ShortText], Field(max_length=32)] = []
    """Fingerprints of the escalation timeline entries (a failed mitigation) the page was
    triggered again for, with the same dedup key."""
    team: Name | None = None
    """The owning team whose routing key the page was triggered with (service catalog);
    empty: the operator's global key. Acknowledge and resolve go to the same key."""
    route: Name | None = None
    """The team's named route used, if any."""
    escalation_pages: Annotated[list[EscalationPage], Field(max_length=MAX_ESCALATIONS)] = []
    """The escalation steps' own pages, by level."""
    workflow_pages: Annotated[dict[str, WorkflowPage], Field(max_length=32)] = {}
    """Pages triggered by workflows' page steps, by step id (a map: the workflow runner adds
    to it and comms resolves in it, each merging only its own keys)."""


class StakeholderStatus(ApiModel):
    """Stakeholder updates sent (what the operator observed; the schedule follows from it)."""

    sequence: Annotated[int, Field(ge=0)] = 0
    """Number of the latest update (1 is the first)."""
    anchor: datetime | None = None
    """The instant the latest update stands for: its due time, or when it was sent early; the
    next one is due one Severity cadence later."""
    phase: ShortText = ""
    """The phase the latest update reported."""
    text: Annotated[str, Field(max_length=4096)] = ""
    """The latest update as sent (every target gets the same words, retries included)."""
    delivered: Annotated[list[ShortText], Field(max_length=16)] = []
    """Targets (#channel, webhook name) that confirmed the latest update."""
    handled_request: datetime | None = None
    """The spec.stakeholderUpdate.requestedAt already answered."""
    last_sent_at: datetime | None = None
    """When the latest update was opened for sending."""
    next_due_at: datetime | None = None
    """When the next update is due (empty: none while the incident stays as it is)."""


MAX_SUBSCRIBER_DELIVERIES = 20000


class SubscriptionStatus(ApiModel):
    """Status page subscribers notified of this incident's public updates."""

    delivered: Annotated[
        list[Annotated[str, Field(max_length=32)]], Field(max_length=MAX_SUBSCRIBER_DELIVERIES)
    ] = []
    """Keys of the notifications confirmed (one per subscriber and public update, opaque:
    no address); keys that can never be owed again are dropped."""


class OutboxRecord(ApiModel):
    """One owed side effect that was attempted and is not confirmed yet."""

    kind: ShortText
    """The operation, e.g. create-channel, post-entry, page-trigger or notify."""
    attempts: Annotated[int, Field(ge=0)] = 0
    """Attempts made so far."""
    last_attempt_at: datetime | None = None
    """When it was last attempted."""
    next_attempt_at: datetime | None = None
    """Earliest next attempt (after a backoff, or the service's Retry-After)."""
    last_error: Annotated[str, Field(max_length=1024)] = ""
    """Why the last attempt failed."""


class MitigationResult(ApiModel):
    """One mitigation of this incident and where it stands, updated at every step."""

    name: ShortText
    """The mitigation's name, given or derived from action and target, e.g. rollback-checkout."""
    action: ShortText
    """rollback, shiftTraffic, abortRollout, scale or patchConfigMap."""
    target: ShortText
    """The object acted on, as kind/name, e.g. deployment/checkout."""
    state: ShortText
    """pending-approval, waiting, blocked, refused, running, dry-run, no-op, applied,
    verified or failed."""
    dry_run: bool = False
    """Run as a server-side dry run: planned and recorded, nothing changed."""
    started_at: datetime | None = None
    """When the action started."""
    finished_at: datetime | None = None
    """When it reached its last state."""
    message: Annotated[str, Field(max_length=4096)] = ""
    """What happened or why it waits, for people."""
    source: ShortText = ""
    """Who asked for it: slo (the SLO's mitigations), incident (the incident's spec) or
    workflow (a workflow's mitigate step, status.workflows.mitigations)."""
    verify_by: datetime | None = None
    """The short-window burn must be below the pair's threshold by then (closed loop)."""
    undo: Annotated[str, Field(max_length=4096)] = ""
    """The Mitigation (JSON) that puts the target back, for mitigationPolicy.revertOnFailure."""


class ChangeFreeze(ApiModel):
    """A GitOps object whose change freeze the incident holds (shared with any other incident
    freezing it: the object's sre.dev/change-freeze annotation lists the holders)."""

    api_version: ShortText
    """API version of the GitOps object, e.g. kustomize.toolkit.fluxcd.io/v1."""
    kind: ShortText
    """Kustomization or HelmRelease (Flux), or Application (Argo CD)."""
    namespace: Name
    """Namespace of the GitOps object."""
    name: ShortText
    """Name of the GitOps object."""
    previous: Annotated[str, Field(max_length=4096)] = "null"
    """The original setting the shared freeze will put back, as JSON (spec.suspend for Flux,
    spec.syncPolicy.automated for Argo CD; null: it was not set)."""
    frozen_at: datetime | None = None
    """When the hold was confirmed on the GitOps object (empty: being acquired)."""
    restored_at: datetime | None = None
    """When this incident released its hold; the original setting is back once the last
    holder has released."""


class SeenAlertStatus(ApiModel):
    """The last status the operator saw of one alert of the group."""

    status: Literal["firing", "resolved"]
    """firing or resolved."""
    at: datetime
    """When that status began: the alert's startsAt (firing) or endsAt (resolved)."""


class AlertGroupStatus(ApiModel):
    """The Alertmanager group as the operator has seen it, alert by alert."""

    alerts: Annotated[dict[str, SeenAlertStatus], Field(max_length=500)] = {}
    """Alert fingerprint -> its last status: every alert ever seen in the group. The incident
    auto-resolves only when all are resolved (a group's own status can hide truncated ones)."""
    overflow: bool = False
    """More alerts than can be remembered were seen: the group never auto-resolves."""


class Conclusion(ApiModel):
    """A conclusion the operator drew over a human's value (docs/gitops.md).

    It holds while the spec still says ``over``; when a human or Git changes that field,
    their value wins and the conclusion is dropped.
    """

    value: ShortText
    """What the operator concluded: a phase or a Severity name."""
    over: ShortText = ""
    """The spec's value when it was drawn."""
    reason: Annotated[str, Field(max_length=128)] = ""
    """Why, in CamelCase (MitigationVerified, AlertsResolved, BurnStopped, FasterBurn)."""
    message: Annotated[str, Field(max_length=1024)] = ""
    """What led to it, for people."""
    at: datetime | None = None
    """When it was drawn."""


class Conclusions(ApiModel):
    """The operator's own conclusions, kept out of the spec that humans and Git own."""

    state: Conclusion | None = None
    """The phase the operator moved the incident to (mitigated, resolved)."""
    severity: Conclusion | None = None
    """The severity the operator's source raised or lowered the incident to."""


class WorkflowSnapshot(ApiModel):
    """The incident as the workflows last saw it: their change triggers compare against it."""

    phase: ShortText = ""
    """Phase in force then."""
    severity: ShortText = ""
    """Severity in force then."""
    labels: Annotated[dict[str, Annotated[str, Field(max_length=63)]], Field(max_length=64)] = {}
    """The incident's labels then."""
    timeline_at: datetime | None = None
    """The newest timeline entry seen then (newer ones fire timelineEntry triggers)."""
    roles: Annotated[dict[str, Name], Field(max_length=4)] = {}
    """The effective roles then, role -> person."""


class WorkflowRun(ApiModel):
    """One run of a workflow for this incident."""

    workflow: ShortText
    """The workflow, as Kind namespace/name."""
    key: Annotated[str, Field(max_length=256)]
    """The run's key: workflow uid and trigger occurrence (its steps add /index)."""
    events: Annotated[list[ShortText], Field(max_length=8)] = []
    """The trigger events that fired it."""
    at: datetime
    """When it ran."""
    result: ShortText
    """succeeded, failed, partial, stopped (an earlier workflow's stop step ended it) or waiting
    (paused at a wait step; its record is replaced when the run resumes)."""
    actions: Annotated[list[ShortText], Field(max_length=16)] = []
    """The steps that ran, by name (skipped ones are not listed)."""
    message: Annotated[str, Field(max_length=1024)] = ""
    """What failed, for people."""


class WorkflowChannelPost(ApiModel):
    """One postMessage to a named channel, as the comms outbox delivers it."""

    channel: Annotated[str, Field(min_length=2, max_length=81)]
    """#name or channel id."""
    text: Annotated[str, Field(max_length=3000)]
    """The rendered text."""
    workflow: ShortText = ""
    """The workflow and step that asked for it, for people."""


class WorkflowChecklist(ApiModel):
    """One addChecklist step's tasks (never its instructions)."""

    role: Role
    """The role that owes them."""
    tasks: Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=20)]
    """The tasks, in order."""
    instructions: bool = False
    """The step has private instructions for the role holder."""
    workflow: ShortText = ""
    """The workflow and step, for people."""


class WorkflowMitigation(ApiModel):
    """One mitigation a workflow's mitigate step requested; the mitigation service runs it
    like an SLO's listed one (status.mitigations)."""

    mitigation: Mitigation
    """The mitigation, as the step declared it (its target in the incident's namespace)."""
    workflow: ShortText = ""
    """The workflow and step that asked for it, for people."""
    key: Annotated[str, Field(max_length=256)] = ""
    """The step's key (status.workflows.done)."""


class WorkflowCardField(ApiModel):
    """One labelled value of a card."""

    label: Annotated[str, Field(max_length=2048)]
    """The label, rendered."""
    value: Annotated[str, Field(max_length=4096)]
    """The value, rendered."""


class WorkflowCardButton(ApiModel):
    """One link button of a card."""

    text: Annotated[str, Field(max_length=512)]
    """The button's label, rendered."""
    url: Annotated[str, Field(max_length=4096)]
    """Where it links (https), rendered."""


class WorkflowCard(ApiModel):
    """A postMessage step's card, rendered (placeholders replaced), as comms posts it."""

    title: Annotated[str, Field(max_length=2048)] = ""
    """The header."""
    fields: Annotated[list[WorkflowCardField], Field(max_length=10)] = []
    """Labelled values."""
    buttons: Annotated[list[WorkflowCardButton], Field(max_length=5)] = []
    """Link buttons."""


class WorkflowWebhook(ApiModel):
    """One sendWebhook step's delivery: owed until delivered (attempts in status.outbox)."""

    team: ShortText
    """The Team whose webhook it is."""
    webhook: ShortText
    """The webhook's name in the Team's spec.webhooks."""
    workflow: ShortText = ""
    """The workflow and step that asked for it, for people."""
    namespaced: bool = False
    """Asked by an IncidentWorkflow (the Team must still admit the namespace when sent)."""
    key: Annotated[str, Field(max_length=512)]
    """The Idempotency-Key it is sent with (incident uid and step key)."""
    state: Annotated[str, Field(pattern=r"^(owed|delivered)$")] = "owed"
    """owed or delivered."""
    delivered_at: datetime | None = None
    """When the receiver confirmed it (a 2xx answer)."""


class WorkflowWait(ApiModel):
    """A run paused at a wait step: its later steps run at resumeAt."""

    key: Annotated[str, Field(max_length=256)]
    """The wait step's key (workflow uid, trigger occurrence, step index)."""
    resume_at: datetime
    """When the run's later steps are due (the step was reached plus its duration)."""
    event: ShortText = ""
    """The trigger event the run is for (the later steps' CEL sees it as trigger.event)."""
    detail: Annotated[str, Field(max_length=512)] = ""
    """The trigger occurrence's detail (trigger.detail)."""
    occurrences: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=8)] = []
    """The trigger occurrences the run is for."""
    workflow: ShortText = ""
    """The workflow, as Kind namespace/name, for people."""


class WorkflowFollowUp(ApiModel):
    """An action item a createFollowUp step asked for, carried into the incident's postmortem."""

    title: Annotated[str, Field(min_length=1, max_length=256)]
    """The action item's title."""
    owner: ShortText = ""
    """Its owner, if the step named one."""
    due: date | None = None
    """Its due date, if the step gave dueIn."""
    workflow: ShortText = ""
    """The workflow and step that asked for it, for people."""
    postmortem: ShortText = ""
    """The postmortem it was added to (empty: none yet; added when one is drafted)."""
    message: Annotated[str, Field(max_length=1024)] = ""
    """Why it was not added (e.g. Git declares the postmortem's action items: add it there)."""


class WorkflowsStatus(ApiModel):
    """What the workflows did for this incident: the keys of the steps done (so nothing runs
    twice) and the newest runs (older ones counted in runsFolded)."""

    seen: WorkflowSnapshot | None = None
    sequence: Annotated[int, Field(ge=0)] = 0
    """Number of changes the workflows have seen; a change occurrence is named after it."""
    done: Annotated[list[Annotated[str, Field(max_length=256)]], Field(max_length=512)] = []
    """Keys of the steps done or decided, oldest first."""
    runs: Annotated[list[WorkflowRun], Field(max_length=50)] = []
    """The newest runs, oldest first."""
    runs_folded: Annotated[int, Field(ge=0)] = 0
    """Older runs folded out of runs."""
    channel_posts: Annotated[dict[str, WorkflowChannelPost], Field(max_length=16)] = {}
    """Posts the workflows' postMessage steps owe named channels, by id; the comms outbox
    delivers each once (status.chat.channelPosts)."""
    invitees: Annotated[
        list[Annotated[str, Field(pattern=r"^[UW][A-Z0-9]{2,20}$", max_length=21)]],
        Field(max_length=100),
    ] = []
    """Slack users the workflows' invite steps asked to be in the incident's channel; the
    comms outbox invites each once (status.chat.invited)."""
    checklists: Annotated[dict[str, WorkflowChecklist], Field(max_length=16)] = {}
    """Checklists the workflows' addChecklist steps added, by step key (status.tasks holds
    their tasks, numbered)."""
    mitigations: Annotated[dict[str, WorkflowMitigation], Field(max_length=16)] = {}
    """Mitigations the workflows' mitigate steps requested, by name; each is requested once
    per incident and run by the mitigation service (status.mitigations, source workflow)."""
    cards: Annotated[dict[str, WorkflowCard], Field(max_length=16)] = {}
    """Cards of the workflows' postMessage steps, by the id of the post (its timeline
    entry's or named-channel post's); comms posts each with its message."""
    webhooks: Annotated[dict[str, WorkflowWebhook], Field(max_length=16)] = {}
    """The sendWebhook steps' deliveries, by id."""
    waits: Annotated[dict[str, WorkflowWait], Field(max_length=32)] = {}
    """Runs paused at a wait step, by id; the workflow timer resumes each when it is due."""
    follow_ups: Annotated[dict[str, WorkflowFollowUp], Field(max_length=32)] = {}
    """Action items createFollowUp steps asked for, by id (once per step key); each is added
    to the incident's postmortem once, when the step runs or when the postmortem is drafted."""


class ServiceOwner(ApiModel):
    """One service the incident touches and the team that owns it."""

    service: Name
    """The Service (this namespace)."""
    team: Name
    """Its owner Team."""


class CatalogStatus(ApiModel):
    """The incident's services as the service catalog resolved them (condition
    ServiceResolved says what did not resolve)."""

    owners: Annotated[list[ServiceOwner], Field(max_length=16)] = []
    """Each resolved service with its owner team."""
    teams: Annotated[list[Name], Field(max_length=16)] = []
    """Every owning team; all are involved."""
    paging_team: Name | None = None
    """The team whose routing key pages go to; empty: the operator's global key."""
    paging_route: Name | None = None
    """The team's named route in use; empty: the team's default key."""


class ConferenceStatus(ApiModel):
    """The conference bridge a workflow's startConference step started."""

    url: Annotated[str, Field(max_length=2048, pattern=r"^https://\S+$")]
    """The bridge's URL (also shown in the pinned status message and the topic)."""
    workflow: ShortText = ""
    """The workflow and step that started it."""
    started_at: datetime | None = None
    """When it was started."""


class IncidentStatus(CommonStatus):
    """What the operator holds in force and observed: phase, severity, roles, milestones, the
    timeline, and what chat, pager and webhooks were sent. Written only by the operator."""

    phase: IncidentState | None = None
    """The state the operator accepted: spec.state, or the operator's own conclusion while
    spec.state is still the value it was drawn over (status.conclusions.state)."""
    severity: Name | None = None
    """The severity in force: spec.severityRef, or status.conclusions.severity while it holds."""
    conclusions: Conclusions | None = None
    timestamps: Timestamps = Timestamps()
    durations: Durations = Durations()
    roles: Roles = Roles()
    """Effective roles: spec roles, filled from the rotation where empty."""
    rotation_roles: Roles = Roles()
    """What the on-call rotation gave at declaration (commander, operations); the fallback
    wherever spec.roles is empty, kept so a later reconcile never re-asks a rotation whose
    on-call person has changed since."""
    timeline: Annotated[list[TimelineEntry], Field(max_length=500)] = []
    """Newest entries; older detail is folded into timelineSummary to stay well under the
    API server's object size limit."""
    timeline_summary: TimelineSummary | None = None
    response: ResponseStatus | None = None
    chat: ChatRef | None = None
    pager: PagerRef | None = None
    notified: Annotated[dict[str, ShortText], Field(max_length=16)] = {}
    """Webhook notifier -> the last event delivered to it."""
    stakeholders: StakeholderStatus | None = None
    """Stakeholder updates (Severity spec.stakeholders)."""
    subscriptions: SubscriptionStatus | None = None
    """Status page subscribers notified (webhooks, e-mail)."""
    outbox: Annotated[dict[str, OutboxRecord], Field(max_length=128)] = {}
    """Side effects attempted but not yet confirmed, by idempotency key: written before each
    attempt, removed on success, so a restart retries them (looking up before re-creating)."""
    mitigations: Annotated[list[MitigationResult], Field(max_length=32)] = []
    """The mitigations requested for or suggested to this incident, each in its latest state."""
    freezes: Annotated[list[ChangeFreeze], Field(max_length=16)] = []
    """GitOps objects suspended while this incident is open (change freeze)."""
    postmortem_ref: ObjectName | None = None
    """The Postmortem (same namespace) the operator created for this incident."""
    alertmanager: AlertGroupStatus | None = None
    """For incidents declared from Alertmanager: the alerts seen in the group."""
    workflows: WorkflowsStatus | None = None
    """What the IncidentWorkflows and ClusterIncidentWorkflows did for this incident."""
    conference: ConferenceStatus | None = None
    """The conference bridge a workflow started (startConference), if any."""
    catalog: CatalogStatus | None = None
    tasks: Annotated[list[TaskStatus], Field(max_length=MAX_TASKS)] = []
    """The roles' checklist tasks (Severity spec.checklists, workflows' addChecklist steps),
    by number, each added once."""


class Incident(Resource):
    """Something is broken and people are responding. spec holds what people ask for (state,
    severity, roles); status holds what the operator put in force and observed."""

    api_version: Literal["sre.dev/v1alpha1"] = "sre.dev/v1alpha1"
    kind: Literal["Incident"] = "Incident"
    spec: IncidentSpec
    status: IncidentStatus = IncidentStatus()
