"""API version sre.dev/v1alpha1."""

from .catalog import Service, Team
from .incident import Incident
from .kinds import BY_KIND, KINDS, KindInfo
from .postmortem import Postmortem
from .rotation import OnCallRotation
from .severity import Severity
from .slo import ServiceLevelObjective
from .workflow import ClusterIncidentWorkflow, IncidentWorkflow

__all__ = [
    "BY_KIND",
    "KINDS",
    "ClusterIncidentWorkflow",
    "Incident",
    "IncidentWorkflow",
    "KindInfo",
    "OnCallRotation",
    "Postmortem",
    "Service",
    "ServiceLevelObjective",
    "Severity",
    "Team",
]
