"""`kubectl incident export NAME [--postmortem] [-o yaml|json]`: a manifest for Git.

Incidents the operator declared (from an SLO, Alertmanager or Slack) and the postmortems it
drafted can be kept in Git from then on. The export is the object as its author declared
it: ``apiVersion``, ``kind``, name, namespace, labels, the annotations that carry intent, and
the spec. Nothing the API server or the operator fills in (status, uid, resourceVersion,
generation, managedFields, finalizers, kopf's and kubectl's bookkeeping) is in it, so a GitOps
tool applying it back changes nothing and then owns those fields (docs/gitops.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import yaml

from incident_operator.adapters.ports import Body
from incident_operator.api.bookkeeping import KOPF_MARKS, KOPF_PROGRESS
from incident_operator.errors import IncidentOperatorError

# Annotations that record bookkeeping, not anybody's intent: never exported. kopf's are under
# our own prefix (api/bookkeeping.py); kopf.zalando.org/ is its default, for objects another
# kopf operator handles too.
BOOKKEEPING_PREFIXES = ("kopf.zalando.org/", "kubectl.kubernetes.io/")
BOOKKEEPING = (
    KOPF_MARKS
    | KOPF_PROGRESS
    | {
        "postmortem.sre.dev/state",
        "postmortem.sre.dev/dashboard-marks",
        "sre.dev/change-freeze",
    }
)


def exported(body: Mapping[str, Any]) -> Body:
    """The declarative manifest of ``body`` (see the module docstring)."""
    meta = body.get("metadata") or {}
    out_meta: Body = {"name": meta["name"]}
    if meta.get("namespace"):
        out_meta["namespace"] = meta["namespace"]
    if meta.get("labels"):
        out_meta["labels"] = dict(meta["labels"])
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k not in BOOKKEEPING and not k.startswith(BOOKKEEPING_PREFIXES)
    }
    if annotations:
        out_meta["annotations"] = annotations
    return {
        "apiVersion": body["apiVersion"],
        "kind": body["kind"],
        "metadata": out_meta,
        "spec": dict(body.get("spec") or {}),
    }


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "export",
        help="print an incident (or its postmortem) as a manifest for Git",
        description=__doc__,
    )
    parser.add_argument("name", help="the incident")
    parser.add_argument("-n", "--namespace", help="namespace (default: kubeconfig's)")
    parser.add_argument(
        "--postmortem", action="store_true", help="export the incident's postmortem instead"
    )
    parser.add_argument("-o", "--output", choices=["yaml", "json"], default="yaml")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO | None = None, client: Any = None) -> int:
    out = out or sys.stdout
    try:
        if client is None:
            from incident_operator.adapters.incident_client import (  # noqa: PLC0415
                IncidentClient,
            )

            client = IncidentClient(args.namespace)
        body = client.get(args.name)
        if args.postmortem:
            ref = (body.get("status") or {}).get("postmortemRef")
            if not ref:
                print(f"error: incident {args.name} has no postmortem", file=sys.stderr)
                return 1
            body = client.get_postmortem(str(ref))
    except IncidentOperatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    manifest = exported(body)
    if args.output == "json":
        out.write(json.dumps(manifest, indent=2) + "\n")
    else:
        out.write(yaml.safe_dump(manifest, sort_keys=False))
    return 0
