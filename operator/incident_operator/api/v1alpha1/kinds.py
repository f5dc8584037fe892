"""The kinds and what their CRDs say beyond the schema: names, scope, printer columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .catalog import Service, Team
from .common import Resource
from .incident import Incident
from .postmortem import Postmortem
from .rotation import OnCallRotation
from .severity import Severity
from .slo import ServiceLevelObjective
from .workflow import ClusterIncidentWorkflow, IncidentWorkflow

CATEGORY = "incident-management"


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: Literal["string", "integer", "number", "boolean", "date"] = "string"
    description: str = ""
    priority: int = 0


@dataclass(frozen=True)
class KindInfo:
    model: type[Resource]
    plural: str
    singular: str
    short_names: tuple[str, ...]
    scope: Literal["Namespaced", "Cluster"]
    columns: tuple[PrinterColumn, ...]

    @property
    def kind(self) -> str:
        return self.model.__name__


READY = PrinterColumn("Ready", '.status.conditions[?(@.type=="Ready")].status')
AGE = PrinterColumn("Age", ".metadata.creationTimestamp", "date")

WORKFLOW_COLUMNS = (
    PrinterColumn("Triggers", ".spec.triggers[*].event"),
    PrinterColumn("Repeat", ".spec.repeat", priority=1),
    PrinterColumn("Runs", ".status.runs", "integer"),
    PrinterColumn("Errors", ".status.errors", "integer"),
    # A past instant: "date" renders it as an age.
    PrinterColumn("Last Run", ".status.lastRunAt", "date"),
    READY,
    AGE,
)

KINDS: tuple[KindInfo, ...] = (
    KindInfo(
        ServiceLevelObjective,
        "servicelevelobjectives",
        "servicelevelobjective",
        ("slo",),
        "Namespaced",
        (
            PrinterColumn("Service", ".spec.service"),
            PrinterColumn("Target", ".spec.target", "number"),
            PrinterColumn("Window", ".spec.window"),
            PrinterColumn("Budget", ".status.budgetRemaining"),
            PrinterColumn("Burn", ".status.burnNow"),
            PrinterColumn("Incident", ".status.activeIncident"),
            READY,
            AGE,
        ),
    ),
    KindInfo(
        Severity,
        "severities",
        "severity",
        ("sev",),
        "Cluster",
        (
            PrinterColumn("Level", ".spec.level", "integer"),
            PrinterColumn("Display Name", ".spec.displayName"),
            PrinterColumn("Page", ".spec.paging.page", "boolean"),
            PrinterColumn("Ack Within", ".spec.response.ackWithin"),
            READY,
            AGE,
        ),
    ),
    KindInfo(
        OnCallRotation,
        "oncallrotations",
        "oncallrotation",
        ("ocr",),
        "Namespaced",
        (
            PrinterColumn("Time Zone", ".spec.timeZone"),
            PrinterColumn("On Call", ".status.onCall[0].person"),
            # "date" renders an age, which kubectl shows as <invalid> for a future instant.
            PrinterColumn("Next Handoff", ".status.nextHandoff", "string"),
            READY,
            AGE,
        ),
    ),
    KindInfo(
        Incident,
        "incidents",
        "incident",
        ("inc",),
        "Namespaced",
        (
            PrinterColumn("Severity", ".status.severity"),
            PrinterColumn("Phase", ".status.phase"),
            PrinterColumn("Requested", ".spec.state"),
            PrinterColumn("Concluded", ".status.conclusions.state.reason", priority=1),
            PrinterColumn("Commander", ".status.roles.commander"),
            PrinterColumn("Service", ".spec.service"),
            PrinterColumn("Title", ".spec.title", priority=1),
            # Time since the last status update (a past instant: "date" renders it as an age).
            PrinterColumn("Updated", ".status.response.lastUpdate", "date"),
            READY,
            AGE,
        ),
    ),
    KindInfo(
        Postmortem,
        "postmortems",
        "postmortem",
        ("pm",),
        "Namespaced",
        (
            PrinterColumn("Incident", ".spec.incidentRef"),
            PrinterColumn("Owner", ".spec.owner"),
            PrinterColumn("State", ".spec.state"),
            # "date" renders an age, which kubectl shows as <invalid> for a future instant.
            PrinterColumn("Due", ".status.due", "string"),
            READY,
            AGE,
        ),
    ),
    KindInfo(
        IncidentWorkflow,
        "incidentworkflows",
        "incidentworkflow",
        ("iwf",),
        "Namespaced",
        WORKFLOW_COLUMNS,
    ),
    KindInfo(
        ClusterIncidentWorkflow,
        "clusterincidentworkflows",
        "clusterincidentworkflow",
        ("ciwf",),
        "Cluster",
        WORKFLOW_COLUMNS,
    ),
    KindInfo(
        Service,
        "services",
        "service",
        ("csvc",),
        "Namespaced",
        (
            PrinterColumn("Owner", ".spec.owner"),
            PrinterColumn("Tier", ".spec.tier"),
            PrinterColumn(
                "Owner Resolved", '.status.conditions[?(@.type=="OwnerResolved")].status'
            ),
            PrinterColumn("Description", ".spec.description", priority=1),
            AGE,
        ),
    ),
    KindInfo(
        Team,
        "teams",
        "team",
        ("tm",),
        "Cluster",
        (
            PrinterColumn("Display Name", ".spec.displayName"),
            PrinterColumn("Channel", ".spec.slack.channel"),
            PrinterColumn("Default Severity", ".spec.defaultSeverity"),
            PrinterColumn("Namespaces", ".spec.namespaces", priority=1),
            AGE,
        ),
    ),
)

BY_KIND: dict[str, KindInfo] = {info.kind: info for info in KINDS}
