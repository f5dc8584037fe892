"""Postmortem: human-written sections in spec, generated facts in status."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from incident_operator.domain import postmortem as domain
from incident_operator.domain.postmortem_document import HumanSections

from .common import ApiModel, CommonStatus, LongText, Name, Resource, ShortText
from .incident import Durations, TimelineEntry

Paragraphs = Annotated[list[LongText], Field(max_length=64)]


class ActionItemStatus(StrEnum):
    """State of an action item: open, in-progress, done or wont-fix."""

    OPEN = "open"
    IN_PROGRESS = "in-progress"
    DONE = "done"
    WONT_FIX = "wont-fix"


class ActionItem(ApiModel):
    """A follow-up task; with a tracker configured (Jira or GitHub), each item without a ticket
    gets one."""

    title: Annotated[str, Field(min_length=1, max_length=256)]
    """What is to be done; it also matches the item to its ticket in status.tickets."""
    owner: Name | None = None
    """Who is responsible for it."""
    due: date | None = None
    """Due date, e.g. 2026-12-31; an open item past it counts in status.overdueActionItems."""
    ticket: Annotated[str, Field(max_length=2048, pattern=r"^https?://")] | None = None
    """Link (http or https) to an existing ticket; an item without one gets a ticket from the
    configured tracker."""
    status: ActionItemStatus = ActionItemStatus.OPEN
    """open (the default), in-progress, done or wont-fix."""

    def to_domain(self) -> domain.ActionItem:
        return domain.ActionItem(self.title, self.owner, self.due, self.ticket, self.status.value)


class PostmortemState(StrEnum):
    """Review state of a postmortem: draft, in-review or published."""

    DRAFT = "draft"
    IN_REVIEW = "in-review"
    PUBLISHED = "published"


class PostmortemSpec(ApiModel):
    """The postmortem as people write it: narrative, lessons, action items and review state.

    Owned by humans; the operator creates the object (incidentRef, owner, the action items
    the incident's workflows asked for) and afterwards writes only status, except that a
    workflow's createFollowUp step appends an action item (never one of a title already
    there, never to action items Git applied).
    """

    incident_ref: Name
    """The incident, in the same namespace."""
    owner: Name | None = None
    """Who drives the postmortem to publication; defaults to the commander."""
    state: PostmortemState = PostmortemState.DRAFT
    """draft (the default), in-review or published; an incident whose Severity requires a
    postmortem cannot close before it is published."""
    summary: LongText = ""
    """What happened, in a few sentences."""
    impact: LongText = ""
    """Impact narrative; the measured figures are in status.impact."""
    contributing_factors: Paragraphs = []
    """What led to the incident, one paragraph each: systems and decisions, not people."""
    went_well: Paragraphs = []
    """What went well in the response, one paragraph each."""
    went_badly: Paragraphs = []
    """What went badly in the response, one paragraph each."""
    where_we_got_lucky: Paragraphs = []
    """Where luck rather than design limited the damage, one paragraph each."""
    lessons: Paragraphs = []
    """Lessons learned, one paragraph each."""
    action_items: Annotated[list[ActionItem], Field(max_length=64)] = []
    """Follow-up work; status.tickets and status.overdueActionItems track it."""

    def to_domain(self) -> HumanSections:
        return HumanSections(
            state=self.state.value,
            owner=self.owner,
            summary=self.summary,
            impact=self.impact,
            contributing_factors=tuple(self.contributing_factors),
            went_well=tuple(self.went_well),
            went_badly=tuple(self.went_badly),
            where_we_got_lucky=tuple(self.where_we_got_lucky),
            lessons=tuple(self.lessons),
            action_items=tuple(item.to_domain() for item in self.action_items),
        )


class Impact(ApiModel):
    """The incident's measured impact on one affected SLO over the incident window."""

    slo: ShortText = ""
    """Name of the ServiceLevelObjective."""
    start: datetime | None = None
    """Start of the incident window (when the problem began)."""
    end: datetime | None = None
    """End of the incident window (resolution)."""
    duration_seconds: float | None = None
    """Length of the incident window in seconds."""
    total_requests: float | None = None
    """Events (requests) counted over the incident window."""
    failed_requests: float | None = None
    """Bad events (failed or too slow requests) over the incident window."""
    error_ratio: float | None = None
    """failedRequests / totalRequests over the incident window."""
    error_budget_consumed: float | None = None
    """Share of the SLO window's budget this incident burned (0.25 = a quarter)."""
    error_budget_remaining: float | None = None
    """Share of the SLO window's budget left at resolution (negative: overspent)."""
    note: Annotated[str, Field(max_length=512)] = ""
    """Why a figure is missing or estimated."""


class MitigationOutcome(ApiModel):
    """A mitigation that ran during the incident, as the incident recorded it."""

    name: ShortText
    """The mitigation's name."""
    action: ShortText = ""
    """rollback, shiftTraffic, abortRollout, scale or patchConfigMap."""
    target: ShortText = ""
    """The object acted on, as kind/name, e.g. deployment/checkout."""
    state: ShortText = ""
    """Its last state, e.g. verified, failed or refused."""
    dry_run: bool = False
    """It only ran as a server-side dry run."""
    started_at: datetime | None = None
    """When the action started."""
    finished_at: datetime | None = None
    """When it reached its last state."""
    message: Annotated[str, Field(max_length=4096)] = ""
    """What happened, as the incident recorded it."""
    effect: Annotated[str, Field(max_length=512)] = ""
    """The affected SLO's error ratio before it started and one 5m window after it finished."""


class KeyTimes(ApiModel):
    """The incident's status.timestamps, by the same names."""

    # Written before 2026-12-06, ``started`` held the problem's start and ``detected`` the
    # declaration: the operator rewrites keyTimes on its next pass (they differ from the
    # incident's) and the API server prunes ``started``, no longer in the schema.

    detected: datetime | None = None
    """When the problem began as its source saw it (e.g. the SLO burn's start)."""
    declared: datetime | None = None
    """When the incident was declared."""
    acknowledged: datetime | None = None
    """When it was acknowledged (left triage)."""
    mitigated: datetime | None = None
    """When it was mitigated."""
    resolved: datetime | None = None
    """When it was resolved."""


class TicketLink(ApiModel):
    """The follow-up ticket the operator opened or reads for an action item."""

    title: Annotated[str, Field(min_length=1, max_length=256)]
    """The action item's title (items are matched by title)."""
    tracker: ShortText = ""
    """jira or github."""
    ref: ShortText = ""
    """Jira issue key or GitHub issue number."""
    url: Annotated[str, Field(max_length=2048)] = ""
    """Web link to the ticket."""
    status: ActionItemStatus = ActionItemStatus.OPEN
    """The tracker's state, mapped onto the action item states."""
    synced_at: datetime | None = None
    """When the tracker's state was last read."""


class PostmortemStatus(CommonStatus):
    """Facts the operator gathers for the document, refreshed on every edit and every minute:
    key times, timeline, measured impact, mitigations and tickets. Written only by the
    operator."""

    due: datetime | None = None
    """When publication is due: the Severity's postmortem.dueWithin after resolution."""
    reason: ShortText = ""
    """Why the postmortem exists: SeverityRequires or BudgetBurned."""
    generated_at: datetime | None = None
    """When the generated facts below were last gathered."""
    key_times: KeyTimes = KeyTimes()
    durations: Durations = Durations()
    """Time to detect (declared minus detected); time to acknowledge, mitigate and resolve,
    each counted from the declaration, as in the Incident's status.durations."""
    timeline: Annotated[list[TimelineEntry], Field(max_length=1000)] = []
    """Incident timeline, Kubernetes Events and mitigation results, deduplicated, in order."""
    impact: Annotated[list[Impact], Field(max_length=16)] = []
    """Measured from Prometheus for every affected SLO over the incident window."""
    mitigations: Annotated[list[MitigationOutcome], Field(max_length=32)] = []
    """Mitigations that ran during the incident, with their effect on the error ratio."""
    correlated_changes: Annotated[list[TimelineEntry], Field(max_length=64)] = []
    """Changes in the namespace shortly before detection (the incident's recent-change entries):
    Deployment revisions, ConfigMap and Secret writes, Helm releases, GitOps events."""
    rendered_config_map: Name | None = None
    """ConfigMap (same namespace) holding postmortem.md, postmortem.json and chart.png."""
    chart: ShortText = ""
    """Key of the PNG chart in the rendered ConfigMap's binaryData (empty: no chart)."""
    overdue_action_items: Annotated[int, Field(ge=0)] = 0
    """Open action items past their due date (ActionItemsOverdue condition, daily reminder)."""
    tickets: Annotated[list[TicketLink], Field(max_length=64)] = []
    """Follow-up tickets of the action items, with the status read back from the tracker."""


class Postmortem(Resource):
    """A blameless postmortem of one incident: people write the narrative in spec, the operator
    gathers the facts into status and renders the document into a ConfigMap."""

    api_version: Literal["sre.dev/v1alpha1"] = "sre.dev/v1alpha1"
    kind: Literal["Postmortem"] = "Postmortem"
    spec: PostmortemSpec
    status: PostmortemStatus = PostmortemStatus()
