"""In-memory PostmortemStore, ImpactSource and ChartRenderer for fast service tests."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from incident_operator.adapters.ports import Body
from incident_operator.adapters.postmortem_ports import STATE_ANNOTATION, ActionItemAdditions
from incident_operator.domain.postmortem import ChartData, Counts
from incident_operator.domain.sli import Sli
from incident_operator.errors import FieldOwnedElsewhere, MetricsUnavailable

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class FakePostmortems:
    postmortems: dict[tuple[str, str], Body] = field(default_factory=dict)
    slos: dict[tuple[str, str], Body] = field(default_factory=dict)
    events: list[Body] = field(default_factory=list)
    """Event dicts as ``events_about`` returns them."""
    config_maps: dict[tuple[str, str], tuple[dict[str, str], dict[str, bytes]]] = field(
        default_factory=dict
    )
    incidents: dict[tuple[str, str], Body] | None = None
    """A FakeStore's incidents, so links land where the lifecycle reads them."""
    links: list[tuple[str, str, str | None, str]] = field(default_factory=list)
    applied_elsewhere: dict[str, str] = field(default_factory=dict)
    """Fields (``.spec.actionItems``) another manager applied, as managedFields would say."""
    item_edits: int = 0
    """Writes of spec.actionItems (each a person's one-off edit in the real adapter)."""

    async def add_action_items(
        self, namespace: str, postmortem: str, additions: ActionItemAdditions
    ) -> bool:
        body = self.postmortems.get((namespace, postmortem))
        if body is None:
            return False
        items = list((body.get("spec") or {}).get("actionItems") or [])
        added = list(additions(copy.deepcopy(items)))
        if not added:
            return True
        if ".spec.actionItems" in self.applied_elsewhere:
            manager = self.applied_elsewhere[".spec.actionItems"]
            raise FieldOwnedElsewhere(
                f"postmortem {namespace}/{postmortem}: .spec.actionItems (applied by {manager})"
                "; add the item in Git",
                fields={".spec.actionItems": manager},
            )
        body.setdefault("spec", {})["actionItems"] = [*items, *copy.deepcopy(added)]
        self.item_edits += 1
        return True

    async def get_postmortem(self, namespace: str, name: str) -> Body | None:
        found = self.postmortems.get((namespace, name))
        return copy.deepcopy(found) if found else None

    async def create_postmortem(self, namespace: str, body: Body) -> Body:
        key = (namespace, body["metadata"]["name"])
        if key not in self.postmortems:
            stored = copy.deepcopy(body)
            stored["metadata"].setdefault("generation", 1)
            stored["metadata"].setdefault("uid", f"uid-{key[1]}")
            self.postmortems[key] = stored
        return copy.deepcopy(self.postmortems[key])

    async def patch_postmortem_status(self, namespace: str, name: str, status: Body) -> None:
        body = self.postmortems[(namespace, name)]
        merged = dict(body.get("status") or {})
        for k, v in status.items():
            if v is None:
                merged.pop(k, None)
            else:
                merged[k] = copy.deepcopy(v)
        body["status"] = merged

    async def link_incident(
        self, namespace: str, incident: str, postmortem: str | None, state: str
    ) -> None:
        self.links.append((namespace, incident, postmortem, state))
        if self.incidents is None or (namespace, incident) not in self.incidents:
            return
        body = self.incidents[(namespace, incident)]
        if postmortem is not None:
            body.setdefault("status", {})["postmortemRef"] = postmortem
        body["metadata"].setdefault("annotations", {})[STATE_ANNOTATION] = state

    async def annotate_incident(
        self, namespace: str, incident: str, annotations: Mapping[str, str]
    ) -> None:
        if self.incidents is not None and (namespace, incident) in self.incidents:
            meta = self.incidents[(namespace, incident)]["metadata"]
            meta.setdefault("annotations", {}).update(annotations)

    async def get_slo(self, namespace: str, name: str) -> Body | None:
        found = self.slos.get((namespace, name))
        return copy.deepcopy(found) if found else None

    async def events_about(self, namespace: str, objects: Sequence[tuple[str, str]]) -> list[Body]:
        wanted = set(objects)
        return [dict(e) for e in self.events if (e["kind"], e["name"]) in wanted]

    async def apply_config_map(
        self,
        namespace: str,
        name: str,
        owner: Body,
        data: Mapping[str, str],
        binary: Mapping[str, bytes],
    ) -> None:
        self.config_maps[(namespace, name)] = (dict(data), dict(binary))


@dataclass
class FakeImpact:
    """Counts per window length; ``series`` answers every range query."""

    counts_by_window: dict[timedelta, Counts] = field(default_factory=dict)
    series: list[tuple[datetime, float]] = field(default_factory=list)
    available: bool = True
    asked: list[tuple[timedelta, datetime]] = field(default_factory=list)

    async def counts(self, sli: Sli, window: timedelta, at: datetime) -> Counts | None:
        self.asked.append((window, at))
        if not self.available:
            raise MetricsUnavailable("Prometheus query failed: connection refused (fake)")
        return self.counts_by_window.get(window)

    async def mean_ratio(self, sli: Sli, window: timedelta, at: datetime) -> float | None:
        if not self.available:
            raise MetricsUnavailable("Prometheus query failed: connection refused (fake)")
        return None

    async def ratio_series(
        self, sli: Sli, window: timedelta, start: datetime, end: datetime, step: timedelta
    ) -> list[tuple[datetime, float]]:
        return [(t, v) for t, v in self.series if start <= t <= end]


@dataclass
class FakeCharts:
    rendered: list[ChartData] = field(default_factory=list)

    def render(self, chart: ChartData) -> bytes | None:
        self.rendered.append(chart)
        return PNG_MAGIC + b"fake"
