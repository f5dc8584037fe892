"""`kubectl incident mitigate INC --rollback deploy/NAME [--to-revision N] | --shift
httproute/NAME --to BACKEND=WEIGHT,... | --abort rollout/NAME | --scale deploy/NAME=N |
--approve NAME [--dry-run]`.

The manual path goes through the same guarded executor as the automatic one: the command adds
the action to the incident's ``spec.mitigations`` (a human's request is the approval) or, with
``--approve``, a suggested action's name to ``spec.approvedMitigations``; the operator checks
the guardrails, runs it (server-side dry run with ``--dry-run``) and records the result in
``status.mitigations``, which the command waits for and prints.
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from incident_operator.adapters.ports import Body
from incident_operator.cli.incident_commands import DEFAULT_WAIT, Incidents, Verdict, command
from incident_operator.cli.manifests import UsageError
from incident_operator.domain import timeline

SETTLED = frozenset(
    {"refused", "dry-run", "no-op", "applied", "verified", "failed", "blocked", "waiting"}
)
"""States the command reports (pending-approval and running are not an answer yet)."""
FAILED = frozenset({"refused", "failed", "blocked"})
KINDS = {
    "rollback": ("deploy", "deployment", "deployments"),
    "shift": ("httproute", "httproutes"),
    "abort": ("rollout", "rollouts", "ro"),
    "scale": ("deploy", "deployment", "deployments", "sts", "statefulset", "statefulsets"),
}


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "mitigate", help="run a guarded mitigation, or approve a suggested one"
    )
    parser.add_argument("name", help="the incident")
    parser.add_argument("-n", "--namespace", help="namespace (default: kubeconfig's)")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--rollback", metavar="deploy/NAME")
    action.add_argument("--shift", metavar="httproute/NAME")
    action.add_argument("--abort", metavar="rollout/NAME")
    action.add_argument("--scale", metavar="deploy/NAME=N")
    action.add_argument("--approve", metavar="MITIGATION", help="approve a suggested mitigation")
    parser.add_argument("--to-revision", type=int, help="with --rollback: revision to return to")
    parser.add_argument("--to", metavar="BACKEND=WEIGHT,...", help="with --shift: the weights")
    parser.add_argument("--dry-run", action="store_true", help="server-side dry run only")
    parser.add_argument(
        "--wait", type=float, default=DEFAULT_WAIT, help="seconds to wait for the result"
    )
    parser.set_defaults(run=run_mitigate)


def _ref(value: str, option: str) -> str:
    kind, sep, name = value.partition("/")
    if not sep or not name or kind.lower() not in KINDS[option]:
        raise UsageError(f"--{option} takes {KINDS[option][0]}/NAME, got {value!r}")
    return name


def _weights(text: str | None) -> list[Body]:
    if not text:
        raise UsageError("--shift needs --to BACKEND=WEIGHT[,BACKEND=WEIGHT...]")
    weights = []
    for part in text.split(","):
        backend, sep, weight = part.strip().partition("=")
        if not sep or not backend or not weight.isdigit():
            raise UsageError(f"--to: expected BACKEND=WEIGHT, got {part!r}")
        weights.append({"backend": backend, "weight": int(weight)})
    return weights


def requested_action(args: argparse.Namespace) -> tuple[str, Body]:
    """The default name stem and the Mitigation fields for the requested action."""
    if args.rollback:
        name = _ref(args.rollback, "rollback")
        rollback: Body = {"deployment": name}
        if args.to_revision is not None:
            rollback["toRevision"] = args.to_revision
        return f"rollback-{name}", {"rollback": rollback}
    if args.shift:
        name = _ref(args.shift, "shift")
        return f"shift-{name}", {"shiftTraffic": {"httpRoute": name, "weights": _weights(args.to)}}
    if args.abort:
        name = _ref(args.abort, "abort")
        return f"abort-{name}", {"abortRollout": {"rollout": name}}
    ref, sep, count = args.scale.rpartition("=")
    if not sep or not count.isdigit():
        raise UsageError(f"--scale takes deploy/NAME=N, got {args.scale!r}")
    kind = ref.partition("/")[0].lower()
    name = _ref(ref, "scale")
    scale: Body = {"name": name, "replicas": int(count)}
    if kind in ("sts", "statefulset", "statefulsets"):
        scale["kind"] = "StatefulSet"
    return f"scale-{name}", {"scale": scale}


def _result(body: Body, name: str) -> Body | None:
    for result in (body.get("status") or {}).get("mitigations") or []:
        if result.get("name") == name:
            return dict(result)
    return None


def await_result(
    incidents: Incidents,
    incident: str,
    mitigation: str,
    wait: float,
    out: TextIO,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    where = f"incident {incidents.namespace}/{incident}"
    deadline = clock() + wait
    while wait > 0:
        result = _result(incidents.get(incident), mitigation)
        if result is not None and result.get("state") in SETTLED:
            line = f"{where}: {mitigation} {result['state']}: {result.get('message', '')}"
            if result["state"] in FAILED:
                raise Verdict(line)
            print(line, file=out)
            return 0
        if clock() >= deadline:
            break
        sleep(0.5)
    print(f"{where}: {mitigation} requested (no result from the operator yet)", file=out)
    return 0


@command
def run_mitigate(args: argparse.Namespace, incidents: Incidents, out: TextIO) -> int:
    body = incidents.get(args.name)
    spec = body.get("spec") or {}
    if args.approve:
        approved = list(spec.get("approvedMitigations") or [])
        if args.approve not in approved:
            approved.append(args.approve)
        incidents.patch_spec(args.name, {"approvedMitigations": approved})
        incidents.append_timeline(
            args.name,
            timeline.entry(
                datetime.now(UTC).replace(microsecond=0),
                "mitigation",
                f"{args.approve} approved by the commander",
                author=getpass.getuser(),
                source="kubectl",
                key=f"mitigation/{args.approve}/approved",
            ),
        )
        print(f"incident {incidents.namespace}/{args.name}: {args.approve} approved", file=out)
        return await_result(incidents, args.name, args.approve, args.wait, out)
    stem, fields = requested_action(args)
    existing = list(spec.get("mitigations") or [])
    name = f"{stem[:52]}-{secrets.token_hex(2)}"
    entry: Body = {"name": name, **fields}
    if args.dry_run:
        entry["dryRun"] = True
    incidents.patch_spec(args.name, {"mitigations": [*existing, entry]})
    print(
        f"incident {incidents.namespace}/{args.name}: {name} requested"
        + (" (dry run)" if args.dry_run else ""),
        file=out,
    )
    return await_result(incidents, args.name, name, args.wait, out)
