"""`kubectl incident`: the kubectl plugin (kubectl finds `kubectl-incident` on PATH).

A skeleton for now: later issues add declare, ack, sev, role, mitigate and postmortem.
"""

from __future__ import annotations

import argparse
import sys

from incident_operator import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kubectl incident", description="Run incidents from kubectl."
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_subparsers(dest="command", title="commands")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command is None:
        parser.print_help()
    return 0
