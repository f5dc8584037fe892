"""`incident-operator run`: the operator process."""

from __future__ import annotations

import argparse
import os
import sys

from incident_operator import __version__
from incident_operator.domain.durations import parse_duration
from incident_operator.handlers.runner import RunOptions, run


def _seconds(text: str) -> float:
    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="incident-operator")
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser("run", help="reconcile incident-management resources")
    run_cmd.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        help="watch only this namespace (repeatable); default: the whole cluster",
    )
    run_cmd.add_argument(
        "--liveness",
        default="http://0.0.0.0:8080/healthz",
        help="liveness endpoint URL kopf serves (default %(default)s)",
    )
    run_cmd.add_argument(
        "--prometheus-url",
        default=os.environ.get("INCIDENT_OPERATOR_PROMETHEUS_URL"),
        help="Prometheus to evaluate SLOs against (env INCIDENT_OPERATOR_PROMETHEUS_URL); "
        "without it SLOs are not evaluated",
    )
    run_cmd.add_argument(
        "--evaluation-interval",
        default="30s",
        type=_seconds,
        help="how often every SLO is evaluated (default %(default)s)",
    )
    run_cmd.add_argument("--verbose", action="store_true")
    run_cmd.add_argument("--plain-logs", action="store_true", help="human-readable, not JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    run(
        RunOptions(
            namespaces=tuple(args.namespace),
            liveness_endpoint=args.liveness,
            verbose=args.verbose,
            json_logs=not args.plain_logs,
            prometheus_url=args.prometheus_url,
            evaluation_interval=args.evaluation_interval,
        )
    )
    return 0
