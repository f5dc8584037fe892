"""API version sre.dev/v1alpha1."""

from .incident import Incident
from .kinds import BY_KIND, KINDS, KindInfo
from .postmortem import Postmortem
from .rotation import OnCallRotation
from .severity import Severity
from .slo import ServiceLevelObjective

__all__ = [
    "BY_KIND",
    "KINDS",
    "Incident",
    "KindInfo",
    "OnCallRotation",
    "Postmortem",
    "ServiceLevelObjective",
    "Severity",
]
