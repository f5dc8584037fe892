"""Use cases: owe a postmortem when an incident resolves; keep its generated facts current.

``ensure``: a resolved incident (or one whose spec asks to close) gets its Postmortem —
when the Severity requires one, or the incident burned more than the Severity's
``postmortem.budgetShare`` of an SLO's budget — owned by the commander, due from the
severity, linked both ways (``spec.incidentRef`` / ``status.postmortemRef``).

``regenerate``: gathers the facts (incident timeline, Kubernetes Events, mitigations, key
times, Prometheus impact per affected SLO), renders the document and chart into a ConfigMap,
and returns the status patch. Only ``status`` is written: the human sections in ``spec`` are
never touched, so regeneration is always safe.

The parts live beside this module: postmortem_creation (what is owed),
postmortem_facts (gathering), postmortem_tickets (tracker sync) and postmortem_status
(status fields, conditions, diffs, staleness).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from incident_operator.adapters.ports import Body, Clock, ResourceStore
from incident_operator.adapters.postmortem_ports import (
    STATE_ANNOTATION,
    ChartRenderer,
    ImpactSource,
    PostmortemStore,
)
from incident_operator.adapters.tickets_port import TicketTracker
from incident_operator.api.v1alpha1.convert import existing_conditions
from incident_operator.api.v1alpha1.postmortem import PostmortemSpec
from incident_operator.domain import postmortem as pm
from incident_operator.domain import timeline
from incident_operator.domain.conditions import Condition, Status, set_condition
from incident_operator.domain.names import LABEL_MAX, bounded
from incident_operator.domain.postmortem_document import CHART_FILE, document_json, render_markdown
from incident_operator.domain.readiness import READY
from incident_operator.domain.times import iso, parse_time
from incident_operator.errors import MetricsUnavailable
from incident_operator.services.incidents import severity_of

from .incidents import AUTHOR
from .postmortem_creation import (
    DUE_ANNOTATION,
    NOT_REQUIRED,
    REASON_ANNOTATION,
    postmortem_body,
    severity_policy,
)
from .postmortem_facts import FactGatherer, key_times_of
from .postmortem_status import (
    changed_fields,
    chart_was_cut,
    conditions_body,
    entry_of,
    impact_status,
    mitigation_status,
    regenerated_conditions,
    stale,
)
from .postmortem_tickets import TicketSync, with_tickets
from .workflow_follow_up import draft_items

MARKDOWN_KEY = "postmortem.md"
JSON_KEY = "postmortem.json"


def config_map_name(postmortem: str) -> str:
    """The rendered document's ConfigMap: unique per postmortem, however long its name."""
    return bounded(postmortem, LABEL_MAX, suffix="-postmortem")


def _entry(at: datetime, message: str, key: str) -> Body:
    """An entry the postmortem service writes on the incident's timeline."""
    return timeline.entry(at, "postmortem", message, author=AUTHOR, source="postmortem", key=key)


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
        self._charts = charts
        self._facts = FactGatherer(postmortems, clock, impact=impact, charts=charts is not None)
        self._tickets = TicketSync(tracker)

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
            gathered = await self._facts.gather(incident, end=resolved, with_charts=False)
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
        _, carried = draft_items(incident)  # in the draft: not to be added again
        if carried:
            marks = {i: {"postmortem": pm_name} for i in carried}
            await self._store.patch_incident(
                namespace, name, status={"workflows": {"followUps": marks}}
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
            return changed_fields(
                status, {"observedGeneration": generation, **conditions_body(conditions)}
            )
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
            return changed_fields(
                status, {"observedGeneration": generation, **conditions_body(conditions)}
            )
        links, ticket_problem = await self._tickets.sync(
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
        gathered = await self._facts.gather(incident, end=None, postmortem=name)
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
        for condition in regenerated_conditions(facts, gathered.unavailable, late, now, generation):
            conditions = set_condition(conditions, condition)
        synced = self._tickets.condition(links, ticket_problem, now, generation)
        if synced is not None:
            conditions = set_condition(conditions, synced)
        wanted: Body = {
            "observedGeneration": generation,
            **conditions_body(conditions),
            "keyTimes": {
                k: iso(v) if (v := getattr(facts.key_times, k)) else None for k in pm.KEY_TIMES
            },
            "durations": dict(facts.figures),
            "timeline": [entry_of(f) for f in facts.timeline[-1000:]],
            "impact": [impact_status(i) for i in facts.impacts],
            "mitigations": [mitigation_status(m) for m in facts.mitigations],
            "correlatedChanges": [entry_of(f) for f in facts.correlated_changes[-64:]],
            "due": iso(due) if due else None,
            "reason": reason,
            "renderedConfigMap": config_map_name(name),
            "chart": CHART_FILE if chart_png else "",
            "overdueActionItems": len(late),
            "tickets": links,
        }
        patch = changed_fields(status, wanted)
        if patch or (chart_png and chart_was_cut(status, facts.key_times)):
            # Also when only the chart grew: the new instant tells the next pass it is whole.
            patch["generatedAt"] = iso(now)
        await self._after(incident, name, spec.state.value, late, now)
        return patch

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
