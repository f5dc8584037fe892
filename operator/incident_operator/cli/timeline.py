"""`kubectl incident timeline NAME [--follow] [--since 30m|RFC3339] [-o wide|json|yaml]`.

Prints status.timeline oldest first: time, type, who (the author, else the source) and the
message; when the operator folded older entries into status.timelineSummary, a ``(folded)``
line says how many, of which types, over which span. ``--follow`` watches the Incident (the
API server's watch, not polling) and prints entries as they are added, until Ctrl-C or
SIGTERM (exit 0) or the incident is deleted (exit 0, said on stderr). ``-o json`` prints one
entry per line (JSON Lines) and ``-o yaml`` one document per entry, so both stream unchanged
under ``--follow``; the folded summary is in ``show -o json``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from incident_operator.adapters.ports import Body

from . import output
from .incident_commands import Incidents, command

FORMATS = ("wide", "json", "yaml")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
HEADER = ["TIME", "TYPE", "BY", "MESSAGE"]
WIDE_HEADER = ["TIME", "TYPE", "AUTHOR", "SOURCE", "KEY", "MESSAGE"]
WIDTHS = [20, 18, 16, 0]
WIDE_WIDTHS = [20, 18, 16, 12, 24, 0]

Since = timedelta | datetime


def parse_since(text: str) -> Since:
    """``30m``, ``1h30m``, ``2d`` (ago) or an RFC 3339 instant with an offset."""
    if DURATION.sub("", text) == "" and text:
        return timedelta(seconds=sum(float(n) * UNITS[unit] for n, unit in DURATION.findall(text)))
    at = instant(text)
    if at is None:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a duration (30m, 1h30m, 2d) or an RFC 3339 instant with an "
            "offset (2026-11-27T14:00:00Z)"
        )
    return at


def instant(text: Any) -> datetime | None:
    """An RFC 3339 string with an offset as an aware datetime, else None."""
    try:
        at = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def since_instant(since: Since | None, now: datetime) -> datetime | None:
    return now - since if isinstance(since, timedelta) else since


def shown_time(text: Any) -> str:
    at = instant(text)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if at else str(text or "")


def fingerprint(entry: Mapping[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True)


def selected(entries: Iterable[Body], since: datetime | None) -> list[Body]:
    """Oldest first; at or after ``since`` (an entry whose time does not parse is kept)."""
    ordered = sorted(
        entries, key=lambda e: instant(e.get("at")) or datetime.min.replace(tzinfo=UTC)
    )
    if since is None:
        return ordered
    return [e for e in ordered if (at := instant(e.get("at"))) is None or at >= since]


def folded_cells(summary: Mapping[str, Any], since: datetime | None) -> list[str] | None:
    """The ``(folded)`` line for status.timelineSummary, unless it is empty or all too old."""
    if not summary.get("entries"):
        return None
    last = instant(summary.get("last"))
    if since is not None and last is not None and last < since:
        return None
    kinds = ", ".join(f"{t} {n}" for t, n in (summary.get("byType") or {}).items())
    message = f"{summary['entries']} older entries folded, until {shown_time(summary.get('last'))}"
    return [
        shown_time(summary.get("first")),
        "(folded)",
        "",
        message + (f": {kinds}" if kinds else ""),
    ]


def entry_cells(entry: Mapping[str, Any], wide: bool = False) -> list[str]:
    at, kind = shown_time(entry.get("at")), str(entry.get("type", ""))
    message = output.one_line(entry.get("message", ""))
    author, source = str(entry.get("author") or ""), str(entry.get("source") or "")
    if wide:
        return [at, kind, author, source, str(entry.get("key") or ""), message]
    return [at, kind, author or source, message]


@dataclass
class Printer:
    """Text for entries in one format; the table's header comes once, before the first row."""

    fmt: str | None
    header_due: bool = True
    seen: set[str] = field(default_factory=set)

    def rows(self, rows: Sequence[Sequence[str]]) -> str:
        if not rows:
            return ""
        wide = self.fmt == "wide"
        head = ([WIDE_HEADER] if wide else [HEADER]) if self.header_due else []
        self.header_due = False
        widths = WIDE_WIDTHS if wide else WIDTHS
        return "".join(output.aligned(row, widths) + "\n" for row in [*head, *rows])

    def entries(self, entries: Sequence[Body], folded: list[str] | None = None) -> str:
        if self.fmt == "json":
            return "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries)
        if self.fmt == "yaml":
            return "".join(output.document(e, "yaml") for e in entries)
        wide = self.fmt == "wide"
        rows = [entry_cells(e, wide) for e in entries]
        if folded is not None:
            rows.insert(0, [*folded[:3], "", "", *folded[3:]] if wide else folded)
        return self.rows(rows)

    def new(self, body: Body, since: datetime | None) -> str:
        """What ``body`` adds to what was seen (every entry counts, shown or filtered out)."""
        status = body.get("status") or {}
        fresh = [e for e in status.get("timeline") or [] if fingerprint(e) not in self.seen]
        self.seen.update(fingerprint(e) for e in fresh)
        return self.entries(selected(fresh, since))


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "timeline", help="an incident's timeline (--follow for new entries)", description=__doc__
    )
    parser.add_argument("name", help="the incident")
    parser.add_argument("-n", "--namespace", help="namespace (default: kubeconfig's)")
    parser.add_argument(
        "-f", "--follow", action="store_true", help="keep printing entries as they are added"
    )
    parser.add_argument(
        "--since", type=parse_since, metavar="DURATION|TIME", help="only entries from then on"
    )
    parser.add_argument(
        "-o", "--output", choices=FORMATS, help="default: a table; json: one entry per line"
    )
    parser.set_defaults(run=run_timeline)


@command
def run_timeline(args: argparse.Namespace, incidents: Incidents, out: TextIO) -> int:
    since = since_instant(args.since, datetime.now(UTC))
    body = incidents.get(args.name)
    status = body.get("status") or {}
    printer = Printer(args.output)
    folded = folded_cells(status.get("timelineSummary") or {}, since)
    entries = selected(status.get("timeline") or [], since)
    printer.seen.update(fingerprint(e) for e in status.get("timeline") or [])
    out.write(printer.entries(entries, folded if args.output in (None, "wide") else None))
    if not args.follow:
        if not entries and folded is None:
            print("No timeline entries.", file=sys.stderr)
        return 0
    version = body["metadata"].get("resourceVersion")
    return follow(incidents, args.name, since, printer, out, version=version)


def follow(
    incidents: Incidents,
    name: str,
    since: datetime | None,
    printer: Printer,
    out: TextIO,
    *,
    version: str | None = None,
) -> int:
    """Print new entries until Ctrl-C, SIGTERM or deletion: exit 0 each time.

    The watch starts at ``version``, the one printed, so nothing in between is missed (a
    deletion included)."""

    def texts() -> Iterator[str]:
        for kind, body in incidents.watch(name=name, since=version):
            if kind == "DELETED":
                print(f"incident {incidents.namespace}/{name} was deleted", file=sys.stderr)
                return
            yield printer.new(body, since)

    output.stream_until_interrupted(out, texts())
    return 0
