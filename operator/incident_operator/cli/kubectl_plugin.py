"""`kubectl incident`: the kubectl plugin (kubectl finds `kubectl-incident` on PATH).

Commands that only read files (simulate, slo rules, slo import) need no cluster; the incident
commands (declare, list, show, timeline, ack, assign, sev, state, resolve, close, decline,
merge, note), `postmortem` and `workflow test` use the current kubeconfig.

Every command exits 0 when done, 1 when the operation failed or was refused (one line on
stderr) and 2 for a usage error; 130 after Ctrl-C, except that a watch (`list --watch`,
`timeline --follow`) ends with 0 on Ctrl-C or SIGTERM. When the reader of stdout goes away
(`| head -1`) the plugin stops quietly with 141, the status coreutils and kubectl end with
(killed by SIGPIPE; SIGPIPE itself stays ignored, as Python sets it, so that a closed API
connection is an error to handle rather than death). Output is never coloured.
"""

from __future__ import annotations

import argparse
import os
import sys

from incident_operator import __version__
from incident_operator.errors import IncidentOperatorError

from . import (
    catalog_import,
    completion,
    doctor,
    export,
    incident_commands,
    mitigate,
    oncall,
    postmortem,
    report,
    simulate,
    slo_rules,
    timeline,
    workflow,
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
    report.add_parser(commands)
    catalog_import.add_parser(commands)
    doctor.add_parser(commands)
    workflow.add_parser(commands)
    completion.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    try:
        if argv[:1] == ["__complete"]:  # hidden: the shell completion protocol
            code = completion.complete(parser, argv[1:])
        else:
            args = parser.parse_args(argv)
            if args.command is None:
                parser.print_help()
                return 0
            code = args.run(args)
        sys.stdout.flush()
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except IncidentOperatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): no traceback, and none again at exit's flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return int(code)
