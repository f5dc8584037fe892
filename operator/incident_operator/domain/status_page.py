"""The public status page: what customers are told, decided from incident records and ``now``.

The output speaks Atlassian Statuspage's vocabulary (indicator, component status, incident
status) and :func:`summary_json`, :func:`status_json` and :func:`incidents_json` give the
exact ``/api/v2`` shapes, so existing Statuspage widgets, bots and monitors read our page
unchanged.

Decisions, and why:

* **Public is opt-in**: an incident is listed only when its Severity says so
  (``spec.statusPage.publish``, default false — written by a cluster admin, not by whoever
  may create an Incident) and the incident is not private. An unknown Severity publishes
  nothing.
* **Ids are opaque** (:func:`public_id`): a keyed hash of namespace, name and uid, so the
  page never tells which namespaces exist or what incidents are called inside the cluster,
  and the id stays the same across restarts (Statuspage consumers key on it) while the
  object lives.
* **Private incidents appear nowhere** — not in the incident lists and *not in component
  status* either. ``private`` is the team's decision not to talk about an incident in public
  (a security incident under embargo, a customer-specific problem). A component turning red
  with no incident to explain it would leak exactly that decision through a side channel and
  invite questions about something the page cannot show. When customers do feel the outage,
  the team makes the incident public or declares a public one; the page never guesses.
* **Only unresolved incidents count** for components and the overall indicator. The
  lifecycle keeps ``resolved`` open (it awaits its postmortem), but for customers a resolved
  incident is over.
* **Declined and merged incidents are left out**: declined was not an incident, a merged one
  is told through the incident it was merged into.
* **Phase -> Statuspage incident status** (:data:`STATUS_OF_PHASE`): triage and investigating
  -> ``investigating`` (we know something is wrong and are on it); mitigated -> ``monitoring``
  (a fix is in, we watch whether it holds); resolved and closed -> ``resolved``.
  ``identified`` is never produced from a phase: no phase records that the cause is known,
  and claiming it would be a guess (a person may say so in a public update, below).
  ``postmortem`` is never produced either: our postmortems are internal documents, and
  Statuspage's ``postmortem`` status promises one published on the page.
* **Update texts come from the page, not from the timeline**: only state changes are public
  (their instants come in as :class:`Update`), and each is worded here per phase. Timeline
  messages are written for responders (names, internal details) and never reach the page.
* **A public face, when written, replaces the page's own words**: the incident's public
  title (``spec.public.title``) is shown instead of its internal title — with public
  updates but no public title, the Severity's drafted title — and its public updates
  (:class:`PublicNote`, written by the communications lead) instead of the canned
  per-phase sentences. The phase stays the truth for the incident's status: a public update
  cannot mark an open incident resolved (the component would turn green while the
  responders are still at work); only ``identified`` — a human's claim no phase records — is
  taken from the latest public update while the incident is being investigated. When the
  phase has moved past the latest public update (resolved, with no one writing so yet), the
  page adds its own sentence for that phase, so the page never lags the incident.
* **Acceptance**: a Severity may require a person's word first (``spec.statusPage.accept``):
  its incidents are listed only once someone published a public update (written, or a
  drafted one accepted), so nothing about them is public before a human agreed to it.
* **Impact** comes from the incident's Severity (``spec.statusPage.impact``); an unknown
  Severity counts as ``none`` — the page claims no more outage than a Severity says.
* **Components**: an incident colours the component named after its service, or, when the
  service catalog knows the service, the components the catalog decides
  (:mod:`.status_catalog`: a Service's own public component and those of its dependants that
  show their dependencies). Public catalog components are listed even when nothing is wrong,
  with their groups (Statuspage's group components) and scheduled maintenances.
* **The 90-day history** holds every incident still unresolved or resolved (else closed)
  within the last 90 days, so an incident that ended inside the window is shown even when it
  began before it; it is grouped by the day (UTC) it was declared.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from .comms import Impact
from .lifecycle import Phase
from .status_catalog import EMPTY, Catalog, Maintenance, MaintenanceStatus, under_maintenance
from .times import iso

HISTORY = timedelta(days=90)
"""How far back "Past incidents" and ``incidents.json`` reach."""


class ComponentStatus(StrEnum):
    OPERATIONAL = "operational"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    UNDER_MAINTENANCE = "under_maintenance"
    """A scheduled maintenance runs and no incident makes it worse (never ranked)."""


class IncidentStatus(StrEnum):
    """Statuspage's incident statuses (all five, though two are never produced: see above)."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    POSTMORTEM = "postmortem"


SEVERITY_ORDER: tuple[Impact, ...] = (Impact.NONE, Impact.MINOR, Impact.MAJOR, Impact.CRITICAL)
"""Least to most severe."""

COMPONENT_OF_IMPACT: Mapping[Impact, ComponentStatus] = {
    Impact.NONE: ComponentStatus.OPERATIONAL,
    Impact.MINOR: ComponentStatus.DEGRADED_PERFORMANCE,
    Impact.MAJOR: ComponentStatus.PARTIAL_OUTAGE,
    Impact.CRITICAL: ComponentStatus.MAJOR_OUTAGE,
}

DESCRIPTION_OF_INDICATOR: Mapping[Impact, str] = {
    Impact.NONE: "All Systems Operational",
    Impact.MINOR: "Minor Service Outage",
    Impact.MAJOR: "Partial System Outage",
    Impact.CRITICAL: "Major System Outage",
}
"""Statuspage's own words for ``status.description``."""

COMPONENT_LABEL: Mapping[ComponentStatus, str] = {
    ComponentStatus.OPERATIONAL: "Operational",
    ComponentStatus.DEGRADED_PERFORMANCE: "Degraded Performance",
    ComponentStatus.PARTIAL_OUTAGE: "Partial Outage",
    ComponentStatus.MAJOR_OUTAGE: "Major Outage",
    ComponentStatus.UNDER_MAINTENANCE: "Under Maintenance",
}

STATUS_OF_PHASE: Mapping[Phase, IncidentStatus] = {
    Phase.TRIAGE: IncidentStatus.INVESTIGATING,
    Phase.INVESTIGATING: IncidentStatus.INVESTIGATING,
    Phase.MITIGATED: IncidentStatus.MONITORING,
    Phase.RESOLVED: IncidentStatus.RESOLVED,
    Phase.CLOSED: IncidentStatus.RESOLVED,
}
"""Declined and merged have no entry: those incidents never reach the page."""


def default_public_status(phase: str) -> IncidentStatus:
    """A public update's status when its writer gives none: where the incident's phase stands
    (``phase`` as the status reads it; unknown, declined or merged: investigating)."""
    try:
        return STATUS_OF_PHASE.get(Phase(phase), IncidentStatus.INVESTIGATING)
    except ValueError:
        return IncidentStatus.INVESTIGATING


UNRESOLVED: frozenset[Phase] = frozenset({Phase.TRIAGE, Phase.INVESTIGATING, Phase.MITIGATED})
HIDDEN: frozenset[Phase] = frozenset({Phase.DECLINED, Phase.MERGED})


def _update_body(phase: Phase, service: str) -> str:
    """Customer wording per phase; closed reads like resolved (and is then dropped as a repeat).
    ``service``: what customers know it by (:func:`public_service`); empty: unnamed."""
    affecting = f" affecting {service}" if service else ""
    if phase is Phase.TRIAGE:
        return f"We are aware of a problem{affecting} and are looking into it."
    if phase is Phase.INVESTIGATING:
        return f"We are investigating the problem{affecting}."
    if phase is Phase.MITIGATED:
        return "A fix has been implemented and we are monitoring the results."
    return "This incident has been resolved."


@dataclass(frozen=True)
class Update:
    """One public state change: the incident entered ``phase`` at ``at``."""

    at: datetime
    phase: Phase


@dataclass(frozen=True)
class PublicNote:
    """An update written for customers (``spec.public.updates``), shown as written."""

    at: datetime
    status: IncidentStatus
    body: str


def public_id(key: bytes, namespace: str, name: str, uid: str) -> str:
    """The incident's id on the page: HMAC-SHA256 over namespace, name and uid (80 bits).

    Stable for the object's lifetime and across restarts (same key); reveals neither the
    namespace nor the name, and an incident re-created under the same name is a new one.
    """
    message = "\x00".join((namespace, name, uid)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:20]


@dataclass(frozen=True)
class IncidentRecord:
    """The facts about one incident the page needs (the service keeps these, not bodies)."""

    id: str
    """Opaque (:func:`public_id`): the only identity the page ever shows."""
    title: str
    service: str
    severity: str
    """Severity object name, e.g. ``sev-2``; internal, never shown."""
    impact: Impact
    phase: Phase
    private: bool
    declared: datetime | None
    """None: not stamped yet (just created); the page treats it as declared ``now``."""
    resolved: datetime | None = None
    closed: datetime | None = None
    updates: tuple[Update, ...] = ()
    """State changes after the declaration, in any order."""
    published: bool = False
    """The Severity opted in to the status page (``spec.statusPage.publish``)."""
    public_title: str = ""
    """``spec.public.title``; empty: the page shows ``title``."""
    public_impact: str = ""
    """``spec.public.impact``: what customers notice, in the team's words."""
    public_updates: tuple[PublicNote, ...] = ()
    """``spec.public.updates``, in any order; when any, they replace the canned sentences."""
    needs_acceptance: bool = False
    """The Severity lists it only once a person published an update (``statusPage.accept``)."""
    drafted_title: str = ""
    """The Severity's suggested public title for it: the name once it has public updates but
    no public title, so the internal title is never shown beside public words."""
    further_services: tuple[str, ...] = ()
    """``spec.services``: the catalog may give these components too."""
    components: tuple[str, ...] | None = None
    """The components it colours, decided from the catalog; None: the one named ``service``."""


@dataclass(frozen=True)
class PageUpdate:
    at: datetime
    status: IncidentStatus
    body: str


@dataclass(frozen=True)
class PageIncident:
    id: str
    name: str
    service: str
    impact: Impact
    status: IncidentStatus
    created: datetime
    updated: datetime
    resolved: datetime | None
    updates: tuple[PageUpdate, ...]
    """Newest first, as Statuspage lists them."""
    impact_text: str = ""
    """What customers notice (the public impact), shown under the name; empty: nothing."""
    components: tuple[str, ...] = ()
    """The components it affects (by name)."""

    @property
    def unresolved(self) -> bool:
        return self.status not in (IncidentStatus.RESOLVED, IncidentStatus.POSTMORTEM)

    @property
    def latest(self) -> PageUpdate:
        return self.updates[0]

    @property
    def day(self) -> date:
        """The (UTC) day the incident is listed under in the history."""
        return self.created.date()


@dataclass(frozen=True)
class Component:
    name: str
    status: ComponentStatus
    updated: datetime
    group: str = ""
    """Its group's name; empty: none."""

    @property
    def id(self) -> str:
        return self.name


@dataclass(frozen=True)
class Page:
    indicator: Impact
    updated: datetime
    components: tuple[Component, ...]
    """By name."""
    open_incidents: tuple[PageIncident, ...]
    """Unresolved, most severe first, then newest first."""
    recent_incidents: tuple[PageIncident, ...]
    """The 90-day history (open ones included), newest declaration first."""
    maintenances: tuple[Maintenance, ...] = ()
    """Scheduled, running and (90 days) completed maintenances, soonest start first."""

    @property
    def description(self) -> str:
        return DESCRIPTION_OF_INDICATOR[self.indicator]

    def groups(self) -> tuple[tuple[str, tuple[Component, ...]], ...]:
        """The components by group: the ungrouped ones (group ``""``) first, then each group
        by name, members by name."""
        grouped: dict[str, list[Component]] = {}
        for component in self.components:
            grouped.setdefault(component.group, []).append(component)
        return tuple((name, tuple(grouped[name])) for name in sorted(grouped))

    def days(self) -> tuple[tuple[date, tuple[PageIncident, ...]], ...]:
        """The history grouped by declaration day, newest day first."""
        grouped: dict[date, list[PageIncident]] = {}
        for incident in self.recent_incidents:
            grouped.setdefault(incident.day, []).append(incident)
        return tuple((day, tuple(items)) for day, items in sorted(grouped.items(), reverse=True))


@dataclass(frozen=True)
class Site:
    """Who the page is: Statuspage's ``page`` object."""

    id: str
    name: str
    url: str
    """Absolute URL of the HTML page; incident shortlinks point into it."""


def worst(impacts: Iterable[Impact]) -> Impact:
    return max(impacts, key=SEVERITY_ORDER.index, default=Impact.NONE)


PROGRESS: tuple[IncidentStatus, ...] = (
    IncidentStatus.INVESTIGATING,
    IncidentStatus.IDENTIFIED,
    IncidentStatus.MONITORING,
    IncidentStatus.RESOLVED,
)
"""How far along a status is; a public update further along than the phase does not move it."""


def components_or_service(service: str, components: tuple[str, ...] | None) -> tuple[str, ...]:
    """The components an incident on ``service`` affects: the catalog's (``components``),
    else the one named after the service."""
    return (service,) if components is None else components


def record_components(record: IncidentRecord) -> tuple[str, ...]:
    return components_or_service(record.service, record.components)


def public_service(record: IncidentRecord) -> str:
    """What the page calls the incident's service: its components' names when the catalog
    gave it any, nothing when the catalog gave none (the internal service name of a Service
    kept off the page never reaches it), else the service as written."""
    return ", ".join(record_components(record))


def _canned_updates(record: IncidentRecord, created: datetime) -> list[PageUpdate]:
    """The page's own sentence for each state change, oldest first."""
    changes = sorted((u for u in record.updates if u.phase in STATUS_OF_PHASE), key=_at)
    updates: list[PageUpdate] = []
    last_body = ""
    for at, phase in [(created, Phase.TRIAGE), *((u.at, u.phase) for u in changes)]:
        body = _update_body(phase, public_service(record))
        if body != last_body:  # closed after resolved, or a repeated entry: nothing new to say
            updates.append(PageUpdate(max(at, created), STATUS_OF_PHASE[phase], body))
            last_body = body
    return updates


def _public_updates(record: IncidentRecord, created: datetime) -> list[PageUpdate]:
    notes = sorted(record.public_updates, key=lambda n: (n.at, PROGRESS.index(n.status)))
    return [PageUpdate(max(n.at, created), n.status, n.body) for n in notes]


def _page_incident(record: IncidentRecord, now: datetime) -> PageIncident:
    created = record.declared or now
    written = bool(record.public_updates)
    updates = _public_updates(record, created) if written else _canned_updates(record, created)
    status = STATUS_OF_PHASE[record.phase]
    latest = updates[-1].status
    if written and status is IncidentStatus.INVESTIGATING and latest is IncidentStatus.IDENTIFIED:
        status = IncidentStatus.IDENTIFIED  # the cause is known: a human said so
    if latest != status and (not written or PROGRESS.index(latest) < PROGRESS.index(status)):
        # The timeline lost the change (folded away), or the updates lag the phase: say
        # where it stands.
        entered = [u.at for u in record.updates if STATUS_OF_PHASE.get(u.phase) is status]
        at = record.resolved or record.closed or max(entered, default=updates[-1].at)
        updates.append(
            PageUpdate(
                max(at, updates[-1].at), status, _update_body(record.phase, public_service(record))
            )
        )
    resolved = None
    if status is IncidentStatus.RESOLVED:
        resolved = record.resolved or record.closed or updates[-1].at
    return PageIncident(
        id=record.id,
        name=record.public_title
        or (record.drafted_title if written and record.drafted_title else record.title),
        service=record.service,
        impact=record.impact,
        status=status,
        created=created,
        updated=max(u.at for u in updates),
        resolved=resolved,
        updates=tuple(reversed(updates)),
        impact_text=record.public_impact,
        components=record_components(record),
    )


def _at(update: Update) -> datetime:
    return update.at


def shown(record: IncidentRecord) -> bool:
    """Whether the incident is on the page at all: its Severity publishes, it is not
    private, it was neither declined nor merged, and, where its Severity says so, a person
    has published a public update for it."""
    accepted = bool(record.public_updates) or not record.needs_acceptance
    return record.published and not record.private and record.phase not in HIDDEN and accepted


def _in_window(incident: PageIncident, since: datetime) -> bool:
    return incident.unresolved or (incident.resolved or incident.updated) >= since


def build_page(records: Iterable[IncidentRecord], now: datetime, catalog: Catalog = EMPTY) -> Page:
    """The page at ``now`` from every incident the operator knows (unpublished and private
    ones included: they are left out here) and the catalog's public components."""
    since = now - HISTORY
    incidents = [_page_incident(r, now) for r in records if shown(r)]
    recent = sorted(
        (i for i in incidents if _in_window(i, since)),
        key=lambda i: (i.created, i.id),
        reverse=True,
    )
    unresolved = [i for i in recent if i.unresolved]
    open_incidents = sorted(unresolved, key=lambda i: -SEVERITY_ORDER.index(i.impact))
    components: dict[str, Component] = {}
    for incident in sorted(recent, key=lambda i: i.updated):
        for name in incident.components:
            before = components.get(name)
            impact = incident.impact if incident.unresolved else Impact.NONE
            status = COMPONENT_OF_IMPACT[impact]
            if before is not None and _rank(before.status) > _rank(status):
                status = before.status
            components[name] = Component(name, status, incident.updated)
    updated = max((i.updated for i in recent), default=now)
    maintenances = catalog.maintenances(now)
    return Page(
        indicator=worst(i.impact for i in unresolved),
        updated=updated,
        components=_with_catalog(components, catalog, under_maintenance(maintenances), updated),
        open_incidents=tuple(open_incidents),
        recent_incidents=tuple(recent),
        maintenances=maintenances,
    )


def _with_catalog(
    components: Mapping[str, Component],
    catalog: Catalog,
    running: frozenset[str],
    updated: datetime,
) -> tuple[Component, ...]:
    """Every component by name: the catalog's public ones too (operational when nothing
    colours them), with their groups, and under maintenance while a window runs on an
    otherwise operational one."""
    groups = catalog.groups()
    merged = dict(components)
    for name in groups:
        merged.setdefault(name, Component(name, ComponentStatus.OPERATIONAL, updated))
    result = []
    for name in sorted(merged):
        component = replace(merged[name], group=groups.get(name, ""))
        if name in running and component.status is ComponentStatus.OPERATIONAL:
            component = replace(component, status=ComponentStatus.UNDER_MAINTENANCE)
        result.append(component)
    return tuple(result)


def with_components(page: Page, names: Iterable[str]) -> Page:
    """``page`` listing ``names`` too (the public components the uptime bars are shown for):
    one that no open incident colours is operational, as Statuspage lists every component."""
    known = {c.name for c in page.components}
    extra = [Component(n, ComponentStatus.OPERATIONAL, page.updated) for n in names]
    merged = [*page.components, *(c for c in extra if c.name not in known)]
    if len(merged) == len(page.components):
        return page
    return replace(page, components=tuple(sorted(merged, key=lambda c: c.name)))


def _rank(status: ComponentStatus) -> int:
    return list(ComponentStatus).index(status)


# --- Statuspage /api/v2 JSON --------------------------------------------------------------


def _iso(at: datetime | None) -> str | None:
    return None if at is None else iso(at)


def page_json(page: Page, site: Site) -> dict[str, Any]:
    return {
        "id": site.id,
        "name": site.name,
        "url": site.url,
        "time_zone": "Etc/UTC",
        "updated_at": iso(page.updated),
    }


def status_object(page: Page) -> dict[str, str]:
    return {"indicator": page.indicator.value, "description": page.description}


def group_id(name: str) -> str:
    """A component group's id: opaque ``[a-z0-9]`` like Statuspage's, stable for the name."""
    return "g" + hashlib.sha256(name.encode()).hexdigest()[:19]


def component_json(component: Component, site: Site, position: int) -> dict[str, Any]:
    return {
        "id": component.id,
        "name": component.name,
        "status": component.status.value,
        "created_at": iso(component.updated),
        "updated_at": iso(component.updated),
        "position": position,
        "description": None,
        "showcase": True,
        "start_date": None,
        "group_id": group_id(component.group) if component.group else None,
        "page_id": site.id,
        "group": False,
        "only_show_if_degraded": False,
    }


def group_status(members: Iterable[Component]) -> ComponentStatus:
    """A group shows its worst member (under maintenance only when no member is worse)."""
    statuses = [m.status for m in members]
    ranked = [s for s in statuses if s is not ComponentStatus.UNDER_MAINTENANCE]
    status = max(ranked, key=_rank, default=ComponentStatus.OPERATIONAL)
    if status is ComponentStatus.OPERATIONAL and len(ranked) < len(statuses):
        return ComponentStatus.UNDER_MAINTENANCE
    return status


def components_list_json(page: Page, site: Site) -> list[dict[str, Any]]:
    """Every component as Statuspage lists them: ungrouped ones, then each group (a component
    with ``group: true`` naming its members' ids) followed by its members."""
    ordered: list[dict[str, Any]] = []
    for name, members in page.groups():
        if name:
            group = Component(name, group_status(members), max(m.updated for m in members))
            ordered.append(
                component_json(group, site, len(ordered) + 1)
                | {"id": group_id(name), "group": True, "components": [m.id for m in members]}
            )
        for member in members:
            ordered.append(component_json(member, site, len(ordered) + 1))
    return ordered


def incident_json(incident: PageIncident, page: Page, site: Site) -> dict[str, Any]:
    statuses = {c.name: c for c in page.components}
    affected = [statuses[name] for name in incident.components if name in statuses]
    monitoring = [u.at for u in incident.updates if u.status is IncidentStatus.MONITORING]
    return {
        "id": incident.id,
        "name": incident.name,
        "status": incident.status.value,
        "impact": incident.impact.value,
        "created_at": iso(incident.created),
        "updated_at": iso(incident.updated),
        "started_at": iso(incident.created),
        "monitoring_at": _iso(max(monitoring, default=None)),
        "resolved_at": _iso(incident.resolved),
        "shortlink": f"{site.url}#incident-{incident.id}",
        "page_id": site.id,
        "incident_updates": [
            {
                # Opaque like every other id (Statuspage's are [a-z0-9]): no "/" for a
                # client to put into a URL path.
                "id": f"{incident.id}u{len(incident.updates) - n}",
                "incident_id": incident.id,
                "status": update.status.value,
                "body": update.body,
                "created_at": iso(update.at),
                "updated_at": iso(update.at),
                "display_at": iso(update.at),
                "affected_components": None,
                "deliver_notifications": False,
            }
            for n, update in enumerate(incident.updates)
        ],
        "components": [component_json(c, site, 0) for c in affected],
    }


def summary_json(page: Page, site: Site) -> dict[str, Any]:
    """``/api/v2/summary.json``: status, every component and the unresolved incidents."""
    return {
        "page": page_json(page, site),
        "status": status_object(page),
        "components": components_list_json(page, site),
        "incidents": [incident_json(i, page, site) for i in page.open_incidents],
        "scheduled_maintenances": [
            maintenance_json(m, page, site)
            for m in page.maintenances
            if m.status is not MaintenanceStatus.COMPLETED
        ],
    }


def status_json(page: Page, site: Site) -> dict[str, Any]:
    """``/api/v2/status.json``: the rollup only."""
    return {"page": page_json(page, site), "status": status_object(page)}


def incidents_json(page: Page, site: Site) -> dict[str, Any]:
    """``/api/v2/incidents.json``: the 90-day history, newest first (resolved ones included)."""
    return {
        "page": page_json(page, site),
        "incidents": [incident_json(i, page, site) for i in page.recent_incidents],
    }


def components_json(page: Page, site: Site) -> dict[str, Any]:
    """``/api/v2/components.json``: every component, as in the summary."""
    return {
        "page": page_json(page, site),
        "components": components_list_json(page, site),
    }


def unresolved_incidents_json(page: Page, site: Site) -> dict[str, Any]:
    """``/api/v2/incidents/unresolved.json``: the open incidents, newest first."""
    return {
        "page": page_json(page, site),
        "incidents": [incident_json(i, page, site) for i in page.open_incidents],
    }


MAINTENANCE_BODY: Mapping[MaintenanceStatus, str] = {
    MaintenanceStatus.SCHEDULED: "We will be undergoing scheduled maintenance during this time.",
    MaintenanceStatus.IN_PROGRESS: "Scheduled maintenance is currently in progress.",
    MaintenanceStatus.COMPLETED: "The scheduled maintenance has been completed.",
}
"""Statuspage's own default wording per stage, used when a window has no description."""


def maintenance_json(maintenance: Maintenance, page: Page, site: Site) -> dict[str, Any]:
    """One scheduled maintenance in Statuspage's shape: its updates are the stages reached
    (scheduled at creation — we only know the start —, in progress at the start, completed at
    the end), newest first."""
    window = maintenance.window
    reached = list(MaintenanceStatus)[: list(MaintenanceStatus).index(maintenance.status) + 1]
    at = {
        MaintenanceStatus.SCHEDULED: window.start,
        MaintenanceStatus.IN_PROGRESS: window.start,
        MaintenanceStatus.COMPLETED: window.end,
    }
    statuses = {c.name: c for c in page.components}
    components = [statuses[name] for name in maintenance.components if name in statuses]
    updated = at[maintenance.status]
    return {
        "id": maintenance.id,
        "name": window.name,
        "status": maintenance.status.value,
        "impact": "maintenance",
        "created_at": iso(window.start),
        "updated_at": iso(updated),
        "started_at": iso(window.start),
        "monitoring_at": None,
        "resolved_at": _iso(
            window.end if maintenance.status is MaintenanceStatus.COMPLETED else None
        ),
        "shortlink": f"{site.url}#maintenance-{maintenance.id}",
        "page_id": site.id,
        "scheduled_for": iso(window.start),
        "scheduled_until": iso(window.end),
        "incident_updates": [
            {
                "id": f"{maintenance.id}u{n + 1}",
                "incident_id": maintenance.id,
                "status": stage.value,
                "body": window.description
                if stage is MaintenanceStatus.SCHEDULED and window.description
                else MAINTENANCE_BODY[stage],
                "created_at": iso(at[stage]),
                "updated_at": iso(at[stage]),
                "display_at": iso(at[stage]),
                "affected_components": None,
                "deliver_notifications": False,
            }
            for n, stage in reversed(list(enumerate(reached)))
        ],
        "components": [component_json(c, site, 0) for c in components],
    }


def _maintenances_json(
    page: Page, site: Site, statuses: frozenset[MaintenanceStatus]
) -> dict[str, Any]:
    return {
        "page": page_json(page, site),
        "scheduled_maintenances": [
            maintenance_json(m, page, site) for m in page.maintenances if m.status in statuses
        ],
    }


def scheduled_maintenances_json(page: Page, site: Site) -> dict[str, Any]:
    """``/api/v2/scheduled-maintenances.json``: every maintenance of the last 90 days and
    to come."""
    return _maintenances_json(page, site, frozenset(MaintenanceStatus))


def upcoming_maintenances_json(page: Page, site: Site) -> dict[str, Any]:
    """``/api/v2/scheduled-maintenances/upcoming.json``: those not started yet."""
    return _maintenances_json(page, site, frozenset({MaintenanceStatus.SCHEDULED}))


def active_maintenances_json(page: Page, site: Site) -> dict[str, Any]:
    """``/api/v2/scheduled-maintenances/active.json``: those under way."""
    return _maintenances_json(page, site, frozenset({MaintenanceStatus.IN_PROGRESS}))
