"""Start kopf with our settings and handlers, the operator context in its `memo`."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import kopf

from incident_operator.adapters.kubernetes import API_THREADS
from incident_operator.adapters.ports import TokenSource
from incident_operator.domain.cadence import STALENESS_SHARE
from incident_operator.domain.liveness import DEFAULT_WATCH_TIMEOUT
from incident_operator.services.alertmanager import AlertmanagerConfig
from incident_operator.services.chat_commands import ChatCommandConfig
from incident_operator.services.comms_facts import CommsConfig

from . import catalog as _catalog
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
from . import slo_bookkeeping as _slo_bookkeeping
from . import slo_loop as _slo_loop
from . import stakeholders as _stakeholders
from . import status as _status
from . import status_page as _status_page
from . import subscriptions as _subscriptions
from . import watch_cache as _watch_cache
from . import watch_liveness as _watch_liveness
from . import web_server as _web_server
from . import workflows as _workflows
from .context import OperatorContext, context_of, memo_of
from .postmortems import PostmortemOptions

# importing them registers the handlers
HANDLER_MODULES = (
    _settings,
    _status,
    _slo_loop,
    _slo_bookkeeping,
    _watch_liveness,
    _watch_cache,
    _prometheus_rules,
    _web_server,
    _incident_lifecycle,
    _response_policy,
    _comms,
    _stakeholders,
    _deletion,
    _rotation_status,
    _operator_metrics,
    _mitigation,
    _change_correlation,
    _workflows,
    _postmortems,
    _status_page,
    _subscriptions,
    _catalog,
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
    catalog_secret_namespace: str = ""
    """Where Teams' routing key Secrets live (the operator gets Secrets there only); empty:
    teams' keys are not read and every page uses the global key."""
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


@kopf.on.cleanup()
async def close_http_client(memo: kopf.Memo, **_: Any) -> None:
    http = context_of(memo).http
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


def run(options: RunOptions, build: Callable[[], OperatorContext]) -> None:
    """Configure kopf and run it until it stops, with the context ``build`` returns (called
    once kopf's logging is set up: app/composition.py's ``build_context``)."""
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
    asyncio.run(_operate(options, build()))


async def _operate(options: RunOptions, context: OperatorContext) -> None:
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
        memo=memo_of(context),
        lifecycle=_settings.LIFECYCLE,
    )
