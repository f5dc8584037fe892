"""A suggested public wording for an incident, drafted from its Severity's templates — pure.

The communications lead edits or accepts it; nothing here publishes anything. Templates are
written by the cluster admin (Severity ``spec.statusPage.draft``) and filled with three
values only: ``{service}``, ``{impact}`` and ``{status}``. Filling is plain text
replacement, never ``str.format`` (which would let a template reach attributes of the
values); any other brace is kept as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .comms import Impact
from .status_page import IncidentStatus, default_public_status

IMPACT_WORDS: Mapping[Impact, str] = {
    Impact.NONE: "disruption",
    Impact.MINOR: "degraded performance",
    Impact.MAJOR: "partial outage",
    Impact.CRITICAL: "major outage",
}
"""``{impact}``: what customers notice at each status-page impact."""


@dataclass(frozen=True)
class DraftTemplates:
    title: str
    investigating: str
    monitoring: str
    resolved: str


@dataclass(frozen=True)
class Draft:
    title: str
    text: str
    status: IncidentStatus


def fill(template: str, values: Mapping[str, str]) -> str:
    """``{key}`` -> its value for the keys given, in one pass (a value is never re-read)."""
    if not values:
        return template
    pattern = "|".join(re.escape(k) for k in values)
    return re.sub(r"\{(" + pattern + r")\}", lambda m: values[m.group(1)], template)


def draft(templates: DraftTemplates, service: str, impact: Impact, phase: str) -> Draft:
    """The suggested title and update for an incident of ``service`` at ``phase`` (as its
    status reads it), worded at its Severity's ``impact``."""
    status = default_public_status(phase)
    values = {"service": service, "impact": IMPACT_WORDS[impact], "status": status.value}
    body = {
        IncidentStatus.MONITORING: templates.monitoring,
        IncidentStatus.RESOLVED: templates.resolved,
    }.get(status, templates.investigating)
    return Draft(fill(templates.title, values), fill(body, values), status)
