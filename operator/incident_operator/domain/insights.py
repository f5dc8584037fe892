"""Insights over a period: incident counts, MTTx percentiles, postmortems, action items and
SLO budget, per team and per service — pure.

The inputs are facts read from the cluster (``cli/report.py`` turns Incident, Postmortem,
ServiceLevelObjective and Service objects into them); ``report`` groups them. Conventions,
stated once so a figure can be checked by hand:

* An incident counts when it was **declared** in ``[now - period, now)``.
* Percentiles are **nearest-rank**: the p-th percentile of ``n`` sorted values is the value at
  rank ``ceil(p / 100 * n)`` (1-based), a value that occurred (no interpolation); a figure no
  incident has yet (an open incident has no time to resolve) is left out, and a group without
  any value shows none, never zero.
* A **postmortem is owed** for each counted incident that has one; it is **complete** when
  published. Completion is published / owed.
* An **overdue action item** is one of any postmortem (not only this period's: the work is
  outstanding now) whose due date is before ``now``'s date and whose status is open or
  in-progress.
* **Budget spent** is ``1 - errorBudgetRemaining`` of an SLO as last evaluated (over its own
  compliance window); a group shows its worst SLO. An SLO never evaluated is left out.
* Team: the incident's owning team as the service catalog resolved it; else the owner of a
  Service of that name in the incident's namespace; else none ("(no team)").
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

FIGURES: tuple[str, ...] = (
    "timeToAcknowledge",
    "timeToMitigate",
    "timeToResolve",
    "timeToDetect",
)
"""status.durations names, in the order reports show them (MTTA, MTTM, MTTR, MTTD)."""
SHORT = {
    "timeToAcknowledge": "MTTA",
    "timeToMitigate": "MTTM",
    "timeToResolve": "MTTR",
    "timeToDetect": "MTTD",
}
PERCENTILES: tuple[int, ...] = (50, 90)
NO_TEAM = "(no team)"
OPEN_ITEM_STATES = frozenset({"open", "in-progress"})


@dataclass(frozen=True)
class IncidentFact:
    namespace: str
    name: str
    service: str
    team: str
    severity: str
    declared: datetime
    durations: Mapping[str, float | None] = field(default_factory=dict)
    """Seconds per FIGURES name; None or missing: not reached."""


@dataclass(frozen=True)
class ActionItemFact:
    due: date | None
    status: str


@dataclass(frozen=True)
class PostmortemFact:
    namespace: str
    incident: str
    published: bool
    action_items: tuple[ActionItemFact, ...] = ()


@dataclass(frozen=True)
class SloFact:
    namespace: str
    name: str
    service: str
    team: str
    budget_remaining: float | None
    """Share of the window's budget left (1 untouched, negative overspent); None: unknown."""


@dataclass(frozen=True)
class Figure:
    """One MTTx figure of a group: nearest-rank percentiles over ``count`` values."""

    count: int
    percentiles: Mapping[int, float]


@dataclass(frozen=True)
class Group:
    name: str
    incidents: int
    by_severity: Mapping[str, int]
    figures: Mapping[str, Figure]
    postmortems_owed: int
    postmortems_published: int
    overdue_action_items: int
    worst_budget_spent: float | None
    """Share of the budget spent by the group's worst SLO (0.25 = a quarter)."""

    @property
    def postmortem_completion(self) -> float | None:
        return self.postmortems_published / self.postmortems_owed if self.postmortems_owed else None


@dataclass(frozen=True)
class Report:
    since: datetime
    now: datetime
    teams: tuple[Group, ...]
    services: tuple[Group, ...]
    total: Group


def percentile(values: Sequence[float], p: int) -> float:
    """Nearest-rank percentile of non-empty ``values`` (module docstring)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def figures(incidents: Iterable[IncidentFact]) -> dict[str, Figure]:
    out: dict[str, Figure] = {}
    chosen = list(incidents)
    for name in FIGURES:
        values = [v for i in chosen if (v := i.durations.get(name)) is not None]
        if values:
            out[name] = Figure(len(values), {p: percentile(values, p) for p in PERCENTILES})
    return out


def overdue(items: Iterable[ActionItemFact], today: date) -> int:
    return sum(
        1 for i in items if i.due is not None and i.due < today and i.status in OPEN_ITEM_STATES
    )


def report(
    incidents: Iterable[IncidentFact],
    postmortems: Iterable[PostmortemFact],
    slos: Iterable[SloFact],
    *,
    period: timedelta,
    now: datetime,
    team: str | None = None,
) -> Report:
    """Group the facts by team and by service (``team``: only that team's)."""
    since = now - period
    known = list(incidents)
    all_slos = list(slos)
    if team is not None:
        known = [i for i in known if i.team == team]
        all_slos = [s for s in all_slos if s.team == team]
    counted = [i for i in known if since <= i.declared < now]
    of_incident = {(i.namespace, i.name): i for i in known}
    today = now.date()
    pms = [(of_incident.get((p.namespace, p.incident)), p) for p in postmortems]

    def group(
        name: str, members: Sequence[IncidentFact], owned: Sequence[SloFact], key: str
    ) -> Group:
        counted_keys = {(i.namespace, i.name) for i in members}
        owed = [pm for i, pm in pms if i and (i.namespace, i.name) in counted_keys]
        outstanding = [pm for i, pm in pms if i and (not key or _key(i, key) == name)]
        spent = [1 - s.budget_remaining for s in owned if s.budget_remaining is not None]
        return Group(
            name=name,
            incidents=len(members),
            by_severity=dict(sorted(Counter(i.severity for i in members).items())),
            figures=figures(members),
            postmortems_owed=len(owed),
            postmortems_published=sum(1 for pm in owed if pm.published),
            overdue_action_items=sum(overdue(pm.action_items, today) for pm in outstanding),
            worst_budget_spent=max(spent) if spent else None,
        )

    teams = sorted({i.team or NO_TEAM for i in counted} | {s.team or NO_TEAM for s in all_slos})
    services = sorted({i.service for i in counted} | {s.service for s in all_slos})
    return Report(
        since=since,
        now=now,
        teams=tuple(
            group(
                t,
                [i for i in counted if (i.team or NO_TEAM) == t],
                [s for s in all_slos if (s.team or NO_TEAM) == t],
                "team",
            )
            for t in teams
        ),
        services=tuple(
            group(
                s,
                [i for i in counted if i.service == s],
                [o for o in all_slos if o.service == s],
                "service",
            )
            for s in services
        ),
        total=group("all", counted, all_slos, ""),
    )


def _key(incident: IncidentFact, key: str) -> str:
    return (incident.team or NO_TEAM) if key == "team" else incident.service


def weekly_counts(
    incidents: Iterable[IncidentFact], *, period: timedelta, now: datetime
) -> tuple[list[datetime], dict[str, list[int]]]:
    """Incidents declared in the period per week (7-day buckets ending at ``now``; the first
    may begin before the period) per team, for the trend chart: the bucket starts, oldest
    first, and each team's counts."""
    weeks = max(1, math.ceil(period / timedelta(days=7)))
    starts = [now - timedelta(days=7) * (weeks - k) for k in range(weeks)]
    counts: dict[str, list[int]] = {}
    for i in incidents:
        if not now - period <= i.declared < now:
            continue
        index = min(weeks - 1, int((i.declared - starts[0]) / timedelta(days=7)))
        counts.setdefault(i.team or NO_TEAM, [0] * weeks)[index] += 1
    return starts, dict(sorted(counts.items()))
