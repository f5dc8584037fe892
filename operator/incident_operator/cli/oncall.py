"""`kubectl incident oncall`: who is on call at an instant, computed by the operator's engine.

With --file the rotation comes from a manifest and no cluster is needed; without it the named
OnCallRotation is read from the cluster of the current kubeconfig. The JSON keys are a
contract (scripts page people with them): at, layers[{name, person}], onCall, nextHandoff.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from incident_operator.adapters.rotations import read_rotation
from incident_operator.api.v1alpha1.rotation import OnCallRotation
from incident_operator.domain import rotation as schedule
from incident_operator.domain.times import iso

from .manifests import UsageError, document_of_kind, problems

KIND = "OnCallRotation"


def add_parser(commands: Any) -> None:
    oncall = commands.add_parser(
        "oncall", help="who is on call at an instant, per layer", description=__doc__
    )
    oncall.add_argument("--file", type=Path, help="OnCallRotation manifest (no cluster needed)")
    oncall.add_argument("--name", help="which rotation (required without --file)")
    oncall.add_argument("-n", "--namespace", help="namespace of the rotation in the cluster")
    oncall.add_argument("--at", help="RFC 3339 instant with offset (default: now)")
    oncall.add_argument("--output", choices=["json", "table"], default="table")
    oncall.set_defaults(run=run)


def parse_at(text: str | None, now: datetime | None = None) -> datetime:
    if text is None:
        return (now or datetime.now(UTC)).replace(microsecond=0)
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(
            f"--at {text!r}: expected RFC 3339, e.g. 2026-03-30T09:00:00+02:00"
        ) from exc
    if at.tzinfo is None:
        raise UsageError(f"--at {text!r}: needs an offset (Z or +02:00)")
    return at


def load(args: argparse.Namespace) -> OnCallRotation:
    if args.file is not None:
        document, where = document_of_kind(args.file, KIND, args.name), args.file
    else:
        if not args.name:
            raise UsageError("give --file ROTATION.yaml, or --name of a rotation in the cluster")
        # A cluster error (not found, forbidden, unreachable) is a failed operation: exit 1.
        document = read_rotation(args.name, args.namespace)
        where = Path(f"{KIND}/{args.name}")
    try:
        return OnCallRotation.model_validate(
            {**document, "apiVersion": "sre.dev/v1alpha1", "kind": KIND, "status": {}}
        )
    except ValidationError as exc:
        raise problems(where, exc) from exc


def rfc3339(at: datetime | None) -> str | None:
    return None if at is None else iso(at)


def answer(rotation: OnCallRotation, at: datetime) -> dict[str, Any]:
    """The JSON contract: every layer in order, the person paged, the next change."""
    domain = rotation.spec.to_domain()
    try:
        layers = schedule.on_call(domain, at)
        handoff = schedule.next_handoff(domain, at)
    except schedule.UnknownTimeZone as exc:
        raise UsageError(f"spec.timeZone: {exc}") from exc
    return {
        "at": rfc3339(at),
        "layers": [{"name": entry.layer, "person": entry.person} for entry in layers],
        "onCall": schedule.top(layers),
        "nextHandoff": rfc3339(handoff),
    }


def table(result: dict[str, Any]) -> str:
    width = max(len("LAYER"), *(len(layer["name"]) for layer in result["layers"]))
    lines = [f"{'LAYER':<{width}}  PERSON"]
    lines += [f"{layer['name']:<{width}}  {layer['person'] or '-'}" for layer in result["layers"]]
    lines += [
        "",
        f"at:           {result['at']}",
        f"on call:      {result['onCall'] or '- (nobody)'}",
        f"next handoff: {result['nextHandoff'] or '- (none ahead)'}",
    ]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out
    at = parse_at(args.at)
    result = answer(load(args), at)
    if args.output == "json":
        json.dump(result, out, indent=2)
        out.write("\n")
    else:
        out.write(table(result))
    return 0
