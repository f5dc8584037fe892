"""Postmortems: when one is owed, what blocks closing, and the facts it is drafted from — pure.

Everything here takes the data and ``now`` as arguments and returns values: the service
gathers (incident, Kubernetes Events, Prometheus counts), this module decides and computes.

Key times are the incident's own ``status.timestamps``, by the same names, and the figures
are computed by ``lifecycle.figures``, so the postmortem and ``kubectl incident show`` never
disagree:

* ``detected``: when the problem began as its source saw it (the SLO burn's start);
* ``declared``: when the organisation knew (the operator declares the moment a burn policy
  fires; a human declares when they notice);
* time to detect = declared - detected; time to acknowledge / mitigate / resolve are measured
  from ``declared``, like ``status.durations``.

Impact for one SLO over the incident window ``[detected (else declared), resolved]``:

* total and failed requests in the window (from the SLI's counters);
* error budget of the SLO window ending at ``resolved`` = (1 - target) x requests in it;
* share consumed = failed in the incident window / that budget;
* remaining after = 1 - failed in the SLO window / that budget (negative: overspent).

SLIs recorded as ratios only (Sloth, Pyrra) have no counts: the share is then estimated from
the mean error ratio, assuming the incident window saw the SLO window's average traffic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from . import lifecycle

PUBLISHED = "published"
DEDUP_WINDOW = timedelta(minutes=2)
"""Two entries saying the same thing this close together are one fact."""


class Reason(StrEnum):
    """Why a postmortem is owed (recorded on the Postmortem and in the incident timeline)."""

    SEVERITY_REQUIRES = "SeverityRequires"
    BUDGET_BURNED = "BudgetBurned"


@dataclass(frozen=True)
class Policy:
    """The Severity's postmortem policy: ``budget_share`` is a fraction (0.05 = 5 %)."""

    required: bool = False
    due_within: timedelta = timedelta(days=5)
    budget_share: float | None = None


@dataclass(frozen=True)
class Owed:
    reason: Reason
    message: str
    due: datetime


def owed(
    policy: Policy, resolved: datetime, consumed: Mapping[str, float | None] | None = None
) -> Owed | None:
    """Whether a resolved incident owes a postmortem, why, and by when.

    ``consumed``: share of each affected SLO's budget the incident burned (None: unknown,
    e.g. Prometheus unavailable — never counted as "burned enough").
    """
    due = resolved + policy.due_within
    if policy.required:
        return Owed(Reason.SEVERITY_REQUIRES, "the severity requires a postmortem", due)
    if policy.budget_share is not None:
        for slo, share in sorted((consumed or {}).items()):
            if share is not None and share > policy.budget_share:
                return Owed(
                    Reason.BUDGET_BURNED,
                    f"the incident consumed {share:.1%} of SLO {slo}'s error budget "
                    f"(more than {policy.budget_share:.1%})",
                    due,
                )
    return None


def close_blocker(required: bool, postmortem: str | None, state: str | None) -> str | None:
    """Why the incident may not close yet, or None.

    ``required``: the severity requires a postmortem, or one was created for this incident
    (owed for its budget burn). ``postmortem``/``state``: the linked Postmortem and its spec
    state, None when there is none (yet).
    """
    if not required and postmortem is None:
        return None
    if postmortem is None:
        return "its postmortem has not been created yet (it is drafted once the incident resolves)"
    if state is None:
        return f"its postmortem {postmortem} does not exist"
    if state != PUBLISHED:
        return f"its postmortem {postmortem} is {state}; publish it first (spec.state: published)"
    return None


# --- timeline -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    """One line of the postmortem timeline, from any source."""

    at: datetime
    type: str
    message: str
    source: str = ""
    key: str = ""
    author: str = ""


_NOISE = re.compile(r"^(refused:\s*)|[^a-z0-9]+")


def _normal(message: str) -> str:
    return _NOISE.sub(" ", message.lower()).strip()


def merge_facts(*sources: Iterable[Fact]) -> tuple[Fact, ...]:
    """Every source's facts once, ordered by time (ties keep source order).

    Earlier sources win: pass the incident timeline first, then mitigations, then Kubernetes
    Events. Duplicates are the same key, or the same type-insensitive message within
    :data:`DEDUP_WINDOW` (an Event the operator posted for a refusal it also recorded).
    """
    kept: list[tuple[int, Fact]] = []
    keys: set[str] = set()
    by_text: dict[str, list[datetime]] = {}
    order = 0
    for source in sources:
        for fact in source:
            if fact.key and fact.key in keys:
                continue
            text = _normal(fact.message)
            if text and any(abs(fact.at - at) <= DEDUP_WINDOW for at in by_text.get(text, ())):
                continue
            if fact.key:
                keys.add(fact.key)
            if text:
                by_text.setdefault(text, []).append(fact.at)
            kept.append((order, fact))
            order += 1
    return tuple(f for _, f in sorted(kept, key=lambda pair: (pair[1].at, pair[0])))


@dataclass(frozen=True)
class Mitigation:
    name: str
    action: str
    target: str
    state: str
    dry_run: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    message: str = ""
    effect: str = ""
    """What the SLI did: the error ratio before it started and after it settled."""


EFFECT_WINDOW = timedelta(minutes=5)
"""Error ratio window on either side of a mitigation (it settles within one window)."""


def effect_text(slo: str, before: float | None, after: float | None) -> str:
    """``checkout: error ratio 10.00% before, 0.05% 5m after (-99.5%)``; "" when unknown."""
    if before is None or after is None:
        return ""
    change = f" ({(after - before) / before:+.1%})" if before > 0 else ""
    return f"{slo}: error ratio {before:.2%} before, {after:.2%} 5m after{change}"


def effect_instants(m: Mitigation, now: datetime) -> tuple[datetime, datetime] | None:
    """When to read the ratio: as the mitigation started, one window after it finished."""
    if m.started_at is None or m.finished_at is None or m.dry_run:
        return None
    after = m.finished_at + EFFECT_WINDOW
    return (m.started_at, after) if after <= now else None


def mitigation_facts(mitigations: Sequence[Mitigation]) -> tuple[Fact, ...]:
    """A started and a finished fact per mitigation that ran (dry runs say so)."""
    out: list[Fact] = []
    for m in mitigations:
        what = f"{m.action} of {m.target}" + (" (dry run)" if m.dry_run else "")
        if m.started_at is not None:
            out.append(
                Fact(
                    m.started_at,
                    "mitigation-started",
                    f"Mitigation {m.name} started: {what}",
                    "mitigation",
                    f"mitigation/{m.name}/started",
                )
            )
        if m.finished_at is not None:
            detail = f": {m.message}" if m.message else ""
            out.append(
                Fact(
                    m.finished_at,
                    "mitigation-finished",
                    f"Mitigation {m.name} {m.state}: {what}{detail}",
                    "mitigation",
                    f"mitigation/{m.name}/finished",
                )
            )
    return tuple(out)


# --- key times ----------------------------------------------------------------------------


KEY_TIMES = ("detected", "declared", "acknowledged", "mitigated", "resolved")
"""The Incident's ``status.timestamps``, by the same names and with the same meaning."""


@dataclass(frozen=True)
class KeyTimes:
    detected: datetime | None = None
    """When the problem began as its source saw it (e.g. the SLO burn's start)."""
    declared: datetime | None = None
    acknowledged: datetime | None = None
    mitigated: datetime | None = None
    resolved: datetime | None = None

    def figures(self) -> dict[str, float]:
        """The Incident's MTTx figures (``lifecycle.figures``), where both ends are known."""
        if self.declared is None:
            return {}
        reached = {
            lifecycle.Milestone.ACKNOWLEDGED: self.acknowledged,
            lifecycle.Milestone.MITIGATED: self.mitigated,
            lifecycle.Milestone.RESOLVED: self.resolved,
        }
        stamps = {m: at for m, at in reached.items() if at is not None}
        return {
            str(figure): seconds
            for figure, seconds in lifecycle.figures(stamps, self.declared, self.detected).items()
        }

    @property
    def start(self) -> datetime | None:
        """When the incident began: the problem if its source said, else the declaration."""
        return self.detected or self.declared

    @property
    def window(self) -> tuple[datetime, datetime] | None:
        """The incident window ``[start, resolved]`` (None until both are known)."""
        start = self.start
        if start is None or self.resolved is None or self.resolved <= start:
            return None
        return start, self.resolved


def key_times(stamps: Mapping[str, datetime | None]) -> KeyTimes:
    """From the Incident's ``status.timestamps``, name for name."""
    return KeyTimes(**{name: stamps.get(name) for name in KEY_TIMES})


def whole_seconds(start: datetime, end: datetime) -> timedelta:
    """The window's length rounded up to whole seconds, at least one (PromQL ranges)."""
    seconds = max(1, int(-(-(end - start).total_seconds() // 1)))
    return timedelta(seconds=seconds)


# --- impact -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """Requests in a window: all of them and the failed ones."""

    total: float
    failed: float


@dataclass(frozen=True)
class Impact:
    slo: str
    start: datetime
    end: datetime
    total_requests: float | None = None
    failed_requests: float | None = None
    error_ratio: float | None = None
    budget_consumed: float | None = None
    """Share (fraction) of the SLO window's error budget this incident burned."""
    budget_remaining: float | None = None
    """Share of the budget left when the incident resolved (negative: overspent)."""
    note: str = ""

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


def impact(
    slo: str,
    target: float,
    start: datetime,
    end: datetime,
    *,
    during: Counts | None,
    slo_window: Counts | None,
) -> Impact:
    """Figures from request counts (see the module docstring); None where data is missing."""
    if during is None:
        return Impact(slo, start, end, note="no data for the incident window")
    ratio = during.failed / during.total if during.total > 0 else None
    budget_events = (1 - target) * slo_window.total if slo_window is not None else 0.0
    if slo_window is None or budget_events <= 0:
        return Impact(
            slo,
            start,
            end,
            during.total,
            during.failed,
            ratio,
            note="no data for the SLO window: the budget share is unknown",
        )
    return Impact(
        slo,
        start,
        end,
        during.total,
        during.failed,
        ratio,
        budget_consumed=during.failed / budget_events,
        budget_remaining=1 - slo_window.failed / budget_events,
    )


def impact_from_ratios(
    slo: str,
    target: float,
    window: timedelta,
    start: datetime,
    end: datetime,
    *,
    during: float | None,
    slo_window: float | None,
) -> Impact:
    """Estimate for ratio-only SLIs: ``during``/``slo_window`` are mean error ratios."""
    budget = 1 - target
    if during is None:
        return Impact(slo, start, end, note="no data for the incident window")
    share = (end - start) / window
    return Impact(
        slo,
        start,
        end,
        error_ratio=during,
        budget_consumed=during * share / budget,
        budget_remaining=None if slo_window is None else 1 - slo_window / budget,
        note="estimated from error ratios (the SLI records no request counts)",
    )


# --- action items -------------------------------------------------------------------------

OPEN_ITEM_STATES = frozenset({"open", "in-progress"})


@dataclass(frozen=True)
class ActionItem:
    title: str
    owner: str | None = None
    due: date | None = None
    ticket: str | None = None
    status: str = "open"


def overdue(items: Sequence[ActionItem], today: date) -> tuple[ActionItem, ...]:
    """Open items whose due date has passed (due today is not overdue yet)."""
    return tuple(
        i for i in items if i.due is not None and i.due < today and i.status in OPEN_ITEM_STATES
    )


@dataclass(frozen=True)
class Reminder:
    key: str
    message: str


def overdue_reminders(
    items: Sequence[ActionItem], today: date, postmortem: str
) -> tuple[Reminder, ...]:
    """One keyed reminder per overdue item and day (the chat layer posts each once)."""
    return tuple(
        Reminder(
            f"postmortem/{postmortem}/overdue/{item.title[:80]}/{today.isoformat()}",
            f"Action item '{item.title}' of postmortem {postmortem} was due {item.due}"
            + (f" (owner {item.owner})" if item.owner else ""),
        )
        for item in overdue(items, today)
    )


@dataclass(frozen=True)
class Facts:
    """Everything generated: what the status holds and the document is drafted from."""

    incident: str
    title: str
    service: str
    severity: str
    key_times: KeyTimes
    timeline: tuple[Fact, ...] = ()
    impacts: tuple[Impact, ...] = ()
    mitigations: tuple[Mitigation, ...] = ()
    correlated_changes: tuple[Fact, ...] = ()
    figures: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ChartData:
    """One SLO's chart: error ratio and remaining budget over the window, key moments marked."""

    slo: str
    target: float
    start: datetime
    end: datetime
    ratio: tuple[tuple[datetime, float], ...]
    remaining: tuple[tuple[datetime, float], ...]
    moments: tuple[tuple[str, datetime], ...]


CHART_MIN_PAD = timedelta(minutes=10)


def chart_range(start: datetime, end: datetime, now: datetime) -> tuple[datetime, datetime]:
    """The instants a chart of the incident ``[start, end)`` spans: padded on both sides by a
    quarter of its length (at least ``CHART_MIN_PAD``), but never past ``now``.

    Drawn past now, Prometheus' lookback repeats the last sample into the future, and a
    chart rendered just after resolution shows an error spike after the incident ended.
    A chart cut at now is drawn again, wider, when the postmortem is regenerated later.
    """
    pad = _chart_pad(start, end)
    return start - pad, min(end + pad, now)


def _chart_pad(start: datetime, end: datetime) -> timedelta:
    return max((end - start) / 4, CHART_MIN_PAD)


def chart_cut_short(start: datetime, end: datetime, drawn_at: datetime | None) -> bool:
    """Whether a chart drawn at ``drawn_at`` was cut at that instant (to be drawn again)."""
    return drawn_at is not None and drawn_at < end + _chart_pad(start, end)


def remaining_series(
    slo_window_ratios: Sequence[tuple[datetime, float]], target: float
) -> tuple[tuple[datetime, float], ...]:
    """Budget remaining over time from the SLO-window error ratio at each instant."""
    budget = 1 - target
    return tuple((at, 1 - ratio / budget) for at, ratio in slo_window_ratios)


def chart_moments(times: KeyTimes) -> tuple[tuple[str, datetime], ...]:
    return tuple((name, at) for name in KEY_TIMES if (at := getattr(times, name)) is not None)
