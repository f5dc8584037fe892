"""Use case: mark an incident's declared/mitigated/resolved instants on Grafana dashboards.

Each milestone is posted once at its own instant (not when we noticed), tagged with the
incident, service and severity so a dashboard's annotation query can pick its own; what was
posted is remembered in the incident's ``postmortem.sre.dev/dashboard-marks`` annotation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from incident_operator.adapters.annotations_port import Annotations
from incident_operator.adapters.postmortem_ports import MARKS_ANNOTATION, PostmortemStore
from incident_operator.domain import dashboard_marks
from incident_operator.domain.times import parse_time
from incident_operator.errors import IncidentOperatorError
from incident_operator.services.incidents import severity_of

STAMPED = ("declared", "mitigated", "resolved")


def pending(incident: Mapping[str, Any]) -> bool:
    """Whether a stamped milestone is not marked yet (cheap: for the timer's filter)."""
    stamps = (incident.get("status") or {}).get("timestamps") or {}
    annotations = (incident.get("metadata") or {}).get("annotations") or {}
    done = dashboard_marks.parse_done(annotations.get(MARKS_ANNOTATION))
    return any(stamps.get(m) and m not in done for m in STAMPED)


class DashboardMarks:
    def __init__(self, annotations: Annotations, postmortems: PostmortemStore) -> None:
        self._annotations = annotations
        self._postmortems = postmortems

    async def mark(self, incident: Mapping[str, Any]) -> list[str]:
        """Post the milestones not marked yet; the ones posted now."""
        meta = incident["metadata"]
        spec = incident.get("spec") or {}
        stamps = {
            m: parse_time(v)
            for m, v in ((incident.get("status") or {}).get("timestamps") or {}).items()
        }
        done = dashboard_marks.parse_done((meta.get("annotations") or {}).get(MARKS_ANNOTATION))
        posted: list[str] = []
        for milestone, at in dashboard_marks.marks_due(stamps, done):
            tags = (
                "incident",
                f"incident:{meta['name']}",
                f"service:{spec.get('service', '')}",
                f"severity:{severity_of(incident)}",
                milestone,
            )
            text = dashboard_marks.text(
                milestone, str(spec.get("title", meta["name"])), severity_of(incident)
            )
            try:
                await self._annotations.annotate(at, text, tags)
            except IncidentOperatorError:
                if posted:  # what went out stays recorded; the rest is retried
                    await self._record(meta, done, posted)
                raise
            posted.append(milestone)
        if posted:
            await self._record(meta, done, posted)
        return posted

    async def _record(self, meta: Mapping[str, Any], done: set[str], posted: list[str]) -> None:
        marked = ",".join(m for m in dashboard_marks.MARKED if m in done or m in posted)
        await self._postmortems.annotate_incident(
            str(meta["namespace"]), str(meta["name"]), {MARKS_ANNOTATION: marked}
        )
