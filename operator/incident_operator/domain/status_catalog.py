"""The status page's components from the service catalog: which components an incident
colours, the groups, and the scheduled maintenance windows — decided from catalog entries and
``now``.

Decisions, and why:

* **The catalog names components when it knows the service.** An incident whose service (or
  one of its further services) is a catalogued Service colours that Service's component, named
  as the Service says (``spec.statusPage.name``); a catalogued service that is not public
  colours nothing (its owners said it is not for customers). An incident on services the
  catalog does not know is shown as before, under the service's own name, so a cluster
  without a catalog keeps its page.
* **Only admitted Services speak on the page**: an entry is public only when the Service's
  owner Team exists and admits the Service's namespace (the operator resolved its owner).
  Services are written by namespace tenants; the Team, written by an admin, is the consent
  for what a namespace puts in front of customers — its component, its group and its
  maintenance announcements.
* **A degraded dependency shows on its dependants where the catalog says so**: a Service
  with ``statusPage.showDependencies`` is coloured by incidents on every Service it depends
  on, transitively (``spec.dependencies``, in its namespace), whether or not the dependency
  has a public component of its own: customers see the checkout they use, not the database
  behind it. Cycles are harmless (each Service is visited once).
* **Maintenance windows** are ``scheduled`` before their start, ``in_progress`` until their
  end, then ``completed`` (kept 90 days, like incidents). The same window (name, description,
  start, end) on several Services is one maintenance affecting all their components. While a
  window runs its components show ``under_maintenance`` unless an incident makes them worse.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property

HISTORY = timedelta(days=90)
"""How long a completed maintenance stays listed (as incidents do)."""

ServiceKey = tuple[str, str]
"""(namespace, Service name)."""


class MaintenanceStatus(StrEnum):
    """Statuspage's scheduled maintenance statuses that a time window can decide (``verifying``
    needs a person's word, so it is never produced)."""

    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


@dataclass(frozen=True)
class Window:
    """One planned maintenance as a Service declares it."""

    name: str
    description: str
    start: datetime
    end: datetime

    def status(self, now: datetime) -> MaintenanceStatus:
        if now < self.start:
            return MaintenanceStatus.SCHEDULED
        if now < self.end:
            return MaintenanceStatus.IN_PROGRESS
        return MaintenanceStatus.COMPLETED


@dataclass(frozen=True)
class Entry:
    """What the page needs from one Service."""

    namespace: str
    service: str
    component: str
    """The public component's name; empty: the Service is not on the page (not public, no
    status page component, or its owner Team does not admit the namespace)."""
    group: str = ""
    dependencies: tuple[str, ...] = ()
    """Services in the same namespace this one depends on."""
    show_dependencies: bool = False
    windows: tuple[Window, ...] = ()

    @property
    def key(self) -> ServiceKey:
        return self.namespace, self.service


@dataclass(frozen=True)
class Maintenance:
    """One maintenance on the page, over every component that announced it."""

    id: str
    window: Window
    components: tuple[str, ...]
    """Component names, sorted."""
    status: MaintenanceStatus
    """Where it stands at the page's ``now``."""


def maintenance_id(window: Window) -> str:
    """Opaque and stable (``[a-z0-9]``, as Statuspage ids): from the window's own public words
    and times only, so it says nothing about namespaces or Service names."""
    text = "\x00".join(
        (window.name, window.description, window.start.isoformat(), window.end.isoformat())
    )
    return "m" + hashlib.sha256(text.encode()).hexdigest()[:19]


@dataclass(frozen=True)
class Catalog:
    """Every catalogued Service the page knows, by (namespace, name)."""

    entries: Mapping[ServiceKey, Entry]

    @cached_property
    def _shown_on(self) -> dict[ServiceKey, frozenset[str]]:
        """Service -> the components of the Services that show it as a dependency (those
        that opted in and depend on it, directly or through others)."""
        shown: dict[ServiceKey, set[str]] = {}
        for entry in self.entries.values():
            if entry.show_dependencies and entry.component:
                for key in self._dependencies(entry):
                    shown.setdefault(key, set()).add(entry.component)
        return {key: frozenset(names) for key, names in shown.items()}

    def _dependencies(self, entry: Entry) -> set[ServiceKey]:
        """Every Service ``entry`` depends on, transitively (each visited once)."""
        seen: set[ServiceKey] = set()
        stack = [(entry.namespace, d) for d in entry.dependencies]
        while stack:
            key = stack.pop()
            if key in seen:
                continue
            seen.add(key)
            if (found := self.entries.get(key)) is not None:
                stack.extend((found.namespace, d) for d in found.dependencies)
        return seen

    def components_of(self, namespace: str, services: Iterable[str]) -> tuple[str, ...] | None:
        """The components an incident on ``services`` (in ``namespace``) colours, sorted;
        None when the catalog knows none of them (the page then names the component after the
        service, as without a catalog)."""
        keys = [(namespace, s) for s in services if (namespace, s) in self.entries]
        if not keys:
            return None
        names = {self.entries[k].component for k in keys} - {""}
        for key in keys:
            names |= self._shown_on.get(key, frozenset())
        return tuple(sorted(names))

    def public(self) -> tuple[Entry, ...]:
        """The entries with a public component, by (namespace, name)."""
        return tuple(e for _, e in sorted(self.entries.items()) if e.component)

    def groups(self) -> dict[str, str]:
        """Component name -> group name ("" none); where two Services name the same component
        with different groups, the first by (namespace, name) decides."""
        groups: dict[str, str] = {}
        for entry in self.public():
            groups.setdefault(entry.component, entry.group)
        return groups

    def maintenances(self, now: datetime) -> tuple[Maintenance, ...]:
        """Every window of a public component not completed more than 90 days ago, the same
        window on several components merged; soonest start first."""
        components: dict[Window, set[str]] = {}
        for entry in self.public():
            for window in entry.windows:
                if window.end >= now - HISTORY:
                    components.setdefault(window, set()).add(entry.component)
        merged = [
            Maintenance(maintenance_id(w), w, tuple(sorted(c)), w.status(now))
            for w, c in components.items()
        ]
        return tuple(sorted(merged, key=lambda m: (m.window.start, m.id)))


def under_maintenance(maintenances: Iterable[Maintenance]) -> frozenset[str]:
    """Components with a window running (of ``Catalog.maintenances(now)``)."""
    return frozenset(
        c for m in maintenances if m.status is MaintenanceStatus.IN_PROGRESS for c in m.components
    )


EMPTY = Catalog({})
