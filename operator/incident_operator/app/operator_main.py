"""`incident-operator run`: the operator process."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
import os
import sys
from datetime import timedelta

from incident_operator import __version__
from incident_operator.adapters.native_memory import limit_arenas
from incident_operator.adapters.ports import TokenSource
from incident_operator.adapters.secrets import FileToken, StaticToken
from incident_operator.domain.alertmanager import (
    DNS_LABEL,
    SeverityPolicy,
    parse_severity_map,
)
from incident_operator.domain.chat_declare import DeclarePolicy
from incident_operator.domain.durations import parse_duration
from incident_operator.domain.liveness import watch_timeouts
from incident_operator.domain.subscriptions import SUBSCRIBE_PATH
from incident_operator.domain.uptime import UptimeComponent, parse_component
from incident_operator.handlers.postmortems import PostmortemOptions
from incident_operator.handlers.runner import CommsOptions, RunOptions, run
from incident_operator.services.alertmanager import AlertmanagerConfig
from incident_operator.services.chat_commands import ChatCommandConfig
from incident_operator.services.comms_facts import CommsConfig
from incident_operator.web.app import RoutineProbes
from incident_operator.web.status_page import StatusPageSettings
from incident_operator.web.status_page_html import FooterLink, Look, brand_colour, logo_url

from .composition import SubscriptionOptions, WebOptions, build_context

TOKEN_ENV = "INCIDENT_OPERATOR_ALERTMANAGER_TOKEN"
DEFAULT_SEVERITY_MAP = "critical=sev-1,error=sev-2,warning=sev-3,info=sev-4,*=sev-3"


def _seconds(text: str) -> float:
    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _watch_timeout(text: str) -> float:
    seconds = _seconds(text)
    try:
        watch_timeouts(timedelta(seconds=seconds))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return seconds


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


def _component(text: str) -> UptimeComponent:
    try:
        component = parse_component(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    for namespace in component.namespaces:
        _namespace(namespace)
    return component


def _logo_url(text: str) -> str:
    """Empty (the default, or a chart value left empty): no logo."""
    try:
        return logo_url(text) if text else ""
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _brand_colour(text: str) -> str:
    try:
        return brand_colour(text) if text else ""
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
        "--window-staleness-share",
        default=720,
        type=int,
        help="re-measure a window when its last reading is older than 1/N of its length "
        "(a day: 2 min, 30 days: 1 h); 0 measures every window every cycle "
        "(default %(default)s; docs/slo-evaluation.md)",
    )
    run_cmd.add_argument(
        "--liveness-missed-cycles",
        default=10,
        type=int,
        help="evaluation intervals without a completed SLO cycle (Prometheus unavailable "
        "still completes one) after which the liveness endpoint fails, so Kubernetes "
        "restarts a wedged operator (default %(default)s)",
    )
    run_cmd.add_argument(
        "--watch-timeout",
        default="1m",
        type=_watch_timeout,
        help="how long one watch request to the API server lasts before kopf renews it; a "
        "request silent for this + 10s is replaced, and the liveness endpoint fails when a "
        "watch stream delivered nothing (no answered request, event or bookmark) for three "
        "such windows (default %(default)s: 210 s; see docs/liveness.md)",
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
    comms = run_cmd.add_argument_group(
        "Chat, paging and webhooks (secrets only from files, e.g. mounted Secrets, or env)"
    )
    comms.add_argument(
        "--slack-token-file", help=f"Slack bot token (env {SECRET_ENV['slack_token']})"
    )
    comms.add_argument(
        "--slack-signing-secret-file",
        help=f"Slack signing secret for /slack/commands and /slack/events "
        f"(env {SECRET_ENV['slack_signing_secret']})",
    )
    comms.add_argument(
        "--slack-app-token-file",
        help="Slack app-level token (xapp-...): take /incident and events over Socket Mode "
        f"instead of the HTTP endpoints (env {SECRET_ENV['slack_app_token']})",
    )
    comms.add_argument("--slack-api-url", default=CommsOptions.slack_api_url)
    comms.add_argument(
        "--chat-channel-template",
        default=CommsConfig.channel_template,
        help="incident channel name; {date} {slug} {name} {namespace} {severity} "
        "(default %(default)s)",
    )
    comms.add_argument(
        "--bridge-url-template",
        default="",
        help="conference room per incident, e.g. https://meet.example.com/{namespace}-{name}",
    )
    comms.add_argument(
        "--keep-channels", action="store_true", help="do not archive channels on close"
    )
    comms.add_argument(
        "--status-page-url",
        default="",
        help="public URL of GET /status: linked from chat and the base of the status page's "
        "absolute URLs (never taken from a request's Host header; empty: relative links)",
    )
    comms.add_argument(
        "--chat-namespace",
        default="default",
        type=_namespace,
        help="namespace of incidents declared with /incident declare (default %(default)s)",
    )
    comms.add_argument(
        "--chat-declare-namespaces",
        default="",
        help="namespaces whose Services Slack users may declare incidents on, comma-separated "
        "('*': every namespace); the incident is created in the Service's namespace. "
        "Default: none (/incident declare then creates in --chat-namespace without a service)",
    )
    comms.add_argument(
        "--chat-default-severity",
        default="sev-3",
        help="Severity of /incident declare without one (default %(default)s)",
    )
    comms.add_argument(
        "--pagerduty-routing-key-file",
        help=f"PagerDuty Events v2 routing key (env {SECRET_ENV['pagerduty_routing_key']})",
    )
    comms.add_argument("--pagerduty-url", default=CommsOptions.pagerduty_url)
    comms.add_argument(
        "--catalog-secret-namespace",
        default="",
        help="namespace of the Secrets Teams name for their PagerDuty routing keys (the only "
        "namespace the operator reads Secrets from); empty: every page uses the global key",
    )
    comms.add_argument(
        "--teams-webhook-url-file",
        help=f"Teams incoming webhook URL (it embeds a token) "
        f"(env {SECRET_ENV['teams_webhook_url']})",
    )
    comms.add_argument("--webhook-url", default="", help="generic JSON webhook, HMAC-signed")
    comms.add_argument(
        "--webhook-secret-file",
        help=f"HMAC-SHA256 key of the generic webhook (env {SECRET_ENV['webhook_secret']})",
    )
    add_postmortem_arguments(run_cmd)
    run_cmd.add_argument(
        "--status-page-title",
        default=StatusPageSettings.title,
        help="name of the status page (GET /status and /api/v2/*.json on --http-listen) "
        "(default %(default)s)",
    )
    run_cmd.add_argument(
        "--status-page-logo-url",
        default="",
        type=_logo_url,
        help="logo beside the status page's name: an https URL or a path on the page's own "
        "origin (/...); default: none",
    )
    run_cmd.add_argument(
        "--status-page-brand-colour",
        default="",
        type=_brand_colour,
        metavar="#RRGGBB",
        help="colour of the status page's header (its text turns black or white, whichever "
        "contrasts more); default: the neutral light or dark palette",
    )
    run_cmd.add_argument(
        "--status-page-component",
        action="append",
        default=[],
        type=_component,
        metavar="SERVICE=NAMESPACE[,NAMESPACE...]",
        help="a public component on the status page with 90 days of uptime bars, measured "
        "by the SLOs whose spec.service is SERVICE in the NAMESPACEs (repeatable; needs "
        "--prometheus-url)",
    )
    run_cmd.add_argument(
        "--status-page-id-key-file",
        help="key of the status page's opaque incident ids (HMAC over namespace, name and "
        "uid); keep it across restarts, ids depend on it "
        f"(env {SECRET_ENV['status_page_id_key']}; default: no key, ids stay opaque "
        "through the uid)",
    )
    add_subscription_arguments(run_cmd)
    run_cmd.add_argument(
        "--manage-prometheus-rules",
        action="store_true",
        help="keep a PrometheusRule (Sloth-named rules) per SLO where prometheus-operator's "
        "CRD exists",
    )
    run_cmd.add_argument(
        "--no-secret-metadata",
        dest="secret_metadata",
        action="store_false",
        help="never list Secrets (not even their metadata) for change correlation: the "
        "ServiceAccount may not (chart rbac.secretMetadata: false)",
    )
    run_cmd.add_argument(
        "--peering",
        metavar="NAME",
        help="run as one of several replicas coordinated by kopf peering through the "
        "(Cluster)KopfPeering object NAME: one is active, the others are hot standbys "
        "(default: standalone, a single replica)",
    )
    run_cmd.add_argument("--verbose", action="store_true")
    run_cmd.add_argument("--plain-logs", action="store_true", help="human-readable, not JSON")
    return parser.parse_args(argv)


SECRET_ENV = {
    "alertmanager_token": TOKEN_ENV,
    "slack_token": "INCIDENT_OPERATOR_SLACK_TOKEN",
    "slack_signing_secret": "INCIDENT_OPERATOR_SLACK_SIGNING_SECRET",
    "slack_app_token": "INCIDENT_OPERATOR_SLACK_APP_TOKEN",
    "pagerduty_routing_key": "INCIDENT_OPERATOR_PAGERDUTY_ROUTING_KEY",
    "teams_webhook_url": "INCIDENT_OPERATOR_TEAMS_WEBHOOK_URL",
    "webhook_secret": "INCIDENT_OPERATOR_WEBHOOK_SECRET",
    "status_page_id_key": "INCIDENT_OPERATOR_STATUS_PAGE_ID_KEY",
    "subscriptions_key": "INCIDENT_OPERATOR_SUBSCRIPTIONS_KEY",
    "smtp_password": "INCIDENT_OPERATOR_SMTP_PASSWORD",
    "jira_token": "INCIDENT_OPERATOR_JIRA_TOKEN",
    "github_token": "INCIDENT_OPERATOR_GITHUB_TOKEN",
    "grafana_token": "INCIDENT_OPERATOR_GRAFANA_TOKEN",
}
"""The environment variable each secret is read from when no file is given."""


def secret(path: str | None, name: str) -> TokenSource | None:
    """A secret from its file, else from its environment variable, else None; the value
    itself never enters argv."""
    if path:
        return FileToken(path)
    value = os.environ.get(SECRET_ENV[name], "").strip()
    return StaticToken(value) if value else None


def alertmanager_token(args: argparse.Namespace) -> TokenSource | None:
    return secret(args.alertmanager_token_file, "alertmanager_token")


def comms_options(args: argparse.Namespace) -> CommsOptions:
    return CommsOptions(
        slack_token=secret(args.slack_token_file, "slack_token"),
        slack_signing_secret=secret(args.slack_signing_secret_file, "slack_signing_secret"),
        slack_api_url=args.slack_api_url,
        slack_app_token=secret(args.slack_app_token_file, "slack_app_token"),
        pagerduty_routing_key=secret(args.pagerduty_routing_key_file, "pagerduty_routing_key"),
        pagerduty_url=args.pagerduty_url,
        catalog_secret_namespace=args.catalog_secret_namespace,
        teams_webhook_url=secret(args.teams_webhook_url_file, "teams_webhook_url"),
        webhook_url=args.webhook_url,
        webhook_secret=secret(args.webhook_secret_file, "webhook_secret"),
        config=CommsConfig(
            channel_template=args.chat_channel_template,
            bridge_url_template=args.bridge_url_template,
            archive_on_close=not args.keep_channels,
            status_page_url=args.status_page_url,
        ),
        commands=ChatCommandConfig(
            default_namespace=args.chat_namespace,
            default_severity=args.chat_default_severity,
            declare=DeclarePolicy.parse(args.chat_declare_namespaces),
        ),
    )


def add_postmortem_arguments(run_cmd: argparse.ArgumentParser) -> None:
    group = run_cmd.add_argument_group(
        "Postmortem follow-up tickets (Jira or GitHub Issues) and Grafana annotations"
    )
    group.add_argument("--jira-url", default="", help="e.g. https://example.atlassian.net")
    group.add_argument("--jira-project", default="", help="project key of action item tickets")
    group.add_argument("--jira-email", default="", help="account of the API token")
    group.add_argument("--jira-issue-type", default=PostmortemOptions.jira_issue_type)
    group.add_argument("--jira-token-file", help=f"Jira API token (env {SECRET_ENV['jira_token']})")
    group.add_argument("--github-repository", default="", help="OWNER/REPO for action items")
    group.add_argument("--github-api-url", default=PostmortemOptions.github_api_url)
    group.add_argument(
        "--github-token-file",
        help=f"GitHub token with issues: write (env {SECRET_ENV['github_token']})",
    )
    group.add_argument("--grafana-url", default="", help="mark incidents on Grafana dashboards")
    group.add_argument("--grafana-dashboard-uid", default="", help="default: organisation-wide")
    group.add_argument(
        "--grafana-token-file",
        help=f"service account token (env {SECRET_ENV['grafana_token']})",
    )


def add_subscription_arguments(run_cmd: argparse.ArgumentParser) -> None:
    group = run_cmd.add_argument_group(
        "Status page subscribers: webhooks and e-mail (docs/status-page.md, Subscriptions)"
    )
    group.add_argument(
        "--subscribers-secret",
        default=None,
        type=_secret_ref,
        metavar="NAMESPACE/NAME",
        help="the Secret holding the subscriber list (key subscribers.json); the operator "
        "reads it and writes it on sign-up and unsubscribe. Needs --status-page-url and "
        "--subscriptions-key-file; empty: no subscriptions",
    )
    group.add_argument(
        "--subscriptions-key-file",
        help="key signing unsubscribe links and confirmation tokens; keep it: links in sent "
        f"e-mails depend on it (env {SECRET_ENV['subscriptions_key']})",
    )
    group.add_argument(
        "--status-page-subscribe",
        action="store_true",
        help="offer e-mail sign-up to anyone on the status page (double opt-in; needs SMTP)",
    )
    group.add_argument("--smtp-host", default="", help="mail server; empty: no e-mail")
    group.add_argument("--smtp-port", type=int, default=587, help="(default %(default)s)")
    group.add_argument(
        "--smtp-security",
        choices=("starttls", "tls", "none"),
        default="starttls",
        help="starttls (587), tls (implicit, 465) or none (a local relay only) "
        "(default %(default)s)",
    )
    group.add_argument("--smtp-from", default="", help="sender address, e.g. status@example.com")
    group.add_argument("--smtp-username", default="", help="empty: no login")
    group.add_argument(
        "--smtp-password-file", help=f"SMTP password (env {SECRET_ENV['smtp_password']})"
    )


def _secret_ref(text: str) -> tuple[str, str] | None:
    if not text:
        return None
    namespace, _, name = text.partition("/")
    if not namespace or not name or "/" in name:
        raise argparse.ArgumentTypeError(f"expected NAMESPACE/NAME, got {text!r}")
    return namespace, name


def status_page_settings(args: argparse.Namespace, subscriptions: bool) -> StatusPageSettings:
    """The page's settings; with ``subscriptions`` running its footer links the subscribe
    page (sign-up where public, and how to get updates otherwise)."""
    return StatusPageSettings(
        title=args.status_page_title,
        url=args.status_page_url,
        look=Look(args.status_page_logo_url, args.status_page_brand_colour),
        subscribe=(FooterLink("updates", SUBSCRIBE_PATH),) if subscriptions else (),
    )


def subscription_options(args: argparse.Namespace) -> SubscriptionOptions | None:
    if args.subscribers_secret is None:
        return None
    key = secret(args.subscriptions_key_file, "subscriptions_key")
    if key is None:
        raise SystemExit("--subscribers-secret needs --subscriptions-key-file")
    namespace, name = args.subscribers_secret
    return SubscriptionOptions(
        secret_namespace=namespace,
        secret_name=name,
        key=key,
        public_signup=args.status_page_subscribe,
        smtp_host=args.smtp_host,
        smtp_port=args.smtp_port,
        smtp_security=args.smtp_security,
        smtp_from=args.smtp_from,
        smtp_username=args.smtp_username,
        smtp_password=secret(args.smtp_password_file, "smtp_password"),
    )


def postmortem_options(args: argparse.Namespace) -> PostmortemOptions:
    return PostmortemOptions(
        jira_url=args.jira_url,
        jira_project=args.jira_project,
        jira_email=args.jira_email,
        jira_token=secret(args.jira_token_file, "jira_token"),
        jira_issue_type=args.jira_issue_type,
        github_repository=args.github_repository,
        github_token=secret(args.github_token_file, "github_token"),
        github_api_url=args.github_api_url,
        grafana_url=args.grafana_url,
        grafana_token=secret(args.grafana_token_file, "grafana_token"),
        grafana_dashboard_uid=args.grafana_dashboard_uid,
    )


def main(argv: list[str] | None = None) -> int:
    limit_arenas()  # before the client's thread pool starts (adapters/native_memory.py)
    args = parse(sys.argv[1:] if argv is None else argv)
    if not args.verbose:
        logging.getLogger("aiohttp.access").addFilter(RoutineProbes())
    options = RunOptions(
        namespaces=tuple(args.namespace),
        peering=args.peering,
        liveness_endpoint=args.liveness,
        verbose=args.verbose,
        json_logs=not args.plain_logs,
        prometheus_url=args.prometheus_url,
        evaluation_interval=args.evaluation_interval,
        window_staleness_share=max(0, args.window_staleness_share),
        liveness_allowed_misses=max(1, args.liveness_missed_cycles),
        watch_timeout=args.watch_timeout,
        manage_prometheus_rules=args.manage_prometheus_rules,
        secret_metadata=args.secret_metadata,
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
        comms=comms_options(args),
        postmortems=postmortem_options(args),
    )
    subscriptions = subscription_options(args)
    web = WebOptions(
        status_page=status_page_settings(args, subscriptions is not None),
        status_page_id_key=secret(args.status_page_id_key_file, "status_page_id_key"),
        uptime_components=tuple(args.status_page_component),
        subscriptions=subscriptions,
    )
    run(options, functools.partial(build_context, options, web))
    return 0
