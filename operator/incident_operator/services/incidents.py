"""Conventions every service that declares or updates incidents shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from incident_operator.domain import conclusions, lifecycle

SERVICE_LABEL = "sre.dev/service"
DECLARED_SEVERITY = "sre.dev/declared-severity"
"""The severity the declaring source set: a different spec value is a human's choice."""
AUTHOR = "incident-operator"


def phase_of(incident: Mapping[str, Any]) -> lifecycle.Phase:
    """The phase the lifecycle accepted for this incident (``lifecycle.accepted``)."""
    return lifecycle.accepted((incident.get("status") or {}).get("phase"))


def is_active(incident: Mapping[str, Any]) -> bool:
    """Still being worked: takes new signals from its source, mitigations and freezes."""
    return phase_of(incident) in lifecycle.ACTIVE


def is_open(incident: Mapping[str, Any]) -> bool:
    """Not yet closed, declined or merged (resolved still is: it owes its postmortem)."""
    return phase_of(incident) not in lifecycle.TERMINAL


def conclusion_of(
    incident: Mapping[str, Any], subject: conclusions.Subject
) -> conclusions.Conclusion | None:
    """The operator's conclusion about ``subject`` kept in status, if any (held or not)."""
    kept = (incident.get("status") or {}).get("conclusions") or {}
    return conclusions.parse(kept.get(subject.value) if isinstance(kept, dict) else None)


def intent_of(incident: Mapping[str, Any], subject: conclusions.Subject) -> str:
    """What the spec (humans, Git) says about ``subject``."""
    spec = incident.get("spec") or {}
    if subject is conclusions.Subject.STATE:
        return str(spec.get("state") or lifecycle.Phase.TRIAGE.value)
    return str(spec.get("severityRef") or "")


def requested_state(incident: Mapping[str, Any]) -> str:
    """The state the lifecycle judges: the spec's, or the operator's conclusion over it."""
    subject = conclusions.Subject.STATE
    return conclusions.effective(intent_of(incident, subject), conclusion_of(incident, subject))


def severity_of(incident: Mapping[str, Any]) -> str:
    """The severity in force: ``spec.severityRef``, or the operator's conclusion over it."""
    subject = conclusions.Subject.SEVERITY
    return conclusions.effective(intent_of(incident, subject), conclusion_of(incident, subject))


class Concluder(Protocol):
    """Records the operator's conclusion in status and lets the lifecycle judge it."""

    async def conclude(
        self,
        namespace: str,
        name: str,
        subject: conclusions.Subject,
        value: str,
        *,
        reason: str,
        message: str,
    ) -> bool: ...
