"""Severity: cluster-wide response policy an incident inherits by reference."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from incident_operator.domain import postmortem
from incident_operator.domain.durations import parse_duration
from incident_operator.domain.public_draft import DraftTemplates

from .common import (
    ApiModel,
    CommonStatus,
    Duration,
    Name,
    PositiveDuration,
    Resource,
    ShortText,
)


class Role(StrEnum):
    """An incident role: commander, communications, operations or scribe."""

    COMMANDER = "commander"
    COMMUNICATIONS = "communications"
    OPERATIONS = "operations"
    SCRIBE = "scribe"


class Response(ApiModel):
    """What the responders owe an incident of this severity."""

    ack_within: Duration = "15m"
    """Escalate along the rotation's chain when nobody acknowledges within this time: no
    step runs earlier; a step with a longer ``after`` runs at its own time; a rotation
    without escalation steps escalates down its layers, one more layer per ackWithin."""
    update_every: Duration = "1h"
    """Remind the channel each time this long passes without a status update (a note, a
    status update or a state change) while the incident is unresolved."""
    required_roles: Annotated[
        list[Role], Field(max_length=4, json_schema_extra={"x-kubernetes-list-type": "set"})
    ] = [Role.COMMANDER]
    """Roles that must be filled before the incident may resolve."""


class Urgency(StrEnum):
    """Pager urgency: high or low."""

    HIGH = "high"
    LOW = "low"


class Paging(ApiModel):
    """Whether incidents of this severity page the people on call, and how urgently."""

    page: bool = False
    """Page the people on call when an incident of this severity is declared."""
    urgency: Urgency = Urgency.HIGH
    """Pager urgency: high wakes people up, low waits for working hours."""


ChannelName = Annotated[
    str, Field(min_length=2, max_length=81, pattern=r"^#?[a-z0-9][a-z0-9._-]*$")
]


class Chat(ApiModel):
    """What the chat integration does for incidents of this severity."""

    create_channel: bool = False
    """Open a dedicated chat channel per incident."""
    announce_channels: Annotated[list[ChannelName], Field(max_length=8)] = []
    """Channels told about every new incident of this severity, e.g. #incidents."""


class PostmortemPolicy(ApiModel):
    """When incidents of this severity owe a postmortem, and by when."""

    required: bool = False
    """An incident of this severity cannot close before its postmortem is published."""
    due_within: Duration = "5d"
    """Postmortem due date, counted from resolution."""
    budget_share: Annotated[float, Field(gt=0, le=100)] | None = None
    """Also owe a postmortem when the incident consumed more than this percentage of an
    affected SLO's error budget (even where ``required`` is false)."""

    def to_domain(self) -> postmortem.Policy:
        return postmortem.Policy(
            required=self.required,
            due_within=parse_duration(self.due_within),
            budget_share=None if self.budget_share is None else self.budget_share / 100,
        )


class MitigationAllowance(ApiModel):
    """What guarded mitigations may do while an incident of this severity is open."""

    auto_allowed: bool = False
    """Whether mitigations in mode auto may run without approval at this severity."""
    freeze_changes: bool = False
    """While an incident of this severity is open, suspend the Flux Kustomization/HelmRelease
    or turn off the Argo CD Application auto-sync that manage a mitigation target about to
    be changed (so GitOps cannot revert the mitigation). Only a GitOps object whose status
    lists the target (Flux status.inventory, Argo CD status.resources) is frozen, and only in
    the incident's namespace or one of freezeNamespaces. Incidents freezing the same object
    share the freeze; the original setting is restored when the last of them ends or is
    deleted. Set it on every severity at or above the level that should freeze."""
    freeze_namespaces: Annotated[list[Name], Field(max_length=32)] = []
    """Namespaces besides the incident's own where a freeze may act, e.g. flux-system or
    argocd. A freeze there pauses everything that GitOps object applies, for every team it
    serves: list a namespace only where that is intended."""


class StatusPageImpact(StrEnum):
    """Impact on the public status page: none, minor, major or critical."""

    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


class PublicDraft(ApiModel):
    """Suggested public wording for incidents of this severity, which the communications lead
    edits or accepts (kubectl incident update --public --draft / --accept, /incident update
    --public draft / accept). Placeholders: {service}, {impact} (degraded performance,
    partial outage, major outage; none: disruption), {status} (investigating, monitoring,
    resolved); other text is kept as written."""

    title: Annotated[str, Field(min_length=1, max_length=200)] = "{service}: {impact}"
    """Suggested public title."""
    investigating: Annotated[str, Field(min_length=1, max_length=2000)] = (
        "We are investigating {impact} of {service}."
    )
    """Suggested update while the incident is in triage or investigating."""
    monitoring: Annotated[str, Field(min_length=1, max_length=2000)] = (
        "A fix for the {impact} of {service} is in place and we are monitoring the results."
    )
    """Suggested update once the incident is mitigated."""
    resolved: Annotated[str, Field(min_length=1, max_length=2000)] = (
        "The {impact} of {service} has been resolved."
    )
    """Suggested update once the incident is resolved or closed."""

    def to_domain(self) -> DraftTemplates:
        return DraftTemplates(self.title, self.investigating, self.monitoring, self.resolved)


class StatusPage(ApiModel):
    """Whether and how incidents of this severity appear on the public status page."""

    publish: bool = False
    """List incidents of this severity on the public status page (GET /status and the
    Statuspage-compatible /api/v2/*.json). Off by default: nothing is public until a cluster
    admin opts a severity in, and a private incident (spec.private) is never listed."""
    impact: StatusPageImpact = StatusPageImpact.NONE
    """Impact shown on the public status page."""
    accept: bool = False
    """List an incident only once a person has published a public update for it (written, or
    a draft accepted); until then it stays off the page. Off: listed at once, in the page's
    own wording until someone writes."""
    draft: PublicDraft = PublicDraft()


class Stakeholders(ApiModel):
    """Stakeholder updates: a short summary (phase, impact, what is being done, next update
    time) posted on a cadence to internal stakeholder channels and the operator's webhooks.
    The channels are named here, by the cluster admin, and nowhere else: an Incident (which a
    namespace tenant writes) cannot make the operator post anywhere."""

    update_every: PositiveDuration | None = None
    """Cadence, e.g. 30m: the first update goes out at declaration, the next this long after
    the previous one, until the incident resolves (one last update then). Empty: none."""
    channels: Annotated[list[ChannelName], Field(max_length=8)] = []
    """Chat channels that get the updates, e.g. #exec-updates."""
    webhooks: bool = False
    """Also send each update to the operator's configured webhooks (--webhook-url, Teams),
    event stakeholder-update. Never for a private incident."""
    remind_before: Duration = "5m"
    """Remind the communications lead in the incident's channel this long before an update is
    due (0s: no reminder), so they can send it early or edit its text."""
    include_private: bool = False
    """Post updates of private incidents to the channels too (they must be internal)."""


TaskText = Annotated[str, Field(min_length=1, max_length=200)]
"""One task of a role's checklist, e.g. Page the payments lead."""
Instructions = Annotated[str, Field(max_length=2000)]
"""Private text for a role holder: sent to them alone, as a direct message, once."""


class Checklist(ApiModel):
    """What one role owes every incident of this severity."""

    role: Role
    """commander, communications, operations or scribe."""
    tasks: Annotated[list[TaskText], Field(min_length=1, max_length=20)]
    """The tasks, in order; each is added to the incident's status.tasks once, with a number
    people tick it by (kubectl incident task done N, /incident task done N). A task whose
    text changes here is a new task for open incidents; the old one stays."""
    instructions: Instructions = ""
    """Private instructions sent to the role holder alone, as a Slack direct message, once
    per incident (never to the channel, never into status, Events or logs)."""


class SeveritySpec(ApiModel):
    """The response policy incidents of this severity inherit: response times, paging, chat,
    postmortem, mitigations and the status page. Written by cluster admins; incidents name it
    in spec.severityRef."""

    level: Annotated[int, Field(ge=1, le=5)]
    """1 is the worst."""
    display_name: Annotated[str, Field(min_length=1, max_length=64)]
    """Name shown to people, e.g. SEV-2."""
    description: ShortText = ""
    """When to use this severity, e.g. Customer-facing degradation of a critical service."""
    response: Response = Response()
    paging: Paging = Paging()
    chat: Chat = Chat()
    postmortem: PostmortemPolicy = PostmortemPolicy()
    mitigation: MitigationAllowance = MitigationAllowance()
    status_page: StatusPage = StatusPage()
    stakeholders: Stakeholders = Stakeholders()
    rotation_ref: Name | None = None
    """Default OnCallRotation for incidents of this severity (in the incident's namespace)."""
    checklists: Annotated[
        list[Checklist],
        Field(
            max_length=4,
            json_schema_extra={
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["role"],
            },
        ),
    ] = []
    """Tasks (and private instructions) per role for every incident of this severity, one
    checklist per role."""


class SeverityStatus(CommonStatus):
    """Room for the operator's observations in the shape every kind's status has; the operator
    only reads Severities and does not write their status yet."""


class Severity(Resource):
    """A severity level, e.g. sev-2 (cluster-scoped): the response policy that incidents of
    that severity get."""

    api_version: Literal["sre.dev/v1alpha1"] = "sre.dev/v1alpha1"
    kind: Literal["Severity"] = "Severity"
    spec: SeveritySpec
    status: SeverityStatus = SeverityStatus()
