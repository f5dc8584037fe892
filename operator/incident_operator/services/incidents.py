"""Conventions every service that declares or updates incidents shares."""

from __future__ import annotations

from incident_operator.adapters.ports import Body

SERVICE_LABEL = "sre.dev/service"
DECLARED_SEVERITY = "sre.dev/declared-severity"
"""The severity the declaring source set: a different spec value is a human's choice."""
AUTHOR = "incident-operator"
CLOSED_STATES = frozenset({"resolved", "closed", "declined", "merged"})
"""States in which an incident no longer takes new signals from its source."""


def is_open(incident: Body) -> bool:
    return (incident.get("spec") or {}).get("state") not in CLOSED_STATES
