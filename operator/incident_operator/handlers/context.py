"""What the handlers work with: one typed object, built once by the composition root (app/).

kopf hands every handler its ``memo``; ours holds a single entry, the ``OperatorContext``,
read through :func:`context_of`. kopf gives each object a shallow copy of the memo, so every
copy shares the one context (and its mutable ``state``). Services and adapters that are not
configured are None; handlers then do nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
import kopf
from aiohttp import web

from incident_operator.adapters.expressions_port import Expressions
from incident_operator.adapters.ports import Clock, OperatorMetrics
from incident_operator.adapters.watch_cache import WatchedCollection, WatchedObjects
from incident_operator.domain.liveness import (
    DEFAULT_ALLOWED_MISSES,
    DEFAULT_WATCH_TIMEOUT,
    LoopProgress,
    WatchTimeouts,
    watch_timeouts,
)
from incident_operator.services.alertmanager import AlertmanagerService
from incident_operator.services.catalog import CatalogService
from incident_operator.services.change_correlation import ChangeCorrelationService
from incident_operator.services.chat_channels import ChannelIndex
from incident_operator.services.chat_commands import ChatCommandService
from incident_operator.services.checklists import ChecklistService
from incident_operator.services.comms import CommsService
from incident_operator.services.dashboard_marks import DashboardMarks
from incident_operator.services.deletion import DeletionService
from incident_operator.services.incident_lifecycle import IncidentLifecycleService
from incident_operator.services.mitigation import MitigationService
from incident_operator.services.open_incidents import OpenIncidentIndex
from incident_operator.services.postmortems import PostmortemService
from incident_operator.services.prometheus_rules import PrometheusRuleSync
from incident_operator.services.response_policy import ResponsePolicyService
from incident_operator.services.slo_bookkeeping import SloBookkeeping
from incident_operator.services.slo_evaluation import SloEvaluationService
from incident_operator.services.stakeholders import StakeholderService
from incident_operator.services.status_page import StatusPageIndex
from incident_operator.services.subscriptions import SubscriptionService
from incident_operator.services.uptime import UptimeService
from incident_operator.services.watch_activity import WatchActivity
from incident_operator.services.workflows import WorkflowIndex, WorkflowService

MEMO_KEY = "context"


@dataclass
class RuntimeState:
    """What handlers record while the operator runs: started at start-up, read by probes
    and stopped in cleanup."""

    slo_progress: LoopProgress | None = None
    """Stamped by every completed SLO cycle (handlers/slo_loop.py); None: no loop runs."""
    slo_task: asyncio.Task[None] | None = None
    slo_bookkeeping_task: asyncio.Task[None] | None = None
    """Writes the SLOs' Ready and ServiceResolved (handlers/slo_bookkeeping.py)."""
    slos_owed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when an SLO may be owed a bookkeeping write, or a Team or Service changed."""
    web_runner: web.AppRunner | None = None
    """The HTTP server, once it listens (handlers/web_server.py)."""
    gone_uids: dict[str, float] = field(default_factory=dict)
    """Deleted objects' uids and when (time.monotonic) (handlers/deletion.py)."""


@dataclass(frozen=True, kw_only=True)
class OperatorContext:
    """Every client, service and setting the handlers and the web app read."""

    clock: Clock
    evaluation_interval: float = 30.0
    """Seconds between SLO cycles."""
    liveness_allowed_misses: int = DEFAULT_ALLOWED_MISSES
    watch_timeouts: WatchTimeouts = field(
        default_factory=lambda: watch_timeouts(DEFAULT_WATCH_TIMEOUT)
    )
    http: httpx.AsyncClient | None = None
    """The HTTP client every outside service shares; closed in cleanup."""
    operator_metrics: OperatorMetrics | None = None
    watch_activity: WatchActivity | None = None
    open_incidents: OpenIncidentIndex | None = None
    severity_cache: WatchedObjects | None = None
    slo_cache: WatchedCollection | None = None
    team_cache: WatchedObjects | None = None
    service_cache: WatchedObjects | None = None
    catalog_service: CatalogService | None = None
    """Resolves incidents' services to Services and Teams (handlers/catalog.py)."""
    slo_bookkeeping: SloBookkeeping | None = None
    """Every SLO's observedGeneration, Ready and ServiceResolved (handlers/slo_bookkeeping.py)."""
    lifecycle_service: IncidentLifecycleService | None = None
    postmortem_service: PostmortemService | None = None
    dashboard_marks: DashboardMarks | None = None
    """None: no Grafana configured."""
    response_service: ResponsePolicyService | None = None
    mitigation_service: MitigationService | None = None
    change_service: ChangeCorrelationService | None = None
    deletion_service: DeletionService | None = None
    slo_service: SloEvaluationService | None = None
    """None: no Prometheus configured, SLOs are not evaluated."""
    rule_sync: PrometheusRuleSync | None = None
    """None: PrometheusRules are not managed."""
    alertmanager_service: AlertmanagerService | None = None
    """None: no webhook token configured."""
    comms_service: CommsService | None = None
    """None: no chat, pager or webhook configured."""
    chat_channels: ChannelIndex | None = None
    chat_commands: ChatCommandService | None = None
    stakeholder_service: StakeholderService | None = None
    """None: neither chat nor a webhook configured (handlers/stakeholders.py)."""
    status_page: StatusPageIndex | None = None
    """Fed by handlers/status_page.py, served by the web app; None without a web app."""
    subscription_service: SubscriptionService | None = None
    """Tells status page subscribers of public updates (handlers/subscriptions.py); None:
    no subscriber Secret configured."""
    expressions: Expressions | None = None
    """Compiles the workflows' CEL (their Ready condition); None: not checked."""
    workflow_index: WorkflowIndex | None = None
    """Fed by handlers/workflows.py from the watch of both workflow kinds."""
    workflow_service: WorkflowService | None = None
    checklist_service: ChecklistService | None = None
    """Keeps status.tasks in line with the roles' checklists (handlers/workflows.py's timer)."""
    uptime_service: UptimeService | None = None
    """The status page's uptime bars; None: no public component or no Prometheus."""
    web_app: web.Application | None = None
    http_listen: tuple[str, int] | None = None
    state: RuntimeState = field(default_factory=RuntimeState)


def memo_of(context: OperatorContext) -> kopf.Memo:
    """The memo kopf is started with: the context and nothing else."""
    return kopf.Memo({MEMO_KEY: context})


def context_of(memo: kopf.Memo) -> OperatorContext:
    """The context in a memo kopf handed a handler (or in its per-object copy)."""
    context = memo.get(MEMO_KEY)
    if not isinstance(context, OperatorContext):
        raise TypeError(f"memo holds no OperatorContext under {MEMO_KEY!r}: {context!r}")
    return context
