"""Start kopf with our settings, handlers and clients in `memo`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import kopf
from aiohttp import web

from incident_operator.adapters.clock import SystemClock
from incident_operator.adapters.kubernetes import KubernetesStore, api_client
from incident_operator.adapters.operator_metrics import PrometheusOperatorMetrics
from incident_operator.adapters.ports import TokenSource
from incident_operator.adapters.prometheus import PrometheusMetrics
from incident_operator.adapters.prometheus_rule_store import PrometheusRuleStore
from incident_operator.services.alertmanager import AlertmanagerConfig, AlertmanagerService
from incident_operator.services.incident_lifecycle import IncidentLifecycleService
from incident_operator.services.open_incidents import OpenIncidentIndex
from incident_operator.services.prometheus_rules import PrometheusRuleSync
from incident_operator.services.response_policy import ResponsePolicyService
from incident_operator.services.slo_evaluation import SloEvaluationService

from . import incident_lifecycle as _incident_lifecycle
from . import operator_metrics as _operator_metrics
from . import prometheus_rules as _prometheus_rules
from . import response_policy as _response_policy
from . import rotation_status as _rotation_status
from . import settings as _settings
from . import slo_loop as _slo_loop
from . import status as _status
from . import web_server as _web_server

# importing them registers the handlers
HANDLER_MODULES = (
    _settings,
    _status,
    _slo_loop,
    _prometheus_rules,
    _web_server,
    _incident_lifecycle,
    _response_policy,
    _rotation_status,
    _operator_metrics,
)


@dataclass(frozen=True)
class RunOptions:
    namespaces: Sequence[str] = ()
    liveness_endpoint: str = "http://0.0.0.0:8080/healthz"
    verbose: bool = False
    json_logs: bool = True
    prometheus_url: str | None = None
    evaluation_interval: float = 30.0
    manage_prometheus_rules: bool = False
    prometheus_timeout: float = 30.0
    http_listen: tuple[str, int] | None = ("0.0.0.0", 8081)
    alertmanager_token: TokenSource | None = None
    """None: the webhook answers 503 (not configured)."""
    alertmanager: AlertmanagerConfig = field(default_factory=AlertmanagerConfig)


WebAppFactory = Callable[[kopf.Memo], web.Application]
"""Builds the aiohttp app from the services in memo (in app/: handlers may not import web)."""


def build_memo(options: RunOptions, web_app: WebAppFactory | None = None) -> kopf.Memo:
    """Every client the handlers use, built once; handlers find them in `memo`."""
    clock = SystemClock()
    memo = kopf.Memo(clock=clock, evaluation_interval=options.evaluation_interval)
    # One registry per operator, exposed by the web app's /metrics (see app/).
    operator_metrics = PrometheusOperatorMetrics()
    memo.operator_metrics = operator_metrics
    memo.open_incidents = OpenIncidentIndex(operator_metrics)
    incident_store = KubernetesStore(api_client())
    memo.lifecycle_service = IncidentLifecycleService(
        incident_store, clock, metrics=operator_metrics
    )
    memo.response_service = ResponsePolicyService(incident_store, clock, metrics=operator_metrics)
    if options.prometheus_url:
        store = KubernetesStore(api_client())
        metrics = PrometheusMetrics(options.prometheus_url, timeout=options.prometheus_timeout)
        memo.slo_service = SloEvaluationService(
            store, metrics, clock, operator_metrics=operator_metrics
        )
    if options.manage_prometheus_rules:
        memo.rule_sync = PrometheusRuleSync(PrometheusRuleStore(api_client()))
    memo.http_listen = options.http_listen
    memo.alertmanager_token = options.alertmanager_token
    if options.alertmanager_token is not None:
        memo.alertmanager_service = AlertmanagerService(
            KubernetesStore(api_client()), clock, options.alertmanager
        )
    memo.web_app = web_app(memo) if web_app is not None else None
    return memo


def run(options: RunOptions, web_app: WebAppFactory | None = None) -> None:
    kopf.configure(
        verbose=options.verbose,
        log_format=kopf.LogFormat.JSON if options.json_logs else kopf.LogFormat.FULL,
        log_refkey="object",
    )
    asyncio.run(
        kopf.operator(
            clusterwide=not options.namespaces,
            namespaces=list(options.namespaces),
            liveness_endpoint=options.liveness_endpoint,
            standalone=True,
            memo=build_memo(options, web_app),
        )
    )
