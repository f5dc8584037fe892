"""Conventions every service that declares or updates incidents shares."""

from __future__ import annotations

from incident_operator.adapters.ports import Body
from incident_operator.domain import lifecycle

SERVICE_LABEL = "sre.dev/service"
DECLARED_SEVERITY = "sre.dev/declared-severity"
"""The severity the declaring source set: a different spec value is a human's choice."""
AUTHOR = "incident-operator"


def phase_of(incident: Body) -> lifecycle.Phase:
    """The phase the lifecycle accepted for this incident (``lifecycle.accepted``)."""
    return lifecycle.accepted((incident.get("status") or {}).get("phase"))


def is_active(incident: Body) -> bool:
    """Still being worked: takes new signals from its source, mitigations and freezes."""
    return phase_of(incident) in lifecycle.ACTIVE
