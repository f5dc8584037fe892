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
    OPEN = "open"
    IN_PROGRESS = "in-progress"
    DONE = "done"
    WONT_FIX = "wont-fix"


class ActionItem(ApiModel):
    title: Annotated[str, Field(min_length=1, max_length=256)]
    owner: Name | None = None
    due: date | None = None
    ticket: Annotated[str, Field(max_length=2048, pattern=r"^https?://")] | None = None
    status: ActionItemStatus = ActionItemStatus.OPEN

    def to_domain(self) -> domain.ActionItem:
        return domain.ActionItem(self.title, self.owner, self.due, self.ticket, self.status.value)


class PostmortemState(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in-review"
    PUBLISHED = "published"


class PostmortemSpec(ApiModel):
    incident_ref: Name
    """The incident, in the same namespace."""
    owner: Name | None = None
    """Who drives the postmortem to publication; defaults to the commander."""
    state: PostmortemState = PostmortemState.DRAFT
    summary: LongText = ""
    impact: LongText = ""
    """Impact narrative; the measured figures are in status.impact."""
    contributing_factors: Paragraphs = []
    went_well: Paragraphs = []
    went_badly: Paragraphs = []
    where_we_got_lucky: Paragraphs = []
    lessons: Paragraphs = []
    action_items: Annotated[list[ActionItem], Field(max_length=64)] = []

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
    slo: ShortText = ""
    start: datetime | None = None
    """Start of the incident window (when the problem began)."""
    end: datetime | None = None
    """End of the incident window (resolution)."""
    duration_seconds: float | None = None
    total_requests: float | None = None
    failed_requests: float | None = None
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
    action: ShortText = ""
    target: ShortText = ""
    state: ShortText = ""
    dry_run: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    message: Annotated[str, Field(max_length=4096)] = ""
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
    acknowledged: datetime | None = None
    mitigated: datetime | None = None
    resolved: datetime | None = None


class TicketLink(ApiModel):
    """The follow-up ticket the operator opened or reads for an action item."""

    title: Annotated[str, Field(min_length=1, max_length=256)]
    """The action item's title (items are matched by title)."""
    tracker: ShortText = ""
    """jira or github."""
    ref: ShortText = ""
    """Jira issue key or GitHub issue number."""
    url: Annotated[str, Field(max_length=2048)] = ""
    status: ActionItemStatus = ActionItemStatus.OPEN
    """The tracker's state, mapped onto the action item states."""
    synced_at: datetime | None = None


class PostmortemStatus(CommonStatus):
    due: datetime | None = None
    reason: ShortText = ""
    """Why the postmortem exists: SeverityRequires or BudgetBurned."""
    generated_at: datetime | None = None
    """When the generated facts below were last gathered."""
    key_times: KeyTimes = KeyTimes()
    durations: Durations = Durations()
    """Time to detect (from the start), acknowledge, mitigate, resolve (from detection)."""
    timeline: Annotated[list[TimelineEntry], Field(max_length=1000)] = []
    """Incident timeline, Kubernetes Events and mitigation results, deduplicated, in order."""
    impact: Annotated[list[Impact], Field(max_length=16)] = []
    """Measured from Prometheus for every affected SLO over the incident window."""
    mitigations: Annotated[list[MitigationOutcome], Field(max_length=32)] = []
    correlated_changes: Annotated[list[TimelineEntry], Field(max_length=64)] = []
    rendered_config_map: Name | None = None
    """ConfigMap (same namespace) holding postmortem.md, postmortem.json and chart.png."""
    chart: ShortText = ""
    """Key of the PNG chart in the rendered ConfigMap's binaryData (empty: no chart)."""
    overdue_action_items: Annotated[int, Field(ge=0)] = 0
    tickets: Annotated[list[TicketLink], Field(max_length=64)] = []
    """Follow-up tickets of the action items, with the status read back from the tracker."""


class Postmortem(Resource):
    api_version: Literal["sre.dev/v1alpha1"] = "sre.dev/v1alpha1"
    kind: Literal["Postmortem"] = "Postmortem"
    spec: PostmortemSpec
    status: PostmortemStatus = PostmortemStatus()
