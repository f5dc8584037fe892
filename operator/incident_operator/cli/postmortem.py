"""`kubectl incident postmortem INC [--format md|json] [--chart FILE]`.

Prints the rendered postmortem of an incident (Markdown by default, the same document as
JSON with --format json) from the ConfigMap the operator keeps next to the Postmortem;
--chart also saves the PNG chart the Markdown references.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TextIO

from incident_operator.adapters.ports import Body
from incident_operator.domain.postmortem_document import CHART_FILE
from incident_operator.errors import IncidentOperatorError
from incident_operator.services.postmortems import JSON_KEY, MARKDOWN_KEY, config_map_name


class Postmortems(Protocol):
    namespace: str

    def incident(self, name: str) -> Body: ...

    def rendered(self, config_map: str) -> tuple[dict[str, str], dict[str, bytes]]: ...


Factory = Callable[[str | None], Postmortems]


def _real(namespace: str | None) -> Postmortems:
    from incident_operator.adapters.postmortem_client import PostmortemClient  # noqa: PLC0415

    return PostmortemClient(namespace)


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "postmortem", help="print an incident's postmortem", description=__doc__
    )
    parser.add_argument("incident")
    parser.add_argument("-n", "--namespace")
    parser.add_argument("--format", choices=["md", "json"], default="md")
    parser.add_argument("--chart", type=Path, help="also write the PNG chart to this file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO | None = None, factory: Factory | None = None) -> int:
    out = out or sys.stdout
    try:
        postmortems = (factory or _real)(args.namespace)
        incident = postmortems.incident(args.incident)
        ref = (incident.get("status") or {}).get("postmortemRef")
        if not ref:
            print(
                f"error: incident {args.incident} has no postmortem (yet: it is drafted when "
                "the incident resolves, if its severity or budget burn requires one)",
                file=sys.stderr,
            )
            return 1
        postmortem_cm = config_map_name(str(ref))
        data, binary = postmortems.rendered(postmortem_cm)
        text = data.get(MARKDOWN_KEY if args.format == "md" else JSON_KEY)
        if text is None:
            print(f"error: configmap {postmortem_cm} holds no {args.format}", file=sys.stderr)
            return 1
        out.write(text if text.endswith("\n") else text + "\n")
        if args.chart is not None:
            png = binary.get(CHART_FILE)
            if png is None:
                print("error: no chart was rendered (no measured SLO)", file=sys.stderr)
                return 1
            args.chart.write_bytes(png)
    except IncidentOperatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
