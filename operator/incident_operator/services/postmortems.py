"""Use cases: owe a postmortem when an incident resolves; keep its generated facts current.

``ensure``: a resolved incident (or one whose spec asks to close) gets its Postmortem —
when the Severity requires one, or the incident burned more than the Severity's
``postmortem.budgetShare`` of an SLO's budget — owned by the commander, due from the
severity, linked both ways (``spec.incidentRef`` / ``status.postmortemRef``).

``regenerate``: gathers the facts (incident timeline, Kubernetes Events, mitigations, key
times, Prometheus impact per affected SLO), renders the document and chart into a ConfigMap,
and returns the status patch. Only ``status`` is written: the human sections in ``spec`` are
never touched, so regeneration is always safe.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from incident_operator.adapters.ports import Body, Clock, ResourceStore
from incident_operator.adapters.postmortem_ports import (
    STATE_ANNOTATION,
    ChartRenderer,
    ImpactSource,
    PostmortemStore,
)
from incident_operator.adapters.tickets_port import Ticket, TicketRequest, TicketTracker
from incident_operator.api.v1alpha1.convert import conditions_status, existing_conditions
from incident_operator.api.v1alpha1.incident import TimelineEntry, Timestamps
from incident_operator.api.v1alpha1.postmortem import PostmortemSpec
from incident_operator.api.v1alpha1.severity import Severity
from incident_operator.api.v1alpha1.slo import ServiceLevelObjective
from incident_operator.domain import changes, status_diff, timeline
from incident_operator.domain import postmortem as pm
from incident_operator.domain import tickets as ticket_plan
from incident_operator.domain.conditions import Condition, Status, set_condition
from incident_operator.domain.names import LABEL_MAX, bounded, label_value
from incident_operator.domain.postmortem_document import (
    CHART_FILE,
    document_json,
    render_markdown,
)
from incident_operator.domain.readiness import READY
from incident_operator.domain.sli import Sli
from incident_operator.domain.times import iso, parse_time
from incident_operator.errors import IncidentOperatorError, MetricsUnavailable
from incident_operator.services.incidents import severity_of

from .incidents import AUTHOR
from .keyed_locks import KeyedLocks

log = logging.getLogger(__name__)

SLO_LABEL = "sre.dev/slo"
INCIDENT_LABEL = "sre.dev/incident"
DUE_ANNOTATION = "postmortem.sre.dev/due"
REASON_ANNOTATION = "postmortem.sre.dev/reason"
NOT_REQUIRED = "not-required"
"""The state annotation on an incident that owes no postmortem (so it is not asked again)."""
OVERDUE = "ActionItemsOverdue"
TICKETS_SYNCED = "TicketsSynced"
IMPACT_MEASURED = "ImpactMeasured"
MARKDOWN_KEY = "postmortem.md"
JSON_KEY = "postmortem.json"
CHART_RATIO_WINDOW = timedelta(minutes=5)
CHART_POINTS = 120
CHANGE_TYPES = frozenset({changes.ENTRY_TYPE})
"""Timeline entries of changes the change correlator linked to the incident."""


def config_map_name(postmortem: str) -> str:
    """The rendered document's ConfigMap: unique per postmortem, however long its name."""
    return bounded(postmortem, LABEL_MAX, suffix="-postmortem")


def severity_policy(severity: Body | None) -> pm.Policy:
    """The Severity's policy; missing or unreadable: nothing required."""
    if severity is None:
        return pm.Policy()
    try:
        return Severity.model_validate(severity).spec.postmortem.to_domain()
    except ValidationError:
        return pm.Policy()


def close_blocker(
    incident: Mapping[str, Any], severity: Body | None, postmortem: Body | None
) -> str | None:
    """Why this incident may not close yet (its postmortem), or None."""
    ref = (incident.get("status") or {}).get("postmortemRef")
    state = None
    if postmortem is not None:
        state = str((postmortem.get("spec") or {}).get("state") or "draft")
    return pm.close_blocker(severity_policy(severity).required, ref, state)


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


def _entry(at: datetime, message: str, key: str) -> Body:
    """An entry the postmortem service writes on the incident's timeline."""
    return timeline.entry(at, "postmortem", message, author=AUTHOR, source="postmortem", key=key)


def entry_of(fact: pm.Fact) -> Body:
    return timeline.entry(
        fact.at, fact.type, fact.message, author=fact.author, source=fact.source, key=fact.key
    )


def impact_status(impact: pm.Impact) -> Body:
    return {
        "slo": impact.slo,
        "start": iso(impact.start),
        "end": iso(impact.end),
        "durationSeconds": impact.duration.total_seconds(),
        "totalRequests": impact.total_requests,
        "failedRequests": impact.failed_requests,
        "errorRatio": impact.error_ratio,
        "errorBudgetConsumed": impact.budget_consumed,
        "errorBudgetRemaining": impact.budget_remaining,
        "note": impact.note[:512],
    }


def postmortem_body(incident: Mapping[str, Any], owed: pm.Owed) -> Body:
    """The Postmortem to create; why and by when ride along as annotations (the status
    subresource ignores a status sent on create), and regeneration copies them to status."""
    meta = incident["metadata"]
    spec = incident.get("spec") or {}
    roles = (incident.get("status") or {}).get("roles") or spec.get("roles") or {}
    commander = roles.get("commander")
    body: Body = {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "Postmortem",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            # A selector only (hashed when long); the relationship is spec.incidentRef and
            # the ownerReference.
            "labels": {INCIDENT_LABEL: label_value(meta["name"])},
            "annotations": {DUE_ANNOTATION: iso(owed.due), REASON_ANNOTATION: owed.reason.value},
            "ownerReferences": [
                {
                    "apiVersion": incident.get("apiVersion", "sre.dev/v1alpha1"),
                    "kind": "Incident",
                    "name": meta["name"],
                    "uid": meta["uid"],
                }
            ]
            if meta.get("uid")
            else [],
        },
        "spec": {"incidentRef": meta["name"], "state": "draft"},
    }
    if commander:
        body["spec"]["owner"] = commander
    return body


@dataclass(frozen=True)
class Gathered:
    facts: pm.Facts
    charts: tuple[pm.ChartData, ...]
    unavailable: str | None
    """Why Prometheus could not answer (None: it did, or there was nothing to ask)."""


class PostmortemService:
    def __init__(
        self,
        store: ResourceStore,
        postmortems: PostmortemStore,
        clock: Clock,
        *,
        impact: ImpactSource | None = None,
        charts: ChartRenderer | None = None,
        tracker: TicketTracker | None = None,
    ) -> None:
        self._store = store
        self._postmortems = postmortems
        self._clock = clock
        self._impact = impact
        self._charts = charts
        self._tracker = tracker
        self._ticket_locks = KeyedLocks[tuple[str, str]]()

    # --- creation ---------------------------------------------------------------------

    async def ensure(self, incident: Mapping[str, Any]) -> str | None:
        """Create and link the incident's postmortem if it owes one; its name, or None."""
        meta = incident["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        status = incident.get("status") or {}
        if status.get("postmortemRef"):
            return str(status["postmortemRef"])
        now = self._clock.now()
        ref = severity_of(incident)
        severity = await self._store.get_severity(ref) if ref else None
        policy = severity_policy(severity)
        times = key_times_of(incident)
        resolved = times.resolved or now
        consumed: dict[str, float | None] = {}
        if not policy.required and policy.budget_share is not None:
            gathered = await self.gather(incident, end=resolved, with_charts=False)
            consumed = {i.slo: i.budget_consumed for i in gathered.facts.impacts}
            if gathered.unavailable is not None:
                raise MetricsUnavailable(gathered.unavailable)
        owed = pm.owed(policy, resolved, consumed)
        if owed is None:
            await self._postmortems.link_incident(namespace, name, None, NOT_REQUIRED)
            return None
        created = await self._postmortems.create_postmortem(
            namespace, postmortem_body(incident, owed)
        )
        pm_name = str(created["metadata"]["name"])
        await self._postmortems.patch_postmortem_status(
            namespace, pm_name, {"due": iso(owed.due), "reason": owed.reason.value}
        )
        await self._postmortems.link_incident(
            namespace, name, pm_name, str((created.get("spec") or {}).get("state", "draft"))
        )
        await self._store.append_timeline(
            namespace,
            name,
            [
                _entry(
                    now,
                    f"Postmortem {pm_name} drafted ({owed.message}); due {iso(owed.due)}",
                    f"postmortem/{pm_name}/created",
                )
            ],
        )
        return pm_name

    # --- generated facts --------------------------------------------------------------

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
        objects = [("Incident", name), *(("ServiceLevelObjective", s) for s in slos)]
        for mitigation in mitigations:
            target = target_object(mitigation.target)
            if target is not None and target not in objects:
                objects.append(target)
        if postmortem:
            objects.append(("Postmortem", postmortem))
        events = await self._postmortems.events_about(namespace, objects)
        own = timeline_facts(incident)
        merged = pm.merge_facts(own, pm.mitigation_facts(mitigations), event_facts(events))
        impacts: list[pm.Impact] = []
        charts: list[pm.ChartData] = []
        unavailable: str | None = None
        window = times.window
        measured: tuple[str, Sli] | None = None
        for slo in slos:
            if window is None:
                break
            body = await self._postmortems.get_slo(namespace, slo)
            if body is None:
                impacts.append(pm.Impact(slo, *window, note=f"SLO {slo} not found"))
                continue
            try:
                model = ServiceLevelObjective.model_validate(body)
            except ValidationError:
                impacts.append(pm.Impact(slo, *window, note=f"SLO {slo} unreadable"))
                continue
            try:
                found, chart = await self._measure(slo, model, window, times, with_charts)
            except MetricsUnavailable as exc:
                unavailable = str(exc)
                impacts.append(pm.Impact(slo, *window, note=f"Prometheus unavailable: {exc}"))
                continue
            impacts.append(found)
            measured = measured or (slo, model.spec.sli())
            if chart is not None:
                charts.append(chart)
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
            impacts=tuple(impacts),
            mitigations=mitigations,
            correlated_changes=tuple(f for f in merged if f.type in CHANGE_TYPES),
            figures=times.figures(),
        )
        return Gathered(facts, tuple(charts), unavailable)

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
        if not with_charts or self._charts is None:
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

    async def regenerate(
        self, postmortem: Mapping[str, Any], *, only_if_stale: bool = False
    ) -> Body:
        """Gather, render, write the ConfigMap; the status patch to write (only changes).

        ``only_if_stale`` (the periodic pass): first check what can change without anyone
        editing the postmortem — overdue items, ticket states, the incident's timeline and
        key times, an impact not measured yet — and skip Prometheus and the rendering when
        none did.
        """
        meta = postmortem["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        status = postmortem.get("status") or {}
        generation = int(meta.get("generation", 1))
        now = self._clock.now()
        conditions = existing_conditions(postmortem)
        try:
            spec = PostmortemSpec.model_validate(postmortem.get("spec") or {})
        except ValidationError as exc:
            conditions = set_condition(
                conditions,
                Condition(READY, Status.FALSE, "InvalidSpec", str(exc)[:1000], now, generation),
            )
            return _changes(status, {"observedGeneration": generation, **_conds(conditions)})
        incident = await self._store.get_incident(namespace, spec.incident_ref)
        if incident is None:
            conditions = set_condition(
                conditions,
                Condition(
                    READY,
                    Status.FALSE,
                    "IncidentNotFound",
                    f"incident {spec.incident_ref} not found in {namespace}",
                    now,
                    generation,
                ),
            )
            return _changes(status, {"observedGeneration": generation, **_conds(conditions)})
        links, ticket_problem = await self._sync_tickets(
            namespace,
            name,
            spec.incident_ref,
            [i.to_domain() for i in spec.action_items],
            status=status,
            now=now,
        )
        items = with_tickets([i.to_domain() for i in spec.action_items], links)
        late = pm.overdue(items, now.date())
        if only_if_stale and not stale(postmortem, incident, links, len(late)):
            return {}
        human = replace(spec.to_domain(), action_items=tuple(items))
        gathered = await self.gather(incident, end=None, postmortem=name)
        facts = gathered.facts
        annotations = meta.get("annotations") or {}
        due = parse_time(status.get("due")) or parse_time(annotations.get(DUE_ANNOTATION))
        reason = str(status.get("reason") or annotations.get(REASON_ANNOTATION) or "")
        chart_png = None
        if gathered.charts and self._charts is not None:
            chart_png = self._charts.render(gathered.charts[0])
        await self._postmortems.apply_config_map(
            namespace,
            config_map_name(name),
            dict(postmortem),
            {
                MARKDOWN_KEY: render_markdown(
                    facts, human, due=due, chart=CHART_FILE if chart_png else None
                ),
                JSON_KEY: json.dumps(document_json(facts, human, due=due), indent=2),
            },
            {CHART_FILE: chart_png} if chart_png else {},
        )
        for condition in _conditions(facts, gathered.unavailable, late, now, generation):
            conditions = set_condition(conditions, condition)
        if self._tracker is not None:
            conditions = set_condition(
                conditions,
                Condition(
                    TICKETS_SYNCED,
                    Status.FALSE if ticket_problem else Status.TRUE,
                    "TrackerError" if ticket_problem else "Synced",
                    ticket_problem or f"{len(links)} ticket(s) in {self._tracker.name}",
                    now,
                    generation,
                ),
            )
        wanted: Body = {
            "observedGeneration": generation,
            **_conds(conditions),
            "keyTimes": {
                k: iso(v) if (v := getattr(facts.key_times, k)) else None for k in pm.KEY_TIMES
            },
            "durations": dict(facts.figures),
            "timeline": [entry_of(f) for f in facts.timeline[-1000:]],
            "impact": [impact_status(i) for i in facts.impacts],
            "mitigations": [_mitigation(m) for m in facts.mitigations],
            "correlatedChanges": [entry_of(f) for f in facts.correlated_changes[-64:]],
            "due": iso(due) if due else None,
            "reason": reason,
            "renderedConfigMap": config_map_name(name),
            "chart": CHART_FILE if chart_png else "",
            "overdueActionItems": len(late),
            "tickets": links,
        }
        patch = _changes(status, wanted)
        if patch or (chart_png and chart_was_cut(status, facts.key_times)):
            # Also when only the chart grew: the new instant tells the next pass it is whole.
            patch["generatedAt"] = iso(now)
        await self._after(incident, name, spec.state.value, late, now)
        return patch

    async def _sync_tickets(
        self,
        namespace: str,
        name: str,
        incident: str,
        items: Sequence[pm.ActionItem],
        *,
        status: Mapping[str, Any],
        now: datetime,
    ) -> tuple[list[Body], str | None]:
        """One ticket sync per postmortem at a time.

        The update handler and the refresh timer can regenerate the same postmortem at once,
        both from a status without the ticket: without the lock both look up "none" and both
        create (the e2e caught a second Jira issue). Serialised, the second one's look-up
        finds the first one's ticket.
        """
        async with self._ticket_locks.hold((namespace, name)):
            return await self._sync_tickets_once(
                namespace, name, incident, items, status=status, now=now
            )

    async def _sync_tickets_once(
        self,
        namespace: str,
        name: str,
        incident: str,
        items: Sequence[pm.ActionItem],
        *,
        status: Mapping[str, Any],
        now: datetime,
    ) -> tuple[list[Body], str | None]:
        """Create the missing tickets, read the others back; (links, first error or None).

        A failing tracker never stops the regeneration: what was synced before is kept.
        Effectively once: an item without a recorded ticket is first looked up by its marker
        (an earlier pass may have created the ticket and died before its status was written)
        and the ticket found is adopted; only when the look-up answers "none" is one created.
        A failing look-up creates nothing — the next pass asks again.
        """
        kept = [t for t in status.get("tickets") or [] if isinstance(t, dict)]
        tracker = self._tracker
        if tracker is None:
            return kept, None
        by_title = {str(t.get("title")): dict(t) for t in kept}
        synced = {
            title: str(t["ref"])
            for title, t in by_title.items()
            if t.get("tracker") == tracker.name and t.get("ref")
        }
        creates, reads = ticket_plan.plan(items, synced, tracker.owns)
        problem = None
        for create in creates:
            request = TicketRequest(
                create.item.title,
                ticket_plan.description(create.item, name, incident),
                create.item.due,
                ("postmortem", f"incident-{incident}"),
                ticket_plan.marker(namespace, name, create.item.title),
            )
            try:
                ticket = await tracker.find(request)
                if ticket is None:
                    ticket = await tracker.create(request)
                else:
                    log.info(
                        "postmortem %s/%s: action item %r already has ticket %s (adopted)",
                        namespace,
                        name,
                        create.item.title,
                        ticket.ref,
                    )
            except IncidentOperatorError as exc:
                problem = problem or str(exc)
                continue
            by_title[create.item.title] = _link(create.item.title, tracker.name, ticket, now, None)
        for read in reads:
            try:
                ticket = await tracker.get(read.ref)
            except IncidentOperatorError as exc:
                problem = problem or str(exc)
                continue
            by_title[read.title] = _link(
                read.title, tracker.name, ticket, now, by_title.get(read.title)
            )
        titles = [i.title for i in items]
        links = [by_title[t] for t in titles if t in by_title]
        return links[:64], problem

    async def _after(
        self,
        incident: Mapping[str, Any],
        name: str,
        state: str,
        late: Sequence[pm.ActionItem],
        now: datetime,
    ) -> None:
        """Keep the incident's link current; tell its timeline (type ``postmortem``: the comms
        outbox posts those to the incident's channel), keyed so each message goes out once."""
        meta = incident["metadata"]
        namespace, incident_name = str(meta["namespace"]), str(meta["name"])
        annotations = meta.get("annotations") or {}
        linked = (incident.get("status") or {}).get("postmortemRef")
        if annotations.get(STATE_ANNOTATION) != state or linked != name:
            await self._postmortems.link_incident(namespace, incident_name, name, state)
        entries: list[Body] = [
            _entry(
                now,
                f"Postmortem draft {name} is ready: kubectl incident postmortem "
                f"{incident_name} -n {namespace} (ConfigMap {config_map_name(name)})",
                f"postmortem/{name}/drafted",
            )
        ]
        if state == pm.PUBLISHED:
            entries.append(
                _entry(now, f"Postmortem {name} was published", f"postmortem/{name}/published")
            )
        for reminder in pm.overdue_reminders(late, now.date(), name):
            entries.append(_entry(now, reminder.message, reminder.key))
        await self._store.append_timeline(namespace, incident_name, entries)


def _link(
    title: str, tracker: str, ticket: Ticket, now: datetime, previous: Mapping[str, Any] | None
) -> Body:
    """The status entry; ``syncedAt`` moves only when something else did (no idle writes)."""
    link = {"title": title, "tracker": tracker, "ref": ticket.ref, "url": ticket.url}
    link["status"] = ticket.status
    if previous is not None and _without_sync_time(previous) == link:
        return {**link, "syncedAt": previous.get("syncedAt") or iso(now)}
    return {**link, "syncedAt": iso(now)}


def _without_sync_time(link: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in link.items() if k != "syncedAt"}


def stale(
    postmortem: Mapping[str, Any],
    incident: Mapping[str, Any],
    links: Sequence[Mapping[str, Any]],
    overdue_items: int,
) -> bool:
    """Whether the stored facts or document are behind what they are drawn from."""
    status = postmortem.get("status") or {}
    generation = int((postmortem.get("metadata") or {}).get("generation", 1))
    if status.get("observedGeneration") != generation:
        return True
    if status.get("overdueActionItems", 0) != overdue_items:
        return True
    stored = [_without_sync_time(t) for t in status.get("tickets") or [] if isinstance(t, dict)]
    if not status_diff.same_normalized(stored, [_without_sync_time(t) for t in links]):
        return True
    keys = {e.get("key") for e in status.get("timeline") or [] if isinstance(e, dict)}
    if any(f.key not in keys for f in timeline_facts(incident) if f.key):
        return True
    times = key_times_of(incident)
    wanted = {k: iso(v) if (v := getattr(times, k)) else None for k in pm.KEY_TIMES}
    if not status_diff.same_normalized(wanted, status.get("keyTimes") or {}):
        return True
    if chart_was_cut(status, times):
        return True
    measured = any(
        c.get("type") == IMPACT_MEASURED and c.get("status") == "True"
        for c in status.get("conditions") or []
        if isinstance(c, dict)
    )
    return times.window is not None and affected_slos(incident) != [] and not measured


def chart_was_cut(status: Mapping[str, Any], times: pm.KeyTimes) -> bool:
    """The stored chart was drawn before its padded end had passed (cut at that moment)."""
    window = times.window
    if not status.get("chart") or window is None:
        return False
    return pm.chart_cut_short(*window, parse_time(status.get("generatedAt")))


def with_tickets(
    items: Sequence[pm.ActionItem], links: Sequence[Mapping[str, Any]]
) -> list[pm.ActionItem]:
    """Action items as the document shows them: the ticket link and the tracker's state."""
    by_title = {str(link.get("title")): link for link in links}
    out = []
    for item in items:
        link = by_title.get(item.title)
        if link is None:
            out.append(item)
            continue
        out.append(
            replace(
                item,
                ticket=item.ticket or str(link.get("url") or "") or None,
                status=str(link.get("status") or item.status),
            )
        )
    return out


def _mitigation(m: pm.Mitigation) -> Body:
    return {
        "name": m.name,
        "action": m.action,
        "target": m.target,
        "state": m.state,
        "dryRun": m.dry_run,
        "startedAt": iso(m.started_at) if m.started_at else None,
        "finishedAt": iso(m.finished_at) if m.finished_at else None,
        "message": m.message,
        "effect": m.effect,
    }


def _conditions(
    facts: pm.Facts,
    unavailable: str | None,
    late: Sequence[pm.ActionItem],
    now: datetime,
    generation: int,
) -> list[Condition]:
    measured = [i for i in facts.impacts if i.budget_consumed is not None]
    if unavailable is not None:
        impact = Condition(
            IMPACT_MEASURED, Status.FALSE, "PrometheusUnavailable", unavailable, now, generation
        )
    elif facts.key_times.window is None:
        impact = Condition(
            IMPACT_MEASURED,
            Status.FALSE,
            "NotResolved",
            "the incident window ends at resolution",
            now,
            generation,
        )
    elif len(measured) < len(facts.impacts) or not facts.impacts:
        impact = Condition(
            IMPACT_MEASURED,
            Status.FALSE,
            "NoData",
            "; ".join(f"{i.slo}: {i.note}" for i in facts.impacts if i.note)
            or "no SLO is linked to the incident",
            now,
            generation,
        )
    else:
        impact = Condition(
            IMPACT_MEASURED,
            Status.TRUE,
            "Measured",
            ", ".join(f"{i.slo}: {i.budget_consumed:.2%} of the budget" for i in measured),
            now,
            generation,
        )
    overdue = (
        Condition(
            OVERDUE,
            Status.TRUE,
            "Overdue",
            "; ".join(f"{i.title} (due {i.due})" for i in late)[:1000],
            now,
            generation,
        )
        if late
        else Condition(
            OVERDUE, Status.FALSE, "NoneOverdue", "no action item is overdue", now, generation
        )
    )
    ready = Condition(
        READY, Status.TRUE, "Generated", "facts gathered and rendered", now, generation
    )
    return [ready, impact, overdue]


def _conds(conditions: Sequence[Condition]) -> Body:
    return {"conditions": conditions_status(conditions)}


def _changes(current: Mapping[str, Any], wanted: Body) -> Body:
    """Top-level keys of ``wanted`` whose value differs (lists and objects replace whole); a
    condition whose lastTransitionTime alone moved did not change."""
    changed = status_diff.changed(
        _comparable(current), _comparable(wanted), same=status_diff.same_normalized
    )
    return {key: wanted[key] for key in changed}


def _comparable(status: Mapping[str, Any]) -> Mapping[str, Any]:
    if "conditions" not in status:
        return status
    return {**status, "conditions": _strip_times(status["conditions"])}


def _strip_times(conditions: Any) -> Any:
    if not isinstance(conditions, list):
        return conditions
    return [
        {k: v for k, v in c.items() if k != "lastTransitionTime"}
        for c in conditions
        if isinstance(c, dict)
    ]
