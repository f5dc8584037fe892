"""Postmortem: human-written sections in spec, generated facts in status."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from .common import ApiModel, CommonStatus, LongText, Name, Resource, ShortText
from .incident import TimelineEntry

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


class Impact(ApiModel):
    slo: ShortText = ""
    duration_seconds: float | None = None
    total_requests: float | None = None
    failed_requests: float | None = None
    error_budget_consumed: float | None = None
    """Share of the SLO window's budget this incident burned."""
    error_budget_remaining: float | None = None


class PostmortemStatus(CommonStatus):
    due: datetime | None = None
    timeline: Annotated[list[TimelineEntry], Field(max_length=1000)] = []
    impact: Annotated[list[Impact], Field(max_length=16)] = []
    rendered_config_map: Name | None = None
    overdue_action_items: Annotated[int, Field(ge=0)] = 0


class Postmortem(Resource):
    api_version: Literal["sre.dev/v1alpha1"] = "sre.dev/v1alpha1"
    kind: Literal["Postmortem"] = "Postmortem"
    spec: PostmortemSpec
    status: PostmortemStatus = PostmortemStatus()
