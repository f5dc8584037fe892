"""Uptime history on the status page: daily availability per public component, from its SLOs.

The bars are measurements, not incident durations: each day's availability is what the
component's SLOs measured in Prometheus that day (their own SLIs, good over all events), and
the incidents of the day are shown beside it, never used to compute it.

Decisions, and why:

* **A day is a UTC calendar day** (00:00 to 24:00 UTC). The page's history already groups
  incidents by UTC day (``status_page.PageIncident.day``) and Statuspage's own pages say
  ``time_zone: Etc/UTC``; one fixed boundary keeps a day's figure the same for every reader.
* **The period** is the ``days`` UTC days ending with today (90 by default, the reader may
  ask for fewer). Today is partial: it is measured from 00:00 UTC up to ``now``, and marked
  ``partial``. Days before an SLO existed (or beyond the metrics' retention) have no data.
* **No data is never healthy**: a day on which none of the component's SLOs has a
  measurement (no series, no events, Prometheus down) is ``None`` — shown as "No data" —
  never 100 %. Days without data are left out of the period's uptime rather than counted as
  up; ``days_with_data`` says how much of the period the figure covers.
* **A component's day is its worst SLO's day**: an availability SLO and a latency SLO measure
  different promises over different events, so their events are not added up; the component
  was as available as the least available of its measured promises. The same holds for the
  period: each SLO's uptime over the period, the component's is the lowest.
* **Event-weighted where events are known**: an SLO's period uptime is one minus its errors
  over its events across the days with data (a quiet day weighs less than a busy one), as an
  SLO's own compliance is computed. SLIs recorded by Sloth or Pyrra carry ratios, not counts
  (``events`` None); their period figure is the mean of their daily availabilities.
* **Incidents on hover** are the page's own incidents (published, not private: see
  ``status_page``) of the component's service that were open at some time during the day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from .status_page import Page, PageIncident, Site, page_json
from .times import iso

DAYS = 90
"""The longest period, and the default: 90 bars, as Statuspage shows."""
DAY = timedelta(days=1)


@dataclass(frozen=True)
class DayMeasure:
    """One SLO's measurement of one UTC day (today: of its part up to ``now``)."""

    ratio: float
    """Error ratio, bad over all events, in [0, 1]."""
    events: float | None = None
    """All events of the day; None when the SLI gives ratios only (Sloth, Pyrra)."""


History = Mapping[date, DayMeasure]
"""One SLO's days; a day missing from it has no data."""


@dataclass(frozen=True)
class SloHistory:
    days: History
    target: float
    """The SLO's objective as a fraction (0.999): a day below it is marked ``below``."""


@dataclass(frozen=True)
class UptimeComponent:
    """A public component and the SLOs that measure it, chosen by the cluster admin: the SLOs
    whose ``spec.service`` is ``name`` in one of ``namespaces``."""

    name: str
    namespaces: tuple[str, ...]

    def measures(self, namespace: str, service: str) -> bool:
        return service == self.name and namespace in self.namespaces


def parse_component(text: str) -> UptimeComponent:
    """``SERVICE=NAMESPACE[,NAMESPACE...]`` (the ``--status-page-component`` flag)."""
    name, sep, namespaces = text.partition("=")
    spaces = tuple(sorted({n.strip() for n in namespaces.split(",") if n.strip()}))
    if not sep or not name.strip() or not spaces:
        raise ValueError(f"expected SERVICE=NAMESPACE[,NAMESPACE...], got {text!r}")
    return UptimeComponent(name.strip(), spaces)


@dataclass(frozen=True)
class DayIncident:
    id: str
    name: str
    impact: str


@dataclass(frozen=True)
class Day:
    day: date
    availability: float | None
    """Fraction of good events in [0, 1]; None: no data."""
    partial: bool = False
    """Today: measured up to now only."""
    below: bool = False
    """Some SLO measured less than its objective that day (the bar's colour)."""
    incidents: tuple[DayIncident, ...] = ()


@dataclass(frozen=True)
class ComponentUptime:
    name: str
    days: tuple[Day, ...]
    """Oldest first, one per day of the period."""
    uptime: float | None
    """Over the period's days with data; None: no data at all."""
    days_with_data: int


def today(now: datetime) -> date:
    return now.astimezone(UTC).date()


def midnight(day: date) -> datetime:
    """00:00 UTC of ``day``: where it starts."""
    return datetime.combine(day, time(0), UTC)


def period(now: datetime, days: int = DAYS) -> tuple[date, ...]:
    """The ``days`` UTC days ending with today, oldest first (``days`` within 1..DAYS)."""
    if not 1 <= days <= DAYS:
        raise ValueError(f"the period is 1 to {DAYS} days, got {days}")
    last = today(now)
    return tuple(last - timedelta(days=n) for n in range(days - 1, -1, -1))


def _availability(measure: DayMeasure) -> float:
    return 1.0 - min(1.0, max(0.0, measure.ratio))


def slo_uptime(history: History, days: Iterable[date]) -> float | None:
    """One SLO's availability over ``days``: event-weighted when every measured day has its
    events, else the mean of its daily figures; None when no day has data."""
    measured = [history[d] for d in days if d in history]
    if not measured:
        return None
    if all(m.events is not None for m in measured):
        events = sum(m.events or 0.0 for m in measured)
        if events > 0:
            errors = sum(min(1.0, max(0.0, m.ratio)) * (m.events or 0.0) for m in measured)
            return 1.0 - errors / events
    return sum(_availability(m) for m in measured) / len(measured)


def _open_on(incident: PageIncident, day: date, now: datetime) -> bool:
    start = midnight(day)
    end = start + DAY
    until = incident.resolved if incident.resolved is not None else now
    return incident.created < end and until > start


def component_uptime(
    component: str,
    histories: Sequence[SloHistory],
    incidents: Iterable[PageIncident],
    now: datetime,
    days: int = DAYS,
) -> ComponentUptime:
    """``component``'s bars over the period from its SLOs' ``histories``; ``incidents`` are
    the page's (already public only), those of other services are ignored."""
    span = period(now, days)
    mine = sorted(
        (i for i in incidents if component in i.components), key=lambda i: (i.created, i.id)
    )
    last = span[-1]
    bars: list[Day] = []
    for day in span:
        found = [(_availability(h.days[day]), h.target) for h in histories if day in h.days]
        bars.append(
            Day(
                day,
                min(a for a, _ in found) if found else None,
                partial=day == last,
                below=any(a < target for a, target in found),
                incidents=tuple(
                    DayIncident(i.id, i.name, i.impact.value) for i in mine if _open_on(i, day, now)
                ),
            )
        )
    figures = [u for h in histories if (u := slo_uptime(h.days, span)) is not None]
    return ComponentUptime(
        name=component,
        days=tuple(bars),
        uptime=min(figures) if figures else None,
        days_with_data=sum(1 for b in bars if b.availability is not None),
    )


def percent(fraction: float | None) -> float | None:
    """A fraction as a percentage rounded to 3 decimals (99.917), None stays None."""
    return None if fraction is None else round(fraction * 100, 3)


def uptime_json(
    components: Sequence[ComponentUptime],
    page: Page,
    site: Site,
    *,
    now: datetime,
    measured: datetime | None,
) -> dict[str, Any]:
    """``/status/uptime.json``: every public component's days and period uptime.

    ``measured``: when the figures were read from Prometheus (None: never yet)."""
    span = components[0].days if components else ()
    return {
        "page": page_json(page, site),
        "period": {
            "days": len(span),
            "start": span[0].day.isoformat() if span else today(now).isoformat(),
            "end": today(now).isoformat(),
            "time_zone": "Etc/UTC",
            "measured_at": None if measured is None else iso(measured),
        },
        "components": [
            {
                "name": c.name,
                "uptime_percent": percent(c.uptime),
                "days_with_data": c.days_with_data,
                "days": [
                    {
                        "date": d.day.isoformat(),
                        "availability_percent": percent(d.availability),
                        "partial": d.partial,
                        "below_objective": d.below,
                        "incidents": [
                            {
                                "id": i.id,
                                "name": i.name,
                                "impact": i.impact,
                                "shortlink": f"{site.url}#incident-{i.id}",
                            }
                            for i in d.incidents
                        ],
                    }
                    for d in c.days
                ],
            }
            for c in components
        ],
    }
