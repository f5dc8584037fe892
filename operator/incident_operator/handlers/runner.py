"""Start kopf with our settings, handlers and clients in `memo`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import kopf

from incident_operator.adapters.clock import SystemClock
from incident_operator.adapters.kubernetes import KubernetesStore, api_client
from incident_operator.adapters.prometheus import PrometheusMetrics
from incident_operator.services.slo_evaluation import SloEvaluationService

from . import settings as _settings
from . import slo_loop as _slo_loop
from . import status as _status

HANDLER_MODULES = (_settings, _status, _slo_loop)  # importing them registers the handlers


@dataclass(frozen=True)
class RunOptions:
    namespaces: Sequence[str] = ()
    liveness_endpoint: str = "http://0.0.0.0:8080/healthz"
    verbose: bool = False
    json_logs: bool = True
    prometheus_url: str | None = None
    evaluation_interval: float = 30.0


def build_memo(options: RunOptions) -> kopf.Memo:
    """Every client the handlers use, built once; handlers find them in `memo`."""
    clock = SystemClock()
    memo = kopf.Memo(clock=clock, evaluation_interval=options.evaluation_interval)
    if options.prometheus_url:
        store = KubernetesStore(api_client())
        metrics = PrometheusMetrics(options.prometheus_url)
        memo.slo_service = SloEvaluationService(store, metrics, clock)
    return memo


def run(options: RunOptions) -> None:
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
            memo=build_memo(options),
        )
    )
