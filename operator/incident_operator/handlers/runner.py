"""Start kopf with our settings, handlers and clients in `memo`."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import kopf
from aiohttp import web

from incident_operator.adapters.clock import SystemClock
from incident_operator.adapters.comms_ports import Notifier
from incident_operator.adapters.kubernetes import API_THREADS, KubernetesStore, api_client
from incident_operator.adapters.operator_metrics import PrometheusOperatorMetrics
from incident_operator.adapters.pagerduty import PagerDutyEvents
from incident_operator.adapters.ports import TokenSource
from incident_operator.adapters.postmortem_chart import MatplotlibCharts
from incident_operator.adapters.postmortem_store import KubernetesPostmortems
from incident_operator.adapters.prometheus import PrometheusMetrics
from incident_operator.adapters.prometheus_impact import PrometheusImpact
from incident_operator.adapters.prometheus_rule_store import PrometheusRuleStore
from incident_operator.adapters.slack import SlackChat
from incident_operator.adapters.watch_cache import WatchedCollection, WatchedObjects
from incident_operator.adapters.webhooks import SignedWebhook, TeamsWebhook
from incident_operator.adapters.workloads import KubernetesWorkloads
from incident_operator.domain import outbox
from incident_operator.domain.cadence import STALENESS_SHARE
from incident_operator.domain.liveness import DEFAULT_WATCH_TIMEOUT, watch_timeouts
from incident_operator.services.alertmanager import AlertmanagerConfig, AlertmanagerService
from incident_operator.services.change_correlation import ChangeCorrelationService
from incident_operator.services.chat_channels import ChannelIndex
from incident_operator.services.chat_commands import ChatCommandConfig, ChatCommandService
from incident_operator.services.comms import CommsConfig, CommsService
from incident_operator.services.dashboard_marks import DashboardMarks
from incident_operator.services.deletion import DeletionService
from incident_operator.services.freeze import FreezeService
from incident_operator.services.incident_lifecycle import IncidentLifecycleService
from incident_operator.services.mitigation import MitigationService
from incident_operator.services.open_incidents import OpenIncidentIndex
from incident_operator.services.postmortems import PostmortemService
from incident_operator.services.prometheus_rules import PrometheusRuleSync
from incident_operator.services.response_policy import ResponsePolicyService
from incident_operator.services.slo_evaluation import SloEvaluationService
from incident_operator.services.watch_activity import WatchActivity
from incident_operator.services.window_cadence import CadencedMetrics

from . import change_correlation as _change_correlation
from . import comms as _comms
from . import deletion as _deletion
from . import incident_lifecycle as _incident_lifecycle
from . import mitigation as _mitigation
from . import operator_metrics as _operator_metrics
from . import postmortems as _postmortems
from . import prometheus_rules as _prometheus_rules
from . import response_policy as _response_policy
from . import rotation_status as _rotation_status
from . import settings as _settings
from . import slo_loop as _slo_loop
from . import status as _status
from . import watch_cache as _watch_cache
from . import watch_liveness as _watch_liveness
from . import web_server as _web_server
from .postmortems import PostmortemOptions, build_annotations, build_tracker

# importing them registers the handlers
HANDLER_MODULES = (
    _settings,
    _status,
    _slo_loop,
    _watch_liveness,
    _watch_cache,
    _prometheus_rules,
    _web_server,
    _incident_lifecycle,
    _response_policy,
    _comms,
    _deletion,
    _rotation_status,
    _operator_metrics,
    _mitigation,
    _change_correlation,
    _postmortems,
)


@dataclass(frozen=True)
class CommsOptions:
    """Where chat, pager and webhooks are; every secret is a TokenSource (a mounted Secret)."""

    slack_token: TokenSource | None = None
    slack_signing_secret: TokenSource | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_app_token: TokenSource | None = None
    """App-level token: inbound commands/events over Socket Mode (no public endpoint needed)."""
    pagerduty_routing_key: TokenSource | None = None
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"
    teams_webhook_url: TokenSource | None = None
    """The URL embeds Teams' token, so it is a secret too."""
    webhook_url: str = ""
    webhook_secret: TokenSource | None = None
    config: CommsConfig = field(default_factory=CommsConfig)
    commands: ChatCommandConfig = field(default_factory=ChatCommandConfig)


@dataclass(frozen=True)
class RunOptions:
    namespaces: Sequence[str] = ()
    peering: str | None = None
    """kopf peering object coordinating several replicas (one active, the others hot
    standbys); None: standalone, a single replica."""
    liveness_endpoint: str = "http://0.0.0.0:8080/healthz"
    verbose: bool = False
    json_logs: bool = True
    prometheus_url: str | None = None
    evaluation_interval: float = 30.0
    window_staleness_share: int = STALENESS_SHARE
    """A window is re-measured when its reading is older than 1/N of its length (0: always;
    domain/cadence.py)."""
    liveness_allowed_misses: int = 10
    """Evaluation intervals without a completed SLO cycle before liveness fails."""
    watch_timeout: float = DEFAULT_WATCH_TIMEOUT.total_seconds()
    """Seconds one watch request lasts; kopf's other watch timeouts and the watch liveness
    bound derive from it (domain/liveness.py)."""
    manage_prometheus_rules: bool = False
    secret_metadata: bool = True
    """Change correlation lists Secrets (metadata only); False: it says it did not."""
    prometheus_timeout: float = 30.0
    http_listen: tuple[str, int] | None = ("0.0.0.0", 8081)
    alertmanager_token: TokenSource | None = None
    """None: the webhook answers 503 (not configured)."""
    alertmanager: AlertmanagerConfig = field(default_factory=AlertmanagerConfig)
    comms: CommsOptions = field(default_factory=CommsOptions)
    postmortems: PostmortemOptions = field(default_factory=PostmortemOptions)


WebAppFactory = Callable[[kopf.Memo], web.Application]
"""Builds the aiohttp app from the services in memo (in app/: handlers may not import web)."""


def build_memo(options: RunOptions, web_app: WebAppFactory | None = None) -> kopf.Memo:
    """Every client the handlers use, built once; handlers find them in `memo`."""
    clock = SystemClock()
    memo = kopf.Memo(
        clock=clock,
        evaluation_interval=options.evaluation_interval,
        liveness_allowed_misses=options.liveness_allowed_misses,
        watch_timeouts=watch_timeouts(timedelta(seconds=options.watch_timeout)),
    )
    # One registry per operator, exposed by the web app's /metrics (see app/).
    operator_metrics = PrometheusOperatorMetrics()
    memo.operator_metrics = operator_metrics
    memo.watch_activity = WatchActivity(clock, operator_metrics)
    memo.open_incidents = OpenIncidentIndex(operator_metrics)
    # One API client (one connection pool, one kubeconfig load) and one HTTP client for every
    # outside service; both are safe to share between the adapters.
    api = api_client()
    memo.severity_cache = severities = WatchedObjects()
    memo.slo_cache = slos = WatchedCollection()
    incident_store = KubernetesStore(api, options.namespaces, severities=severities, slos=slos)
    postmortems = KubernetesPostmortems(api)
    memo.http = http = httpx.AsyncClient()
    memo.lifecycle_service = lifecycle = IncidentLifecycleService(
        incident_store, clock, metrics=operator_metrics, postmortems=postmortems
    )
    memo.postmortem_service = PostmortemService(
        incident_store,
        postmortems,
        clock,
        impact=PrometheusImpact(options.prometheus_url, timeout=options.prometheus_timeout)
        if options.prometheus_url
        else None,
        charts=MatplotlibCharts(),
        tracker=build_tracker(options.postmortems, http),
    )
    annotations = build_annotations(options.postmortems, http)
    if annotations is not None:
        memo.dashboard_marks = DashboardMarks(annotations, postmortems)
    memo.response_service = ResponsePolicyService(incident_store, clock, metrics=operator_metrics)
    workloads = KubernetesWorkloads(api, secret_metadata=options.secret_metadata)
    memo.freeze_service = freezes = FreezeService(
        incident_store, workloads, clock, operator_namespaces=tuple(options.namespaces)
    )
    memo.mitigation_service = MitigationService(
        incident_store, workloads, clock, freezes=freezes, lifecycle=lifecycle
    )
    memo.change_service = ChangeCorrelationService(incident_store, workloads, workloads, clock)
    if options.prometheus_url:
        metrics = CadencedMetrics(
            PrometheusMetrics(options.prometheus_url, timeout=options.prometheus_timeout),
            options.window_staleness_share,
        )
        memo.slo_service = SloEvaluationService(
            incident_store, metrics, clock, operator_metrics=operator_metrics, lifecycle=lifecycle
        )
    if options.manage_prometheus_rules:
        memo.rule_sync = PrometheusRuleSync(PrometheusRuleStore(api))
    memo.http_listen = options.http_listen
    memo.alertmanager_token = options.alertmanager_token
    if options.alertmanager_token is not None:
        memo.alertmanager_service = AlertmanagerService(
            incident_store, clock, options.alertmanager, lifecycle=lifecycle
        )
    memo.deletion_service = deletions = DeletionService(incident_store, freezes)
    freezes.before_side_effect = deletions.hold
    _build_comms(memo, options.comms, incident_store, clock, http, deletions=deletions)
    memo.web_app = web_app(memo) if web_app is not None else None
    return memo


def _secret(source: TokenSource | None) -> str | None:
    value = source.current() if source is not None else None
    return value.decode() if value else None


def _build_comms(
    memo: kopf.Memo,
    options: CommsOptions,
    store: KubernetesStore,
    clock: SystemClock,
    http: httpx.AsyncClient,
    *,
    deletions: DeletionService | None = None,
) -> None:
    """Adapters for what is configured; nothing configured: no comms service at all."""
    chat = None
    channels = None
    if (token := _secret(options.slack_token)) is not None:
        chat = SlackChat(token, base_url=options.slack_api_url)
        # Fed by handlers/comms.py's watch handler: routes commands and pins by status only.
        memo.chat_channels = channels = ChannelIndex()
        memo.chat_commands = ChatCommandService(
            store, clock, chat, options.commands, channels=channels
        )
    memo.slack_signing_secret = options.slack_signing_secret
    memo.slack_app_token = options.slack_app_token
    memo.slack_api_url = options.slack_api_url
    pager = None
    if (key := _secret(options.pagerduty_routing_key)) is not None:
        pager = PagerDutyEvents(http, key, url=options.pagerduty_url)
    notifiers: dict[str, Notifier] = {}
    if (teams := _secret(options.teams_webhook_url)) is not None:
        notifiers["teams"] = TeamsWebhook(http, teams)
    if options.webhook_url:
        secret = _secret(options.webhook_secret) or ""
        notifiers["webhook"] = SignedWebhook(http, options.webhook_url, secret.encode())
    service = CommsService(
        store,
        clock,
        chat=chat,
        pager=pager,
        notifiers=notifiers,
        config=options.config,
        channels=channels,
        before_side_effect=deletions.hold if deletions is not None else None,
    )
    memo.comms_service = service if service.enabled else None
    if deletions is not None and service.enabled:
        deletions.attach_comms(
            service.sync,
            archive_on_close=options.config.archive_on_close,
            pages=outbox.Medium.PAGER in service.reachable,
            channels=outbox.Medium.CHAT in service.reachable,
        )


@kopf.on.cleanup()
async def close_http_client(memo: kopf.Memo, **_: Any) -> None:
    http: httpx.AsyncClient | None = memo.get("http")
    if http is not None:
        await http.aclose()


class RoutineSuccess(logging.Filter):
    """Drops kopf's "Handler 'x' succeeded." / "Timer 'x' succeeded." lines (INFO).

    kopf writes one per handler per watch event and per timer tick: with 100 incidents
    changing at once that was most of the log and ~13 % of the event loop's time (py-spy,
    docs/benchmarks.md). Failures, retries and "is processed" summaries stay; ``--verbose``
    keeps everything.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.levelno == logging.INFO
            and isinstance(record.msg, str)
            and record.msg.endswith("' succeeded.")
        )


def run(options: RunOptions, web_app: WebAppFactory | None = None) -> None:
    kopf.configure(
        verbose=options.verbose,
        log_format=kopf.LogFormat.JSON if options.json_logs else kopf.LogFormat.FULL,
        log_refkey="object",
    )
    if not options.verbose:
        logging.getLogger("kopf.objects").addFilter(RoutineSuccess())
    if options.manage_prometheus_rules:
        _prometheus_rules.register(kopf.get_default_registry())
    # After every handler module registered its timers: none of them adds kopf's finalizer.
    _deletion.disown_timers(kopf.get_default_registry())
    asyncio.run(_operate(options, build_memo(options, web_app)))


async def _operate(options: RunOptions, memo: kopf.Memo) -> None:
    # The official client blocks: every API call runs in the loop's default executor, which
    # asyncio sizes for CPU work (cores + 4: 6 threads here). 100 incidents changing at once
    # queued behind those 6; the calls wait on the network, so size the pool (and the
    # client's connection pool, api_client) for I/O.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=API_THREADS, thread_name_prefix="api")
    )
    await kopf.operator(
        clusterwide=not options.namespaces,
        namespaces=list(options.namespaces),
        liveness_endpoint=options.liveness_endpoint,
        standalone=options.peering is None,
        peering_name=options.peering,
        # Distinct priorities: the highest live replica works, the others stand by (equal
        # priorities would pause every replica).
        priority=secrets.randbelow(2**31) + 1 if options.peering else 0,
        memo=memo,
    )
