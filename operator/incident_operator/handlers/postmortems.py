"""Postmortems: drafted when an incident resolves, their generated facts kept current.

Incidents: a timer (status changes do not reach kopf's update handlers) finds resolved
incidents without a postmortem decision and lets the service create and link one.
Postmortems: every create/update (a human edited a section or the state) and a slow timer
(overdue action items, late Events) regenerate the status and the rendered ConfigMap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import kopf

from incident_operator import GROUP, VERSION
from incident_operator.adapters.ports import TokenSource
from incident_operator.adapters.postmortem_ports import STATE_ANNOTATION
from incident_operator.api.bookkeeping import GENERATE
from incident_operator.domain.lifecycle import CONCLUDED, accepted
from incident_operator.services import dashboard_marks

from .context import context_of
from .errors import translated
from .status_patch import patch_status

INCIDENT_INTERVAL = 5.0
MARKS_INTERVAL = 10.0
REGENERATE_INTERVAL = 60.0
INITIAL_DELAY = 3.0


@dataclass(frozen=True)
class PostmortemOptions:
    """Follow-up tickets (Jira or GitHub Issues) and Grafana annotations; empty: off (the
    adapters are built by the composition root, app/composition.py)."""

    jira_url: str = ""
    jira_project: str = ""
    jira_email: str = ""
    jira_token: TokenSource | None = None
    jira_issue_type: str = "Task"
    github_repository: str = ""
    github_token: TokenSource | None = None
    github_api_url: str = "https://api.github.com"
    grafana_url: str = ""
    grafana_token: TokenSource | None = None
    grafana_dashboard_uid: str = ""


def _owes_decision(
    spec: kopf.Spec, status: kopf.Status, annotations: kopf.Annotations, **_: Any
) -> bool:
    """Resolved (or asked to close) and not yet decided: no link and no verdict."""
    # A requested close counts: a postmortem the close waits for must exist to be published.
    ended = accepted(status.get("phase")) in CONCLUDED or spec.get("state") == "closed"
    return bool(ended and not status.get("postmortemRef") and STATE_ANNOTATION not in annotations)


@kopf.timer(
    GROUP,
    VERSION,
    "incidents",
    id="postmortem",
    interval=INCIDENT_INTERVAL,
    initial_delay=INITIAL_DELAY,
    when=_owes_decision,
)
@translated
async def draft_postmortem(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    service = context_of(memo).postmortem_service
    if service is not None:
        await service.ensure(dict(body))


@kopf.on.resume(GROUP, VERSION, "postmortems", id=GENERATE)
@kopf.on.create(GROUP, VERSION, "postmortems", id=GENERATE)
@kopf.on.update(GROUP, VERSION, "postmortems", id=GENERATE)
@translated
async def generate_postmortem(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    service = context_of(memo).postmortem_service
    if service is None:
        return
    status = await service.regenerate(dict(body))
    if status:
        patch_status(patch, body, status)


@kopf.timer(
    GROUP,
    VERSION,
    "postmortems",
    id="regenerate",
    interval=REGENERATE_INTERVAL,
    initial_delay=REGENERATE_INTERVAL,
)
@translated
async def refresh_postmortem(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
    """Overdue items, ticket states and late incident facts; full regeneration only if stale."""
    service = context_of(memo).postmortem_service
    if service is None:
        return
    status = await service.regenerate(dict(body), only_if_stale=True)
    if status:
        patch_status(patch, body, status)


def _unmarked(body: kopf.Body, memo: kopf.Memo, **_: Any) -> bool:
    """Only with Grafana configured (else the timer would tick for every incident forever)."""
    return context_of(memo).dashboard_marks is not None and dashboard_marks.pending(body)


@kopf.timer(
    GROUP,
    VERSION,
    "incidents",
    id="dashboard-marks",
    interval=MARKS_INTERVAL,
    initial_delay=INITIAL_DELAY,
    when=_unmarked,
)
@translated
async def mark_dashboards(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    marks = context_of(memo).dashboard_marks
    if marks is not None:
        await marks.mark(dict(body))
