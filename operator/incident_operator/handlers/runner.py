"""Start kopf with our settings, handlers and clients in `memo`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import kopf

from incident_operator.adapters.clock import SystemClock

from . import settings as _settings
from . import status as _status

HANDLER_MODULES = (_settings, _status)  # importing them registers the handlers


@dataclass(frozen=True)
class RunOptions:
    namespaces: Sequence[str] = ()
    liveness_endpoint: str = "http://0.0.0.0:8080/healthz"
    verbose: bool = False
    json_logs: bool = True


def run(options: RunOptions) -> None:
    kopf.configure(
        verbose=options.verbose,
        log_format=kopf.LogFormat.JSON if options.json_logs else kopf.LogFormat.FULL,
        log_refkey="object",
    )
    memo = kopf.Memo(clock=SystemClock())
    asyncio.run(
        kopf.operator(
            clusterwide=not options.namespaces,
            namespaces=list(options.namespaces),
            liveness_endpoint=options.liveness_endpoint,
            standalone=True,
            memo=memo,
        )
    )
