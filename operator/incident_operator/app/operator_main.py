"""`incident-operator run`: the operator process."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys
from typing import Any

from aiohttp import web

from incident_operator import __version__
from incident_operator.adapters.clock import SystemClock
from incident_operator.adapters.ports import TokenSource
from incident_operator.adapters.secrets import FileToken, StaticToken
from incident_operator.domain.alertmanager import (
    DNS_LABEL,
    SeverityPolicy,
    parse_severity_map,
)
from incident_operator.domain.durations import parse_duration
from incident_operator.handlers import status_page as _status_page_handlers  # noqa: F401
from incident_operator.handlers.runner import RunOptions, run
from incident_operator.services.alertmanager import AlertmanagerConfig
from incident_operator.services.status_page import StatusPageIndex
from incident_operator.web.alertmanager import AlertmanagerWebhook
from incident_operator.web.app import build_app
from incident_operator.web.metrics import MetricsEndpoint
from incident_operator.web.status_page import StatusPageEndpoints, StatusPageSettings

TOKEN_ENV = "INCIDENT_OPERATOR_ALERTMANAGER_TOKEN"
DEFAULT_SEVERITY_MAP = "critical=sev-1,error=sev-2,warning=sev-3,info=sev-4,*=sev-3"


def _seconds(text: str) -> float:
    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def _severity_map(text: str) -> SeverityPolicy:
    try:
        return parse_severity_map(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _namespace(text: str) -> str:
    if not DNS_LABEL.match(text) or len(text) > 63:
        raise argparse.ArgumentTypeError(f"{text!r} is not a namespace name")
    return text


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
        "--prometheus-timeout",
        default="30s",
        type=_seconds,
        help="per-query timeout; a timeout counts as Prometheus unavailable (default %(default)s)",
    )
    run_cmd.add_argument(
        "--evaluation-interval",
        default="30s",
        type=_seconds,
        help="how often every SLO is evaluated (default %(default)s)",
    )
    run_cmd.add_argument(
        "--http-listen",
        default="0.0.0.0:8081",
        type=_listen,
        help="HOST:PORT of the operator's HTTP server (webhooks, /metrics) (default %(default)s)",
    )
    webhook = run_cmd.add_argument_group(
        "Alertmanager webhook (POST /alertmanager on --http-listen)"
    )
    webhook.add_argument(
        "--alertmanager-token-file",
        help=f"file holding the bearer token Alertmanager sends, e.g. a mounted Secret; "
        f"re-read when it changes. Else env {TOKEN_ENV}; without either the endpoint answers "
        "503",
    )
    webhook.add_argument(
        "--alertmanager-severity-label",
        default="severity",
        help="alert label mapped to a Severity (default %(default)s)",
    )
    webhook.add_argument(
        "--alertmanager-severity-map",
        default=DEFAULT_SEVERITY_MAP,
        type=_severity_map,
        help="label value=Severity name, most severe first; * = for any other value or no "
        "label. The most severe firing alert decides (default %(default)s)",
    )
    webhook.add_argument(
        "--alertmanager-namespace",
        default="default",
        type=_namespace,
        help="namespace of incidents whose alerts carry no 'namespace' label (group labels "
        "first, then common labels) (default %(default)s)",
    )
    webhook.add_argument(
        "--alertmanager-auto-resolve",
        action="store_true",
        help="set an incident resolved when all alerts of its group resolved (default: only "
        "record it in the timeline)",
    )
    run_cmd.add_argument(
        "--status-page-title",
        default=StatusPageSettings.title,
        help="name of the status page (GET /status and /api/v2/*.json on --http-listen) "
        "(default %(default)s)",
    )
    run_cmd.add_argument(
        "--manage-prometheus-rules",
        action="store_true",
        help="keep a PrometheusRule (Sloth-named rules) per SLO where prometheus-operator's "
        "CRD exists",
    )
    run_cmd.add_argument("--verbose", action="store_true")
    run_cmd.add_argument("--plain-logs", action="store_true", help="human-readable, not JSON")
    return parser.parse_args(argv)


def alertmanager_token(args: argparse.Namespace) -> TokenSource | None:
    """The file if one is given, else the environment; the value itself never enters argv."""
    if args.alertmanager_token_file:
        return FileToken(args.alertmanager_token_file)
    value = os.environ.get(TOKEN_ENV, "").strip()
    return StaticToken(value) if value else None


def web_app(memo: Any, status_page: StatusPageSettings | None = None) -> web.Application:
    """Compose the HTTP endpoints from the services build_memo put into kopf's memo.

    The status page index is created here and left in memo as ``status_page``, where the
    watch handlers of handlers/status_page.py (registered by importing it, above) feed it.
    """
    operator_metrics = memo.get("operator_metrics")
    memo.status_page = StatusPageIndex()
    return build_app(
        alertmanager=AlertmanagerWebhook(
            memo.get("alertmanager_service"), memo.get("alertmanager_token")
        ),
        metrics=MetricsEndpoint(operator_metrics) if operator_metrics is not None else None,
        status_page=StatusPageEndpoints(memo.status_page, SystemClock(), status_page),
    )


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
            manage_prometheus_rules=args.manage_prometheus_rules,
            prometheus_timeout=args.prometheus_timeout,
            http_listen=args.http_listen,
            alertmanager_token=alertmanager_token(args),
            alertmanager=AlertmanagerConfig(
                severity=dataclasses.replace(
                    args.alertmanager_severity_map, label=args.alertmanager_severity_label
                ),
                default_namespace=args.alertmanager_namespace,
                auto_resolve=args.alertmanager_auto_resolve,
            ),
        ),
        functools.partial(web_app, status_page=StatusPageSettings(title=args.status_page_title)),
    )
    return 0
