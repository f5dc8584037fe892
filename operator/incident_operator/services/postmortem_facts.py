"""Gathering a postmortem's facts: the incident's timeline, Kubernetes Events about it, its
mitigations (and their effect on the SLO), key times, and the Prometheus impact and chart
data per affected SLO. Read-only: nothing here writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from incident_operator.adapters.ports import Clock
from incident_operator.adapters.postmortem_ports import ImpactSource, PostmortemStore
from incident_operator.api.v1alpha1.incident import TimelineEntry, Timestamps
from incident_operator.api.v1alpha1.slo import ServiceLevelObjective
from incident_operator.domain import changes
from incident_operator.domain import postmortem as pm
from incident_operator.domain.names import label_value
from incident_operator.domain.sli import Sli
from incident_operator.domain.times import parse_time
from incident_operator.errors import MetricsUnavailable
from incident_operator.services.incidents import severity_of

SLO_LABEL = "sre.dev/slo"
CHART_RATIO_WINDOW = timedelta(minutes=5)
CHART_POINTS = 120
CHANGE_TYPES = frozenset({changes.ENTRY_TYPE})
"""Timeline entries of changes the change correlator linked to the incident."""


def affected_slos(incident: Mapping[str, Any]) -> list[str]:
    """SLOs whose budget the incident spent: the declaring SLO, and the ``sre.dev/slo`` label."""
    spec = incident.get("spec") or {}
    source = spec.get("source") or {}
    found: list[str] = []
    if source.get("type") == "slo" and source.get("ref"):
        found.append(str(source["ref"]))
    label = ((incident.get("metadata") or {}).get("labels") or {}).get(SLO_LABEL)
    if label and label not in found and label not in {label_value(f) for f in found}:
        found.append(str(label))
    return found


def key_times_of(incident: Mapping[str, Any]) -> pm.KeyTimes:
    status = incident.get("status") or {}
    try:
        stamps = Timestamps.model_validate(status.get("timestamps") or {})
    except ValidationError:
        stamps = Timestamps()
    return pm.key_times(stamps.model_dump())


def timeline_facts(incident: Mapping[str, Any]) -> list[pm.Fact]:
    out: list[pm.Fact] = []
    for raw in (incident.get("status") or {}).get("timeline") or []:
        try:
            entry = TimelineEntry.model_validate(raw)
        except ValidationError:
            continue
        out.append(
            pm.Fact(entry.at, entry.type, entry.message, entry.source, entry.key, entry.author)
        )
    return out


def mitigations_of(incident: Mapping[str, Any]) -> tuple[pm.Mitigation, ...]:
    out = []
    for raw in (incident.get("status") or {}).get("mitigations") or []:
        if not isinstance(raw, dict) or not raw.get("name"):
            continue
        out.append(
            pm.Mitigation(
                str(raw["name"]),
                str(raw.get("action", "")),
                str(raw.get("target", "")),
                str(raw.get("state", "")),
                bool(raw.get("dryRun", False)),
                parse_time(raw.get("startedAt")),
                parse_time(raw.get("finishedAt")),
                str(raw.get("message", "")),
            )
        )
    return tuple(out)


KINDS = {
    "deployment": "Deployment",
    "statefulset": "StatefulSet",
    "httproute": "HTTPRoute",
    "rollout": "Rollout",
    "configmap": "ConfigMap",
}
"""Mitigation targets (``kind/name`` as the mitigation engine writes them) -> Event kinds."""


def target_object(target: str) -> tuple[str, str] | None:
    """(kind, name) of a mitigation's target, whose Events belong in the timeline."""
    kind, _, name = target.partition("/")
    return (KINDS[kind], name) if kind in KINDS and name else None


def event_facts(events: Sequence[Mapping[str, Any]]) -> list[pm.Fact]:
    return [
        pm.Fact(
            e["at"],
            "event",
            f"{e['kind']} {e['name']}: {e['reason']}: {e['message']}".strip(": "),
            f"event/{e.get('component') or 'kubernetes'}"[:64],
            f"event/{e['uid']}" if e.get("uid") else "",
        )
        for e in events
        if isinstance(e.get("at"), datetime)
    ]


@dataclass(frozen=True)
class Gathered:
    facts: pm.Facts
    charts: tuple[pm.ChartData, ...]
    unavailable: str | None
    """Why Prometheus could not answer (None: it did, or there was nothing to ask)."""


def event_objects(
    incident: str,
    slos: Sequence[str],
    mitigations: Sequence[pm.Mitigation],
    postmortem: str | None,
) -> list[tuple[str, str]]:
    """(kind, name) of the objects whose Events belong in the timeline."""
    objects = [("Incident", incident), *(("ServiceLevelObjective", s) for s in slos)]
    for mitigation in mitigations:
        target = target_object(mitigation.target)
        if target is not None and target not in objects:
            objects.append(target)
    if postmortem:
        objects.append(("Postmortem", postmortem))
    return objects


@dataclass
class _Measures:
    impacts: list[pm.Impact] = field(default_factory=list)
    charts: list[pm.ChartData] = field(default_factory=list)
    unavailable: str | None = None
    """Why Prometheus could not answer, for the last SLO it failed on."""
    first: tuple[str, Sli] | None = None
    """The first SLO measured, and its indicator (the mitigations' effect is judged on it)."""


class FactGatherer:
    def __init__(
        self,
        postmortems: PostmortemStore,
        clock: Clock,
        *,
        impact: ImpactSource | None = None,
        charts: bool = False,
    ) -> None:
        self._postmortems = postmortems
        self._clock = clock
        self._impact = impact
        self._charts = charts
        """Whether a chart is wanted at all (a renderer is configured)."""

    async def gather(
        self,
        incident: Mapping[str, Any],
        *,
        end: datetime | None = None,
        postmortem: str | None = None,
        with_charts: bool = True,
    ) -> Gathered:
        meta = incident["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        spec = incident.get("spec") or {}
        times = key_times_of(incident)
        if end is not None and times.resolved is None:
            times = replace(times, resolved=end)
        slos = affected_slos(incident)
        mitigations = mitigations_of(incident)
        objects = event_objects(name, slos, mitigations, postmortem)
        events = await self._postmortems.events_about(namespace, objects)
        own = timeline_facts(incident)
        merged = pm.merge_facts(own, pm.mitigation_facts(mitigations), event_facts(events))
        measures = await self._measure_all(namespace, slos, times, with_charts)
        unavailable = measures.unavailable
        measured = measures.first
        if measured is not None and self._impact is not None:
            try:
                mitigations = await self._effects(mitigations, *measured)
            except MetricsUnavailable as exc:
                unavailable = str(exc)
        facts = pm.Facts(
            incident=name,
            title=str(spec.get("title", name)),
            service=str(spec.get("service", "")),
            severity=severity_of(incident),
            key_times=times,
            timeline=merged,
            impacts=tuple(measures.impacts),
            mitigations=mitigations,
            correlated_changes=tuple(f for f in merged if f.type in CHANGE_TYPES),
            figures=times.figures(),
        )
        return Gathered(facts, tuple(measures.charts), unavailable)

    async def _measure_all(
        self, namespace: str, slos: Sequence[str], times: pm.KeyTimes, with_charts: bool
    ) -> _Measures:
        """The impact (and chart) of each SLO over the incident window; none before it ends."""
        out = _Measures()
        window = times.window
        if window is None:
            return out
        for slo in slos:
            body = await self._postmortems.get_slo(namespace, slo)
            if body is None:
                out.impacts.append(pm.Impact(slo, *window, note=f"SLO {slo} not found"))
                continue
            try:
                model = ServiceLevelObjective.model_validate(body)
            except ValidationError:
                out.impacts.append(pm.Impact(slo, *window, note=f"SLO {slo} unreadable"))
                continue
            try:
                found, chart = await self._measure(slo, model, window, times, with_charts)
            except MetricsUnavailable as exc:
                out.unavailable = str(exc)
                out.impacts.append(pm.Impact(slo, *window, note=f"Prometheus unavailable: {exc}"))
                continue
            out.impacts.append(found)
            out.first = out.first or (slo, model.spec.sli())
            if chart is not None:
                out.charts.append(chart)
        return out

    async def _effects(
        self, mitigations: tuple[pm.Mitigation, ...], slo: str, sli: Sli
    ) -> tuple[pm.Mitigation, ...]:
        """Each mitigation with the SLO's error ratio as it started and after it settled."""
        assert self._impact is not None
        now = self._clock.now()
        out = []
        for m in mitigations:
            instants = pm.effect_instants(m, now)
            if instants is None:
                out.append(m)
                continue
            before = await self._impact.mean_ratio(sli, pm.EFFECT_WINDOW, instants[0])
            after = await self._impact.mean_ratio(sli, pm.EFFECT_WINDOW, instants[1])
            out.append(replace(m, effect=pm.effect_text(slo, before, after)))
        return tuple(out)

    async def _measure(
        self,
        slo: str,
        model: ServiceLevelObjective,
        window: tuple[datetime, datetime],
        times: pm.KeyTimes,
        with_charts: bool,
    ) -> tuple[pm.Impact, pm.ChartData | None]:
        if self._impact is None:
            return pm.Impact(slo, *window, note="no Prometheus configured"), None
        start, end = window
        sli = model.spec.sli()
        objective = model.spec.to_domain()
        length = pm.whole_seconds(start, end)
        during = await self._impact.counts(sli, length, end)
        if during is None and (ratio := await self._impact.mean_ratio(sli, length, end)):
            slo_ratio = await self._impact.mean_ratio(sli, objective.window, end)
            found = pm.impact_from_ratios(
                slo,
                objective.target,
                objective.window,
                start,
                end,
                during=ratio,
                slo_window=slo_ratio,
            )
        else:
            whole = await self._impact.counts(sli, objective.window, end)
            found = pm.impact(slo, objective.target, start, end, during=during, slo_window=whole)
        if not with_charts or not self._charts:
            return found, None
        low, high = pm.chart_range(start, end, self._clock.now())
        step = max((high - low) / CHART_POINTS, timedelta(seconds=15))
        ratio_series = await self._impact.ratio_series(sli, CHART_RATIO_WINDOW, low, high, step)
        budget_series = await self._impact.ratio_series(sli, objective.window, low, high, step)
        chart = pm.ChartData(
            slo,
            objective.target,
            start,
            end,
            tuple(ratio_series),
            pm.remaining_series(budget_series, objective.target),
            pm.chart_moments(times),
        )
        return found, chart
