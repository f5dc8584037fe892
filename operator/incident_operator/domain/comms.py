"""What the communication layer says about an incident, independent of where it says it.

One :class:`IncidentSummary` is rendered by every channel adapter (Slack Block Kit, Teams
card, generic webhook JSON, PagerDuty payload, status page), so they can never disagree on
the facts. Pure values only: the service builds the summary from the Incident and Severity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from .checklists import TaskLine


class Impact(StrEnum):
    """Status-page impact of a severity (Atlassian Statuspage's indicator values)."""

    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


@dataclass(frozen=True)
class StakeholderNote:
    """A stakeholder update riding on the summary a webhook gets (domain/stakeholders.py)."""

    sequence: int
    text: str
    next_due: datetime | None = None
    final: bool = False


@dataclass(frozen=True)
class IncidentSummary:
    """The facts every channel shows about one incident at one moment."""

    namespace: str
    name: str
    title: str
    service: str
    severity: str
    """Severity object name, e.g. ``sev-2``."""
    severity_display: str
    """Its display name, e.g. ``SEV-2 (Major)``."""
    severity_level: int
    phase: str
    """The accepted state (``status.phase``)."""
    declared: datetime | None
    updated: datetime
    """Instant of the last change the summary reflects."""
    roles: Mapping[str, str | None] = field(default_factory=dict)
    """Role -> participant name (commander, communications, operations, scribe)."""
    summary: str = ""
    slo: str = ""
    """One line about the SLO burn, e.g. ``checkout-availability: 1h burn 16.2x``; empty."""
    impact: Impact = Impact.NONE
    private: bool = False
    bridge_url: str = ""
    """Conference room for the incident; empty when none is configured."""
    links: Mapping[str, str] = field(default_factory=dict)
    """Label -> URL (status page, dashboard, runbook, postmortem)."""
    stakeholder: StakeholderNote | None = None
    """Set on a stakeholder update (event ``stakeholder-update``) only."""
    tasks: tuple[TaskLine, ...] = ()
    """The roles' checklist tasks (``status.tasks``), by number; shown in the status message."""

    @property
    def key(self) -> str:
        """Stable identity across restarts (idempotency keys and dedup keys start here)."""
        return f"{self.namespace}/{self.name}"
