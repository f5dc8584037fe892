"""`kubectl incident`: the kubectl plugin (kubectl finds `kubectl-incident` on PATH).

Commands that only read files (simulate, slo rules, slo import) need no cluster; the incident
commands (declare, list, show, ack, assign, sev, state, resolve, close, decline, merge, note)
and `postmortem` use the current kubeconfig.
"""

from __future__ import annotations

import argparse
import os
import sys

from incident_operator import __version__

from . import (
    export,
    incident_commands,
    mitigate,
    oncall,
    postmortem,
    simulate,
    slo_rules,
    timeline,
)
from .manifests import UsageError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubectl incident", description="Run incidents from kubectl."
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", title="commands")
    simulate.add_parser(commands)
    slo_rules.add_parser(commands)
    oncall.add_parser(commands)
    incident_commands.add_parsers(commands)
    timeline.add_parser(commands)
    mitigate.add_parser(commands)
    postmortem.add_parser(commands)
    export.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        code: int = args.run(args)
        sys.stdout.flush()
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`| head`): no traceback, and none again at exit's flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return code
