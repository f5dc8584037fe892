"""Open incidents by severity, service, phase and owning team, kept current from the watch
stream.

Why an index fed by watch events rather than a periodic list or a scrape-time collector:
kopf already watches every Incident, and its watch starts with the full listing and then
reports every change *and every deletion*. Feeding those events here keeps the gauge exact
within one event's latency, costs no extra API call (a 30 s list of every incident in the
cluster would be the operator's most expensive request), and a scrape never waits on the API
server. After a restart the initial listing rebuilds the index before anything is exposed
as changed. "Open" is the domain's: every phase but closed, declined and merged (a resolved
incident still awaits its postmortem); ``phase`` is a label so dashboards can leave resolved out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from incident_operator.adapters.ports import OperatorMetrics
from incident_operator.domain import lifecycle
from incident_operator.services.incidents import severity_of

Labels = tuple[str, str, str, str]
"""(severity, service, phase, team)"""


def labels(body: Mapping[str, Any]) -> Labels | None:
    """The incident's labels while it is open; None once it is terminal.

    The accepted ``status.phase`` counts, not the requested ``spec.state`` (a refused request
    leaves the incident where it was); a new incident without status yet is in triage.
    """
    spec = body.get("spec") or {}
    raw = (body.get("status") or {}).get("phase") or lifecycle.Phase.TRIAGE.value
    try:
        phase = lifecycle.Phase(str(raw))
    except ValueError:
        return None
    if phase not in lifecycle.OPEN:
        return None
    teams = ((body.get("status") or {}).get("catalog") or {}).get("teams") or []
    team = str(teams[0]) if teams else ""
    return severity_of(body), str(spec.get("service") or ""), phase.value, team


class OpenIncidentIndex:
    def __init__(self, metrics: OperatorMetrics) -> None:
        self._metrics = metrics
        self._open: dict[tuple[str, str], Labels] = {}

    def observe(self, body: Mapping[str, Any], *, deleted: bool = False) -> None:
        """Take one watch event (the object as it is now) and publish the counts if they moved."""
        meta = body.get("metadata") or {}
        key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
        now = None if deleted else labels(body)
        if self._open.get(key) == now:
            return
        if now is None:
            self._open.pop(key, None)
        else:
            self._open[key] = now
        self._metrics.set_open_incidents(self.counts())

    def counts(self) -> dict[Labels, int]:
        return dict(Counter(self._open.values()))
