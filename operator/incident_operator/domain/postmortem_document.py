"""The postmortem document: generated facts and human sections into Markdown and JSON — pure.

Blameless by construction: generated text talks about systems, signals and decisions; people
appear only as the roles they held (commander, operations, ...), never as the subject of a
failure. Human sections are copied as written. The template is a ``string.Template`` so teams
can read it top to bottom; every ``$placeholder`` is filled from :func:`sections`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from string import Template
from typing import Any

from .postmortem import KEY_TIMES, ActionItem, Fact, Facts, Impact
from .times import iso

TEMPLATE = Template(
    """\
# Postmortem: $title

| | |
|---|---|
| Incident | `$incident` |
| Service | $service |
| Severity | $severity |
| State | $state |
| Owner | $owner |
| Due | $due |

> Blameless: this document is about systems, signals and decisions, not about people.

## Summary

$summary

## Impact

$impact_narrative

$impact_table

![Error ratio and remaining error budget over the incident window]($chart)

## Key times

$key_times

## Timeline

$timeline

## Mitigations

$mitigations

## Correlated changes

$changes

## Contributing factors

$contributing_factors

## What went well

$went_well

## What went badly

$went_badly

## Where we got lucky

$where_we_got_lucky

## Lessons

$lessons

## Action items

$action_items
"""
)

PENDING = "_To be written._"
CHART_FILE = "chart.png"


@dataclass(frozen=True)
class HumanSections:
    """spec: written by people, never generated."""

    state: str = "draft"
    owner: str | None = None
    summary: str = ""
    impact: str = ""
    contributing_factors: tuple[str, ...] = ()
    went_well: tuple[str, ...] = ()
    went_badly: tuple[str, ...] = ()
    where_we_got_lucky: tuple[str, ...] = ()
    lessons: tuple[str, ...] = ()
    action_items: tuple[ActionItem, ...] = ()


def duration_text(seconds: float) -> str:
    """``1h 5m 3s``; whole seconds."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h"] if hours else []
    if minutes:
        parts.append(f"{minutes}m")
    if secs or not parts:
        parts.append(f"{secs}s")
    return " ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _count(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def impact_table(impacts: Sequence[Impact]) -> str:
    if not impacts:
        return "_No SLO is linked to this incident: no measured impact._"
    rows = [
        "| SLO | Window | Duration | Requests | Failed | Error ratio | Budget consumed "
        "| Budget remaining |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i in impacts:
        rows.append(
            f"| {_cell(i.slo)} | {iso(i.start)} to {iso(i.end)} "
            f"| {duration_text(i.duration.total_seconds())} | {_count(i.total_requests)} "
            f"| {_count(i.failed_requests)} | {_share(i.error_ratio)} "
            f"| {_share(i.budget_consumed)} | {_share(i.budget_remaining)} |"
        )
    notes = [f"- {i.slo}: {i.note}" for i in impacts if i.note]
    return "\n".join(rows + (["", *notes] if notes else []))


_FIGURE_FOR = {
    "declared": "timeToDetect",  # from the problem's start to the declaration
    "acknowledged": "timeToAcknowledge",
    "mitigated": "timeToMitigate",
    "resolved": "timeToResolve",
}


def key_times_table(facts: Facts) -> str:
    rows = ["| Moment | At | Time to |", "|---|---|---|"]
    for name in KEY_TIMES:
        at: datetime | None = getattr(facts.key_times, name)
        figure = facts.figures.get(_FIGURE_FOR.get(name, ""))
        rows.append(
            f"| {name} | {iso(at) if at else 'n/a'} "
            f"| {duration_text(figure) if figure is not None else ''} |"
        )
    return "\n".join(rows)


def timeline_table(timeline: Sequence[Fact]) -> str:
    if not timeline:
        return "_No entries._"
    rows = ["| At | Type | What happened | Source |", "|---|---|---|---|"]
    rows += [
        f"| {iso(f.at)} | {f.type} | {_cell(f.message)} | {_cell(f.source)} |" for f in timeline
    ]
    return "\n".join(rows)


def _bullets(items: Sequence[str]) -> str:
    return "\n".join(f"- {item}" for item in items) if items else PENDING


def _text(value: str) -> str:
    return value.strip() or PENDING


def action_items_table(items: Sequence[ActionItem]) -> str:
    if not items:
        return PENDING
    rows = ["| Title | Owner | Due | Status | Ticket |", "|---|---|---|---|---|"]
    rows += [
        f"| {_cell(i.title)} | {i.owner or ''} | {i.due or ''} | {i.status} | {i.ticket or ''} |"
        for i in items
    ]
    return "\n".join(rows)


def sections(
    facts: Facts, human: HumanSections, *, due: datetime | None, chart: str | None
) -> dict[str, str]:
    """Every placeholder of :data:`TEMPLATE`."""
    lines = [
        f"- {m.name}: {m.action} of {m.target}, {m.state}"
        + (" (dry run)" if m.dry_run else "")
        + (f" — {m.message}" if m.message else "")
        + (f"; {m.effect}" if m.effect else "")
        for m in facts.mitigations
    ]
    return {
        "title": facts.title,
        "incident": facts.incident,
        "service": facts.service,
        "severity": facts.severity,
        "state": human.state,
        "owner": human.owner or "unassigned",
        "due": iso(due) if due else "n/a",
        "summary": _text(human.summary),
        "impact_narrative": _text(human.impact),
        "impact_table": impact_table(facts.impacts),
        "chart": chart or CHART_FILE,
        "key_times": key_times_table(facts),
        "timeline": timeline_table(facts.timeline),
        "mitigations": "\n".join(lines) if lines else "_No mitigation ran._",
        "changes": "\n".join(f"- {iso(c.at)} {c.message}" for c in facts.correlated_changes)
        or "_None recorded._",
        "contributing_factors": _bullets(human.contributing_factors),
        "went_well": _bullets(human.went_well),
        "went_badly": _bullets(human.went_badly),
        "where_we_got_lucky": _bullets(human.where_we_got_lucky),
        "lessons": _bullets(human.lessons),
        "action_items": action_items_table(human.action_items),
    }


def render_markdown(
    facts: Facts,
    human: HumanSections,
    *,
    due: datetime | None = None,
    chart: str | None = CHART_FILE,
) -> str:
    text = TEMPLATE.substitute(sections(facts, human, due=due, chart=chart))
    if chart is None:
        text = "\n".join(line for line in text.splitlines() if not line.startswith("![")) + "\n"
    return text


def _seconds(delta: timedelta) -> float:
    return delta.total_seconds()


def document_json(
    facts: Facts, human: HumanSections, *, due: datetime | None = None
) -> dict[str, Any]:
    """The same document as data (``kubectl incident postmortem --format json``)."""

    def when(at: datetime | None) -> str | None:
        return iso(at) if at else None

    kt = facts.key_times
    out: dict[str, Any] = {
        "incident": facts.incident,
        "title": facts.title,
        "service": facts.service,
        "severity": facts.severity,
        "state": human.state,
        "owner": human.owner,
        "due": when(due),
        "keyTimes": {name: when(getattr(kt, name)) for name in KEY_TIMES},
        "durations": dict(facts.figures),
        "impact": [
            {
                "slo": i.slo,
                "start": iso(i.start),
                "end": iso(i.end),
                "durationSeconds": _seconds(i.duration),
                "totalRequests": i.total_requests,
                "failedRequests": i.failed_requests,
                "errorRatio": i.error_ratio,
                "errorBudgetConsumed": i.budget_consumed,
                "errorBudgetRemaining": i.budget_remaining,
                "note": i.note,
            }
            for i in facts.impacts
        ],
        "timeline": [
            {"at": iso(f.at), "type": f.type, "message": f.message, "source": f.source}
            for f in facts.timeline
        ],
        "mitigations": [
            {
                "name": m.name,
                "action": m.action,
                "target": m.target,
                "state": m.state,
                "effect": m.effect,
            }
            for m in facts.mitigations
        ],
        "summary": human.summary,
        "impactNarrative": human.impact,
        "contributingFactors": list(human.contributing_factors),
        "wentWell": list(human.went_well),
        "wentBadly": list(human.went_badly),
        "whereWeGotLucky": list(human.where_we_got_lucky),
        "lessons": list(human.lessons),
        "actionItems": [
            {
                "title": i.title,
                "owner": i.owner,
                "due": i.due.isoformat() if i.due else None,
                "ticket": i.ticket,
                "status": i.status,
            }
            for i in human.action_items
        ],
    }
    return out
