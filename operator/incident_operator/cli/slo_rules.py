"""`kubectl incident slo rules`: an SLO's burn-rate policy as Prometheus rules.

Prints a rule file (``groups:``) or a monitoring.coreos.com/v1 PrometheusRule whose alerts
fire exactly when the operator's burn-rate evaluation would, with Sloth's series names so
Sloth's dashboards work on them. Reads only the manifest; needs no cluster.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import yaml
from pydantic import ValidationError

from incident_operator.api.v1alpha1.slo import ServiceLevelObjective
from incident_operator.domain.rules import SloIdentity, rule_groups

from .simulate import UsageError

PROMETHEUS_RULE_API = "monitoring.coreos.com/v1"


def add_parser(commands: Any) -> None:
    slo = commands.add_parser("slo", help="work with ServiceLevelObjective manifests")
    slo.set_defaults(run=lambda _args: _print_help(slo))
    sub = slo.add_subparsers(dest="slo_command", title="commands")
    rules = sub.add_parser(
        "rules",
        help="print Prometheus recording and alerting rules for an SLO",
        description=__doc__,
    )
    rules.add_argument("manifest", type=Path, help="ServiceLevelObjective manifest (YAML)")
    rules.add_argument("--name", help="which SLO, when the manifest file holds several")
    rules.add_argument("--output", choices=["yaml", "json"], default="yaml")
    rules.add_argument(
        "--prometheus-rule",
        action="store_true",
        help="print a monitoring.coreos.com/v1 PrometheusRule instead of a rule file",
    )
    rules.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra label on every series and alert (repeatable)",
    )
    rules.set_defaults(run=run)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def load_slo(path: Path, name: str | None = None) -> ServiceLevelObjective:
    """The ServiceLevelObjective in ``path`` (by ``name`` when the file holds several)."""
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: cannot read the manifest: {exc}") from exc
    if not all(isinstance(d, dict) for d in documents):
        raise UsageError(f"{path}: expected a ServiceLevelObjective manifest with a spec")
    slos = [
        d for d in documents if d.get("kind", "ServiceLevelObjective") == "ServiceLevelObjective"
    ]
    if name is not None:
        slos = [d for d in slos if (d.get("metadata") or {}).get("name") == name]
    if not slos:
        kinds = ", ".join(sorted({str(d.get("kind")) for d in documents})) or "nothing"
        wanted = f" named {name!r}" if name else ""
        raise UsageError(f"{path}: no ServiceLevelObjective{wanted} (found {kinds})")
    if len(slos) > 1:
        names = ", ".join(str((d.get("metadata") or {}).get("name")) for d in slos)
        raise UsageError(
            f"{path}: holds {len(slos)} ServiceLevelObjectives ({names}); pick one with --name"
        )
    (document,) = slos
    if not isinstance(document.get("spec"), dict):
        raise UsageError(f"{path}: expected a ServiceLevelObjective manifest with a spec")
    if not (document.get("metadata") or {}).get("name"):
        raise UsageError(f"{path}: the ServiceLevelObjective needs metadata.name (the sloth_slo)")
    try:
        return ServiceLevelObjective.model_validate(
            {"apiVersion": "sre.dev/v1alpha1", "kind": "ServiceLevelObjective", **document}
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise UsageError(f"{path}: {problems}") from exc


def parse_labels(pairs: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--label {pair!r}: expected KEY=VALUE")
        labels[key] = value
    return labels


def build(slo: ServiceLevelObjective, labels: dict[str, str], prometheus_rule: bool) -> Any:
    """The rule file, or the PrometheusRule wrapping the same groups."""
    metadata = slo.metadata
    identity = SloIdentity(service=slo.spec.service, name=str(metadata["name"]))
    try:
        groups = rule_groups(identity, slo.spec.to_domain(), slo.spec.indicator.to_domain(), labels)
    except ValueError as exc:
        raise UsageError(f"{identity.name}: {exc}") from exc
    if not prometheus_rule:
        return {"groups": groups}
    rule_metadata: dict[str, Any] = {
        "name": f"sloth-slo-{identity.name}",
        "labels": {
            "app.kubernetes.io/component": "SLO",
            "app.kubernetes.io/managed-by": "kubectl-incident",
        },
    }
    if metadata.get("namespace"):
        rule_metadata["namespace"] = metadata["namespace"]
    return {
        "apiVersion": PROMETHEUS_RULE_API,
        "kind": "PrometheusRule",
        "metadata": rule_metadata,
        "spec": {"groups": groups},
    }


class _BlockDumper(yaml.SafeDumper):
    """Multi-line PromQL as ``|`` blocks, the way people write rule files."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out
    slo = load_slo(args.manifest, args.name)
    document = build(slo, parse_labels(args.label), args.prometheus_rule)
    if args.output == "json":
        json.dump(document, out, indent=2)
        out.write("\n")
        return 0
    name = slo.metadata.get("name")
    where = f"{slo.metadata['namespace']}/{name}" if slo.metadata.get("namespace") else name
    out.write(
        f"# Generated by kubectl-incident slo rules from {args.manifest} ({where}).\n"
        "# Regenerate instead of editing: the alerts mirror the operator's burn-rate policy.\n"
    )
    yaml.dump(document, out, Dumper=_BlockDumper, sort_keys=False, width=1 << 20)
    return 0
