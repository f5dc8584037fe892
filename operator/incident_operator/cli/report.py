"""`kubectl incident report --since 30d [--team T] [-A] [-o markdown|json] [--chart F.png]`.

Counts, MTTx percentiles, postmortem completion, overdue action items and SLO budget spent,
per team and per service, over the incidents declared in the period (the conventions are in
``domain/insights.py``). It reads Incidents, Postmortems, ServiceLevelObjectives and Services
with the caller's own credentials, here or in every namespace (``-A``): what the caller may
not list is left out and said so on stderr, never guessed. ``--chart`` writes a PNG of the
incidents declared per week and team (matplotlib: the ``plot`` extra).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from incident_operator.adapters.ports import Body
from incident_operator.domain import insights
from incident_operator.domain.durations import format_duration, parse_duration
from incident_operator.domain.times import iso, parse_time
from incident_operator.errors import IncidentOperatorError

from .manifests import UsageError

NONE = "-"
"""A cell without a value (no incident reached the milestone; nothing owed): never 0."""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "report",
        help="incident counts, MTTx, postmortems and SLO budget per team and service",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--since", default="30d", help="the period, e.g. 7d, 30d, 12w")
    parser.add_argument("--team", help="only this team's incidents, services and SLOs")
    parser.add_argument("-n", "--namespace", help="namespace (default: kubeconfig's)")
    parser.add_argument(
        "-A", "--all-namespaces", action="store_true", help="every namespace you may list"
    )
    parser.add_argument("-o", "--output", choices=["markdown", "json"], default="markdown")
    parser.add_argument("--chart", type=Path, help="write a PNG trend chart to this file")
    parser.set_defaults(run=run)


def run(
    args: argparse.Namespace,
    out: TextIO | None = None,
    client: Any = None,
    now: datetime | None = None,
) -> int:
    out = out or sys.stdout
    try:
        period = parse_duration(args.since)
    except ValueError:
        raise UsageError(f"--since {args.since!r}: a duration such as 7d or 30d") from None
    now = now or datetime.now(UTC)
    if client is None:
        from incident_operator.adapters.incident_client import IncidentClient  # noqa: PLC0415

        client = IncidentClient(args.namespace)
    everywhere = bool(args.all_namespaces)
    incidents = client.list(everywhere)
    lists = {
        plural: _listed(client, plural, everywhere)
        for plural in ("postmortems", "servicelevelobjectives", "services")
    }
    owners = service_owners(lists["services"])
    report = insights.report(
        incident_facts(incidents, owners),
        postmortem_facts(lists["postmortems"]),
        slo_facts(lists["servicelevelobjectives"], owners),
        period=period,
        now=now,
        team=args.team,
    )
    if args.output == "json":
        out.write(json.dumps(as_json(report, args.since), indent=2) + "\n")
    else:
        out.write(markdown(report, args.since))
    if args.chart is not None:
        starts, counts = insights.weekly_counts(
            incident_facts(incidents, owners, team=args.team), period=period, now=now
        )
        chart(starts, counts, args.chart, title=f"Incidents per week, last {args.since}")
    return 0


def _listed(client: Any, plural: str, everywhere: bool) -> list[Body]:
    try:
        return list(client.list_objects(plural, everywhere))
    except IncidentOperatorError as exc:
        print(f"warning: {plural} left out of the report: {exc}", file=sys.stderr)
        return []


# --- bodies -> facts ------------------------------------------------------------------------


def service_owners(services: Iterable[Body]) -> dict[tuple[str, str], str]:
    """(namespace, Service name) -> its owner Team."""
    out = {}
    for body in services:
        meta = body.get("metadata") or {}
        owner = (body.get("spec") or {}).get("owner")
        if isinstance(owner, str) and owner:
            out[(str(meta.get("namespace", "")), str(meta.get("name", "")))] = owner
    return out


def incident_facts(
    bodies: Iterable[Body], owners: Mapping[tuple[str, str], str], *, team: str | None = None
) -> list[insights.IncidentFact]:
    out = []
    for body in bodies:
        meta, spec = body.get("metadata") or {}, body.get("spec") or {}
        status = body.get("status") or {}
        declared = parse_time((status.get("timestamps") or {}).get("declared"))
        if declared is None:
            continue  # not accepted by the operator (yet)
        namespace = str(meta.get("namespace", ""))
        service = str(spec.get("service") or next(iter(spec.get("services") or []), ""))
        fact = insights.IncidentFact(
            namespace=namespace,
            name=str(meta.get("name", "")),
            service=service,
            team=_team_of(status, owners.get((namespace, service), "")),
            severity=str(status.get("severity") or spec.get("severityRef") or ""),
            declared=declared,
            durations={
                k: float(v)
                for k, v in (status.get("durations") or {}).items()
                if isinstance(v, int | float)
            },
        )
        if team is None or fact.team == team:
            out.append(fact)
    return out


def _team_of(status: Body, fallback: str) -> str:
    """The catalog's resolution first (the first service's owner, else the first team)."""
    catalog = status.get("catalog") or {}
    owners = catalog.get("owners") or []
    if owners and isinstance(owners[0], dict) and owners[0].get("team"):
        return str(owners[0]["team"])
    teams = catalog.get("teams") or []
    return str(teams[0]) if teams else fallback


def postmortem_facts(bodies: Iterable[Body]) -> list[insights.PostmortemFact]:
    out = []
    for body in bodies:
        meta, spec = body.get("metadata") or {}, body.get("spec") or {}
        items = tuple(
            insights.ActionItemFact(_date(item.get("due")), str(item.get("status") or "open"))
            for item in spec.get("actionItems") or []
            if isinstance(item, dict)
        )
        out.append(
            insights.PostmortemFact(
                namespace=str(meta.get("namespace", "")),
                incident=str(spec.get("incidentRef", "")),
                published=spec.get("state") == "published",
                action_items=items,
            )
        )
    return out


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def slo_facts(
    bodies: Iterable[Body], owners: Mapping[tuple[str, str], str]
) -> list[insights.SloFact]:
    out = []
    for body in bodies:
        meta, spec = body.get("metadata") or {}, body.get("spec") or {}
        namespace, service = str(meta.get("namespace", "")), str(spec.get("service", ""))
        remaining = (body.get("status") or {}).get("errorBudgetRemaining")
        out.append(
            insights.SloFact(
                namespace=namespace,
                name=str(meta.get("name", "")),
                service=service,
                team=owners.get((namespace, service), ""),
                budget_remaining=float(remaining) if isinstance(remaining, int | float) else None,
            )
        )
    return out


# --- output ---------------------------------------------------------------------------------


def human(seconds: float) -> str:
    """Whole seconds in Prometheus' spelling (45s, 2m, 1h30m); 0 -> 0s."""
    whole = round(seconds)
    return format_duration(timedelta(seconds=whole)) if whole > 0 else "0s"


def _figure(group: insights.Group, name: str) -> str:
    found = group.figures.get(name)
    if found is None:
        return NONE
    return " / ".join(human(found.percentiles[p]) for p in insights.PERCENTILES)


def _share(value: float | None) -> str:
    return NONE if value is None else f"{value * 100:.0f} %"


def _row(group: insights.Group) -> str:
    severities = ", ".join(f"{k} {v}" for k, v in group.by_severity.items()) or NONE
    published = (
        f"{group.postmortems_published}/{group.postmortems_owed}"
        if group.postmortems_owed
        else NONE
    )
    cells = [
        group.name,
        str(group.incidents),
        severities,
        *(_figure(group, f) for f in insights.FIGURES),
        published,
        str(group.overdue_action_items),
        _share(group.worst_budget_spent),
    ]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _table(title: str, first: str, groups: Iterable[insights.Group]) -> list[str]:
    header = [
        first, "incidents", "by severity",
        *(f"{insights.SHORT[f]} p50 / p90" for f in insights.FIGURES),
        "postmortems published", "overdue action items", "worst SLO budget spent",
    ]  # fmt: skip
    lines = [f"## {title}", "", "| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += [_row(g) for g in groups]
    return [*lines, ""]


def markdown(report: insights.Report, since: str) -> str:
    lines = [
        f"# Incident report: {iso(report.since)} to {iso(report.now)} ({since})",
        "",
        "Percentiles are nearest-rank over the incidents that reached the milestone; "
        "an overdue action item is open or in progress past its due date.",
        "",
        *_table("By team", "team", report.teams),
        *_table("By service", "service", report.services),
        *_table("In total", "", [report.total]),
    ]
    return "\n".join(lines)


def _group_json(group: insights.Group) -> Body:
    return {
        "name": group.name,
        "incidents": group.incidents,
        "bySeverity": dict(group.by_severity),
        "figures": {
            insights.SHORT[name]: {
                "count": figure.count,
                **{f"p{p}Seconds": figure.percentiles[p] for p in insights.PERCENTILES},
            }
            for name, figure in group.figures.items()
        },
        "postmortems": {
            "owed": group.postmortems_owed,
            "published": group.postmortems_published,
            "completion": group.postmortem_completion,
        },
        "overdueActionItems": group.overdue_action_items,
        "worstBudgetSpent": group.worst_budget_spent,
    }


def as_json(report: insights.Report, since: str) -> Body:
    return {
        "since": iso(report.since),
        "until": iso(report.now),
        "period": since,
        "teams": [_group_json(g) for g in report.teams],
        "services": [_group_json(g) for g in report.services],
        "total": _group_json(report.total),
    }


def chart(starts: list[datetime], counts: Mapping[str, list[int]], path: Path, title: str) -> None:
    """Stacked weekly bars per team."""
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise SystemExit("--chart needs matplotlib: pip install 'incident-operator[plot]'") from exc
    labels = [s.strftime("%Y-%m-%d") for s in starts]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    bottom = [0] * len(starts)
    for team, values in counts.items():
        ax.bar(labels, values, bottom=bottom, label=team)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel("incidents declared")
    ax.set_xlabel("week starting")
    ax.set_title(title)
    if counts:
        ax.legend(title="team", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
