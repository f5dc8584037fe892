"""`kubectl incident slo import`: Sloth, Pyrra and OpenSLO SLOs as ServiceLevelObjectives.

Reads Sloth spec files (version: prometheus/v1) and PrometheusServiceLevel objects, Pyrra
ServiceLevelObjectives (pyrra.dev/v1alpha1) and OpenSLO SLO/SLI documents (openslo/v1, and
Sloth's openslo/v1alpha), any number per file, and prints the equivalent sre.dev/v1alpha1
ServiceLevelObjectives (YAML documents, or with -o json one object or a v1 List). What could
not be carried over is listed field by field on stderr. When any document cannot be converted
nothing is printed and the exit status is 2. Needs no cluster.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import yaml

from incident_operator.api.v1alpha1.slo_import import ConversionError, convert

from .manifests import UsageError, block_dumper, read_sources


def add_parser(sub: Any) -> None:
    cmd = sub.add_parser(
        "import",
        help="convert Sloth, Pyrra and OpenSLO SLOs into ServiceLevelObjectives",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  kubectl incident slo import sloth/*.yml | kubectl apply -f -\n"
            "  kubectl incident slo import --recorded pyrra-slos.yaml -o json\n\n"
            "See docs/slo-interop.md (Importing SLOs) for what maps and what is lost."
        ),
    )
    cmd.add_argument("files", nargs="+", type=Path, metavar="FILE", help="YAML file(s)")
    cmd.add_argument("-o", "--output", choices=["yaml", "json"], default="yaml")
    cmd.add_argument(
        "--recorded",
        action="store_true",
        help="read the series Sloth or Pyrra record (indicator.recorded) instead of "
        "carrying their queries over; keep their rules running",
    )
    cmd.add_argument("--service", help="spec.service of every SLO (Pyrra has no service)")
    cmd.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        result = convert(read_sources(args.files), recorded=args.recorded, service=args.service)
    except ConversionError as exc:
        raise UsageError(str(exc)) from exc
    if not result.manifests:
        raise UsageError("no SLOs in " + ", ".join(map(str, args.files)))
    for loss in result.losses:
        print(f"not carried over: {loss}", file=err)
    for skipped in result.skipped:
        print(f"skipped (not an SLO): {skipped}", file=err)
    if args.output == "json":
        document: Any = (
            result.manifests[0]
            if len(result.manifests) == 1
            else {"apiVersion": "v1", "kind": "List", "items": result.manifests}
        )
        text = json.dumps(document, indent=2) + "\n"
    else:
        text = yaml.dump_all(
            result.manifests, Dumper=block_dumper(), sort_keys=False, width=1 << 20
        )
    out.write(text)
    return 0
