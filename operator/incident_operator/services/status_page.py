"""The status page's knowledge of incidents and severities, kept current from the watch stream.

Same reasoning as ``open_incidents.py``: kopf already watches every Incident and Severity,
its watch starts with the full listing and reports every change and deletion, so an index
fed by those events is exact within one event's latency, costs no API call, and a page view
never waits on the API server (nor can a busy status page load the API server).

Only compact records are kept — the few fields the page shows, never whole bodies with
their 500-entry timelines. Incidents and severities are joined at page time, so a Severity
whose impact is edited re-colours its open incidents at once, in whatever order the events
came. Malformed objects never break the page: an incident whose spec cannot be read is left
off (its ``private`` flag is unknown, and showing it could leak it); an unreadable status
field counts as absent; an unreadable Severity publishes nothing (its opt-in cannot be read)
and its impact counts as ``none``.

What is public is decided by the cluster admin's Severity (``spec.statusPage.publish``) and
the incident's ``spec.private``; what is said, by the incident's ``spec.public`` (title,
impact, updates) when written, the page's own wording otherwise. Records carry only an
opaque id (domain ``public_id``, keyed with the operator's status page id key), never the
namespace or name.

Services (the catalog) are observed the same way, as compact entries
(:class:`~incident_operator.domain.status_catalog.Entry`): their component, group,
dependencies and maintenance windows, public only while the operator has resolved the
Service's owner (the owner Team admits its namespace, see domain/status_catalog.py). An
unreadable Service is left off the page.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from incident_operator.api.v1alpha1.catalog import ServiceSpec
from incident_operator.api.v1alpha1.incident import IncidentSpec, Timestamps
from incident_operator.api.v1alpha1.severity import StatusPage
from incident_operator.domain import status_catalog, status_page
from incident_operator.domain.comms import Impact
from incident_operator.domain.lifecycle import Milestone, Phase
from incident_operator.domain.public_draft import DraftTemplates, draft
from incident_operator.domain.times import parse_time
from incident_operator.services.incidents import severity_of

STATE_CHANGED = "state-changed"
"""Timeline type the lifecycle writes for an accepted move (services/lifecycle_plan.py)."""
MAX_UPDATES = 50
"""State changes kept per incident; a page needs the latest few, a flapping one can't bloat us."""
_KEY = re.compile(r"^state/([a-z]+)/")
_MESSAGE = re.compile(r"-> ([a-z]+)")
# Fallback when the timeline holds no state change (folded away): the milestone stamps.
_MILESTONE_PHASE: Mapping[Milestone, Phase] = {
    Milestone.ACKNOWLEDGED: Phase.INVESTIGATING,
    Milestone.MITIGATED: Phase.MITIGATED,
    Milestone.RESOLVED: Phase.RESOLVED,
    Milestone.CLOSED: Phase.CLOSED,
}


def _key(body: Mapping[str, Any]) -> tuple[str, str]:
    meta = body.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _phase(text: Any) -> Phase | None:
    try:
        return Phase(str(text))
    except ValueError:
        return None


def _state_change(entry: Any) -> status_page.Update | None:
    """The phase a ``state-changed`` entry moved to (from its key, else its message)."""
    if not isinstance(entry, Mapping) or entry.get("type") != STATE_CHANGED:
        return None
    at = parse_time(entry.get("at"))
    match = _KEY.match(str(entry.get("key") or "")) or _MESSAGE.search(
        str(entry.get("message") or "")
    )
    phase = _phase(match.group(1)) if match else None
    return None if at is None or phase is None else status_page.Update(at, phase)


def _updates(status: Mapping[str, Any], stamps: Timestamps) -> tuple[status_page.Update, ...]:
    timeline = status.get("timeline")
    entries = timeline if isinstance(timeline, list) else []
    changes = [u for e in entries if (u := _state_change(e)) is not None]
    if not changes:
        changes = [
            status_page.Update(at, phase)
            for milestone, phase in _MILESTONE_PHASE.items()
            if (at := getattr(stamps, milestone.value)) is not None
        ]
    return tuple(sorted(changes, key=lambda u: u.at)[-MAX_UPDATES:])


def incident_record(
    body: Mapping[str, Any], id_key: bytes = b""
) -> status_page.IncidentRecord | None:
    """The page's record of one Incident; None when its spec is unreadable.

    Impact and publication are left ``none``/off here and filled from the Severity at page
    time.
    """
    try:
        spec = IncidentSpec.model_validate(body.get("spec") or {})
    except ValidationError:
        return None
    raw_status = body.get("status")
    status: Mapping[str, Any] = raw_status if isinstance(raw_status, Mapping) else {}
    phase = _phase(status.get("phase") or Phase.TRIAGE.value)
    if phase is None:
        return None
    try:
        stamps = Timestamps.model_validate(status.get("timestamps") or {})
    except ValidationError:
        stamps = Timestamps()
    meta = body.get("metadata") or {}
    created = parse_time(meta.get("creationTimestamp"))
    namespace, name = _key(body)
    return status_page.IncidentRecord(
        id=status_page.public_id(id_key, namespace, name, str(meta.get("uid") or "")),
        title=spec.title,
        service=spec.service,
        further_services=tuple(spec.services),
        severity=severity_of(body),
        impact=Impact.NONE,
        phase=phase,
        private=spec.private,
        declared=stamps.declared or created,
        resolved=stamps.resolved,
        closed=stamps.closed,
        updates=_updates(status, stamps),
        public_title=spec.public.title,
        public_impact=spec.public.impact,
        public_updates=tuple(
            status_page.PublicNote(u.at, status_page.IncidentStatus(u.status.value), u.text)
            for u in spec.public.updates
        ),
    )


def service_entry(body: Mapping[str, Any]) -> status_catalog.Entry | None:
    """The page's entry for one Service; None when its spec is unreadable. Its component is
    public only when ``statusPage.public`` and the operator resolved the owner it names."""
    try:
        spec = ServiceSpec.model_validate(body.get("spec") or {})
    except ValidationError:
        return None
    raw_status = body.get("status")
    status: Mapping[str, Any] = raw_status if isinstance(raw_status, Mapping) else {}
    admitted = status.get("owner") == spec.owner
    component = spec.status_page
    namespace, name = _key(body)
    if component is None or not component.public or not admitted:
        return status_catalog.Entry(namespace, name, "", dependencies=tuple(spec.dependencies))
    return status_catalog.Entry(
        namespace,
        name,
        component.name,
        group=component.group,
        dependencies=tuple(spec.dependencies),
        show_dependencies=component.show_dependencies,
        windows=tuple(
            status_catalog.Window(w.name, w.description, w.start, w.end)
            for w in component.maintenance
        ),
    )


DEFAULT_DRAFT = StatusPage().draft.to_domain()


@dataclasses.dataclass(frozen=True)
class Publication:
    """What a Severity says about the status page."""

    publish: bool = False
    impact: Impact = Impact.NONE
    accept: bool = False
    """Incidents are listed only once a person published a public update."""
    draft: DraftTemplates = DEFAULT_DRAFT
    """Suggested public wording (its title names incidents with public updates but none)."""


def severity_publication(body: Mapping[str, Any]) -> Publication:
    """``spec.statusPage``; anything unreadable publishes nothing at impact ``none`` (claim no
    outage, and show no incident, we can't read the admin's word for)."""
    spec = body.get("spec")
    try:
        model = StatusPage.model_validate((spec or {}).get("statusPage") or {})
    except (ValidationError, AttributeError):
        return Publication()
    return Publication(
        model.publish, Impact(model.impact.value), model.accept, model.draft.to_domain()
    )


class StatusPageIndex:
    def __init__(self, id_key: bytes = b"") -> None:
        """``id_key``: keys the public ids (keep it across restarts: ids depend on it)."""
        self._id_key = id_key
        self._incidents: dict[tuple[str, str], status_page.IncidentRecord] = {}
        self._severities: dict[str, Publication] = {}
        self._services: dict[status_catalog.ServiceKey, status_catalog.Entry] = {}
        self.version = 0
        """Counts changes, so a renderer can keep its output until something moved."""

    def observe_incident(self, body: Mapping[str, Any], *, deleted: bool = False) -> None:
        """Take one Incident watch event (the object as it is now)."""
        key = _key(body)
        record = None if deleted else incident_record(body, self._id_key)
        if self._incidents.get(key) == record:
            return
        if record is None:
            self._incidents.pop(key, None)
        else:
            self._incidents[key] = record
        self.version += 1

    def observe_severity(self, body: Mapping[str, Any], *, deleted: bool = False) -> None:
        """Take one Severity watch event; a deleted Severity's incidents leave the page."""
        _, name = _key(body)
        publication = None if deleted else severity_publication(body)
        if self._severities.get(name) == publication:
            return
        if publication is None:
            self._severities.pop(name, None)
        else:
            self._severities[name] = publication
        self.version += 1

    def observe_service(self, body: Mapping[str, Any], *, deleted: bool = False) -> None:
        """Take one Service watch event; a deleted or unreadable Service leaves the page."""
        key = _key(body)
        entry = None if deleted else service_entry(body)
        if self._services.get(key) == entry:
            return
        if entry is None:
            self._services.pop(key, None)
        else:
            self._services[key] = entry
        self.version += 1

    def catalog(self) -> status_catalog.Catalog:
        return status_catalog.Catalog(dict(self._services))

    def public_service(self, namespace: str, services: Sequence[str]) -> str:
        """What the page calls an incident on ``services`` (the first is ``spec.service``) in
        ``namespace``: its components' names (see domain ``public_service``)."""
        components = self.catalog().components_of(namespace, services)
        return ", ".join(status_page.components_or_service(services[0], components))

    def records(
        self, catalog: status_catalog.Catalog = status_catalog.EMPTY
    ) -> list[status_page.IncidentRecord]:
        """Every known incident with its Severity's current impact and opt-in, and the
        components the catalog gives it."""
        severities = self._severities
        unknown = Publication()
        records = []
        for (namespace, _), record in self._incidents.items():
            publication = severities.get(record.severity, unknown)
            joined = dataclasses.replace(
                record,
                impact=publication.impact,
                published=publication.publish,
                needs_acceptance=publication.accept,
                components=catalog.components_of(
                    namespace, (record.service, *record.further_services)
                ),
            )
            drafted = draft(
                publication.draft,
                status_page.public_service(joined),
                publication.impact,
                record.phase.value,
            )
            records.append(dataclasses.replace(joined, drafted_title=drafted.title))
        return records

    def page(self, now: datetime) -> status_page.Page:
        catalog = self.catalog()
        return status_page.build_page(self.records(catalog), now, catalog)
