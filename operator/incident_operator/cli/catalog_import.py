"""`kubectl incident catalog import`: Backstage catalog-info.yaml as Services and Teams.

Reads Backstage entities (backstage.io/v1alpha1: Component, Group, User; System and the other
kinds are reported), any number per file, and prints sre.dev/v1alpha1 Teams (admitting the
namespace given) and Services (in that namespace) as YAML documents, or with -o json one
object or a v1 List. What could not be carried over is listed on stderr. A PagerDuty
integration key found in an annotation is never printed: the report says where it belongs.
Needs no cluster; apply the output with kubectl (Teams need a cluster admin).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import yaml

from incident_operator.api.v1alpha1.catalog_import import CatalogImportError, convert

from .manifests import UsageError, block_dumper, read_sources


def add_parser(commands: Any) -> None:
    catalog = commands.add_parser("catalog", help="work with the service catalog")
    catalog.set_defaults(run=lambda _args: _print_help(catalog))
    sub = catalog.add_subparsers(dest="catalog_command", title="commands")
    cmd = sub.add_parser(
        "import",
        help="convert Backstage catalog-info.yaml into Services and Teams",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  kubectl incident catalog import -n shop catalog-info.yaml | kubectl apply -f -\n"
            "  kubectl incident catalog import -n shop org.yaml components/*.yaml -o json\n\n"
            "See docs/catalog.md (Importing from Backstage) for what maps and what is lost."
        ),
    )
    cmd.add_argument("files", nargs="+", type=Path, metavar="FILE", help="YAML file(s)")
    cmd.add_argument(
        "-n",
        "--namespace",
        required=True,
        help="namespace of the Services (and the one the Teams admit)",
    )
    cmd.add_argument("-o", "--output", choices=["yaml", "json"], default="yaml")
    cmd.set_defaults(run=run)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        result = convert(read_sources(args.files), namespace=args.namespace)
    except CatalogImportError as exc:
        raise UsageError(str(exc)) from exc
    if not result.manifests:
        raise UsageError("no Components or Groups in " + ", ".join(map(str, args.files)))
    for line in result.unmapped:
        print(f"not carried over: {line}", file=err)
    if args.output == "json":
        document: Any = (
            result.manifests[0]
            if len(result.manifests) == 1
            else {"apiVersion": "v1", "kind": "List", "items": result.manifests}
        )
        out.write(json.dumps(document, indent=2) + "\n")
    else:
        out.write(
            yaml.dump_all(result.manifests, Dumper=block_dumper(), sort_keys=False, width=1 << 20)
        )
    return 0
