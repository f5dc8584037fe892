"""The composition root: every adapter and service the operator runs with, built once, here.

``build_context`` turns the options of ``incident-operator run`` into the
``OperatorContext`` (handlers/context.py) that kopf hands every handler in its memo; the web
app is composed from the same context. No other module builds an adapter for the operator.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx
from aiohttp import web
from kubernetes.client import ApiClient

from incident_operator.adapters.annotations_port import Annotations
from incident_operator.adapters.catalog import KubernetesCatalog, SecretPagers, SecretWebhooks
from incident_operator.adapters.cel import CelExpressions
from incident_operator.adapters.chat_views_port import DeclareChoices
from incident_operator.adapters.clock import SystemClock
from incident_operator.adapters.comms_ports import Notifier
from incident_operator.adapters.github_issues import GitHubIssues
from incident_operator.adapters.grafana import GrafanaAnnotations
from incident_operator.adapters.jira import JiraTracker
from incident_operator.adapters.kubernetes import KubernetesStore, api_client
from incident_operator.adapters.operator_metrics import PrometheusOperatorMetrics
from incident_operator.adapters.pagerduty import PagerDutyEvents
from incident_operator.adapters.ports import Clock, TokenSource
from incident_operator.adapters.postmortem_chart import MatplotlibCharts
from incident_operator.adapters.postmortem_store import KubernetesPostmortems
from incident_operator.adapters.prometheus import PrometheusMetrics
from incident_operator.adapters.prometheus_impact import PrometheusImpact
from incident_operator.adapters.prometheus_rule_store import PrometheusRuleStore
from incident_operator.adapters.prometheus_uptime import PrometheusDailyHistory
from incident_operator.adapters.smtp import Security, SmtpMailer
from incident_operator.adapters.subscriber_secret import SecretSubscriberList
from incident_operator.adapters.subscriber_webhooks import HttpSubscriberWebhook
from incident_operator.adapters.tickets_port import TicketTracker
from incident_operator.adapters.watch_cache import WatchedCollection, WatchedObjects
from incident_operator.adapters.webhooks import SignedWebhook, TeamsWebhook
from incident_operator.adapters.workflow_store import KubernetesWorkflowStore
from incident_operator.adapters.workloads import KubernetesWorkloads
from incident_operator.domain import outbox
from incident_operator.domain.liveness import watch_timeouts
from incident_operator.domain.status_page import Site
from incident_operator.domain.uptime import UptimeComponent
from incident_operator.handlers.context import OperatorContext
from incident_operator.handlers.postmortems import PostmortemOptions
from incident_operator.handlers.runner import CommsOptions, RunOptions
from incident_operator.services.alertmanager import AlertmanagerService
from incident_operator.services.catalog import CatalogService
from incident_operator.services.change_correlation import ChangeCorrelationService
from incident_operator.services.chat_channels import ChannelIndex
from incident_operator.services.chat_commands import ChatCommandService
from incident_operator.services.checklists import ChecklistService
from incident_operator.services.comms import CommsService
from incident_operator.services.dashboard_marks import DashboardMarks
from incident_operator.services.deletion import DeletionService
from incident_operator.services.freeze import FreezeService
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
from incident_operator.services.subscriptions import SubscriptionService, SubscriptionSettings
from incident_operator.services.uptime import UptimeService
from incident_operator.services.watch_activity import WatchActivity
from incident_operator.services.window_cadence import CadencedMetrics
from incident_operator.services.workflows import WorkflowIndex, WorkflowService
from incident_operator.web.alertmanager import AlertmanagerWebhook
from incident_operator.web.app import build_app
from incident_operator.web.metrics import Exposition, MetricsEndpoint
from incident_operator.web.slack import SlackEndpoints
from incident_operator.web.status_page import StatusPageEndpoints, StatusPageSettings
from incident_operator.web.subscriptions import SignupSettings, SubscriptionEndpoints

if TYPE_CHECKING:
    from incident_operator.adapters.slack import SlackChat


@dataclass(frozen=True)
class SubscriptionOptions:
    """Status page subscribers (docs/status-page.md, "Subscriptions")."""

    secret_namespace: str
    secret_name: str
    """The Secret holding the subscriber list (the chart's, in the operator's namespace)."""
    key: TokenSource
    """Signs unsubscribe links and confirmation tokens (a mounted Secret file)."""
    public_signup: bool = False
    """Offer the e-mail sign-up form to anyone (double opt-in; needs SMTP)."""
    smtp_host: str = ""
    """Empty: no e-mail (webhook subscribers only)."""
    smtp_port: int = 587
    smtp_security: Security = "starttls"
    smtp_from: str = ""
    smtp_username: str = ""
    smtp_password: TokenSource | None = None


@dataclass(frozen=True)
class WebOptions:
    """The HTTP server's own settings (web/ types, so not part of handlers' RunOptions)."""

    status_page: StatusPageSettings = field(default_factory=StatusPageSettings)
    status_page_id_key: TokenSource | None = None
    """Keys the status page's opaque incident ids; None: no key."""
    uptime_components: tuple[UptimeComponent, ...] = ()
    """Public components whose SLOs' daily availability the page shows (needs Prometheus)."""
    subscriptions: SubscriptionOptions | None = None
    """None: no subscribers (the page's subscribe link then points at the Atom feed)."""


def build_context(options: RunOptions, web_options: WebOptions | None = None) -> OperatorContext:
    """Every client the handlers use, built once; without ``web_options`` no web app."""
    clock = SystemClock()
    # One registry per operator, exposed by the web app's /metrics.
    operator_metrics = PrometheusOperatorMetrics()
    # One API client (one connection pool, one kubeconfig load) and one HTTP client for every
    # outside service; both are safe to share between the adapters.
    api = api_client()
    severities = WatchedObjects()
    slos = WatchedCollection()
    incident_store = KubernetesStore(api, options.namespaces, severities=severities, slos=slos)
    postmortems = KubernetesPostmortems(api)
    http = httpx.AsyncClient()
    lifecycle = IncidentLifecycleService(
        incident_store, clock, metrics=operator_metrics, postmortems=postmortems
    )
    tracker = build_tracker(options.postmortems, http)
    postmortem_service = PostmortemService(
        incident_store,
        postmortems,
        clock,
        impact=PrometheusImpact(options.prometheus_url, timeout=options.prometheus_timeout)
        if options.prometheus_url
        else None,
        charts=MatplotlibCharts(),
        tracker=tracker,
    )
    annotations = build_annotations(options.postmortems, http)
    workloads = KubernetesWorkloads(api, secret_metadata=options.secret_metadata)
    freezes = FreezeService(
        incident_store, workloads, clock, operator_namespaces=tuple(options.namespaces)
    )
    slo_service = None
    if options.prometheus_url:
        metrics = CadencedMetrics(
            PrometheusMetrics(options.prometheus_url, timeout=options.prometheus_timeout),
            options.window_staleness_share,
        )
        slo_service = SloEvaluationService(
            incident_store, metrics, clock, operator_metrics=operator_metrics, lifecycle=lifecycle
        )
    deletions = DeletionService(incident_store, freezes)
    freezes.before_side_effect = deletions.hold
    teams, services = WatchedObjects(), WatchedObjects()
    secret_namespace = options.comms.catalog_secret_namespace
    catalog_store = KubernetesCatalog(api, teams=teams, services=services)
    catalog = CatalogService(
        catalog_store,
        incident_store,
        clock,
        pagers=SecretPagers(api, http, secret_namespace, url=options.comms.pagerduty_url)
        if secret_namespace
        else None,
    )
    status_page = (
        StatusPageIndex(_value(web_options.status_page_id_key) or b"")
        if web_options is not None
        else None
    )
    comms = _build_comms(
        options.comms,
        incident_store,
        clock,
        http,
        deletions=deletions,
        catalog=catalog,
        choices=catalog_store,
        page=status_page,
    )
    if comms.chat is not None:
        catalog.attach_groups(comms.chat)  # teams' Slack user groups are invited too
    expressions = CelExpressions()
    workflow_index = WorkflowIndex(expressions)
    checklist_service = ChecklistService(incident_store, clock, workflow_index)
    if comms.service is not None:  # a checklist's instructions are read where written
        comms.service.attach_instructions(checklist_service.instructions)
    context = OperatorContext(
        clock=clock,
        evaluation_interval=options.evaluation_interval,
        liveness_allowed_misses=options.liveness_allowed_misses,
        watch_timeouts=watch_timeouts(timedelta(seconds=options.watch_timeout)),
        http=http,
        operator_metrics=operator_metrics,
        watch_activity=WatchActivity(clock, operator_metrics),
        open_incidents=OpenIncidentIndex(operator_metrics),
        severity_cache=severities,
        slo_cache=slos,
        team_cache=teams,
        service_cache=services,
        catalog_service=catalog,
        slo_bookkeeping=SloBookkeeping(incident_store, clock, catalog=catalog),
        lifecycle_service=lifecycle,
        postmortem_service=postmortem_service,
        dashboard_marks=DashboardMarks(annotations, postmortems)
        if annotations is not None
        else None,
        response_service=ResponsePolicyService(incident_store, clock, metrics=operator_metrics),
        mitigation_service=MitigationService(
            incident_store, workloads, clock, freezes=freezes, lifecycle=lifecycle
        ),
        change_service=ChangeCorrelationService(incident_store, workloads, workloads, clock),
        deletion_service=deletions,
        slo_service=slo_service,
        rule_sync=PrometheusRuleSync(PrometheusRuleStore(api))
        if options.manage_prometheus_rules
        else None,
        alertmanager_service=AlertmanagerService(
            incident_store, clock, options.alertmanager, lifecycle=lifecycle
        )
        if options.alertmanager_token is not None
        else None,
        comms_service=comms.service,
        chat_channels=comms.channels,
        chat_commands=comms.commands,
        stakeholder_service=comms.stakeholders,
        status_page=status_page,
        uptime_service=UptimeService(
            incident_store.list_slos,
            PrometheusDailyHistory(options.prometheus_url, timeout=options.prometheus_timeout),
            clock,
            web_options.uptime_components,
        )
        if web_options is not None and web_options.uptime_components and options.prometheus_url
        else None,
        subscription_service=build_subscriptions(
            web_options, incident_store, api, http, clock, index=status_page
        )
        if web_options is not None
        else None,
        http_listen=options.http_listen,
        expressions=expressions,
        workflow_index=workflow_index,
        workflow_service=WorkflowService(
            incident_store,
            KubernetesWorkflowStore(api),
            expressions,
            clock,
            workflow_index,
            tracker=tracker,
            catalog=catalog,
            groups=comms.chat,
            before_side_effect=deletions.hold,
            webhooks=SecretWebhooks(api, http, secret_namespace) if secret_namespace else None,
            action_items=postmortems,
        ),
        checklist_service=checklist_service,
    )
    if web_options is None:
        return context
    app = web_app(context, options, web_options, exposition=operator_metrics)
    return dataclasses.replace(context, web_app=app)


def web_app(
    context: OperatorContext,
    options: RunOptions,
    web_options: WebOptions,
    *,
    exposition: Exposition | None = None,
) -> web.Application:
    """The HTTP endpoints, composed from the context's services (and its status page index,
    which handlers/status_page.py feeds); ``exposition``: what GET /metrics serves."""
    if context.status_page is None:
        raise ValueError("the web app serves the context's status page index; it has none")
    comms = options.comms
    slack = SlackEndpoints(
        context.chat_commands,
        comms.slack_signing_secret,
        clock=context.clock,
        interactions=context.chat_commands,
    )
    app = build_app(
        alertmanager=AlertmanagerWebhook(context.alertmanager_service, options.alertmanager_token),
        metrics=MetricsEndpoint(exposition) if exposition is not None else None,
        status_page=StatusPageEndpoints(
            context.status_page,
            context.clock,
            web_options.status_page,
            uptime=context.uptime_service,
        ),
        slack=slack,
    )
    subscriptions(context, web_options).add_routes(app)
    executor, app_token = context.chat_commands, comms.slack_app_token
    if executor is not None and app_token is not None:
        # slack_sdk (~3.5 MB resident) is imported only where Slack is configured.
        from incident_operator.web.slack_socket import SlackSocketMode  # noqa: PLC0415

        socket = SlackSocketMode(slack, executor, app_token, api_url=comms.slack_api_url)
        app.on_startup.append(socket.start)
        app.on_cleanup.append(socket.stop)
    return app


def subscriptions(context: OperatorContext, web_options: WebOptions) -> SubscriptionEndpoints:
    """The subscribe, confirm and unsubscribe pages over the service's own list and mailer
    (one cache: an unsubscribe is seen by the next delivery); unconfigured, the subscribe
    page points at the Atom feed."""
    service = context.subscription_service
    index, uptime = context.status_page, context.uptime_service
    page = web_options.status_page

    def components() -> tuple[str, ...]:
        """What the form offers: the page's components (incidents' and public ones)."""
        names = {c.name for c in index.page(context.clock.now()).components} if index else set()
        return tuple(sorted(names | set(uptime.names if uptime else ())))

    options = web_options.subscriptions
    return SubscriptionEndpoints(
        service.subscribers if service else None,
        service.settings.key if service else None,
        context.clock,
        SignupSettings(
            Site(page.page_id, page.title, page.url), options.public_signup if options else False
        ),
        mailer=service.mailer if service else None,
        components=components,
    )


def build_subscriptions(
    web_options: WebOptions,
    store: KubernetesStore,
    api: ApiClient,
    http: httpx.AsyncClient,
    clock: Clock,
    *,
    index: StatusPageIndex | None = None,
) -> SubscriptionService | None:
    """The subscription service when a subscriber Secret is configured; its links must be
    absolute, so it needs the status page's public URL."""
    options = web_options.subscriptions
    if options is None:
        return None
    page = web_options.status_page
    if not page.url.startswith(("https://", "http://")):
        raise ValueError("status page subscriptions need --status-page-url (links in e-mails)")
    mailer = None
    if options.smtp_host:
        if not options.smtp_from:
            raise ValueError("e-mail subscriptions need --smtp-from")
        mailer = SmtpMailer(
            options.smtp_host,
            options.smtp_port,
            options.smtp_from,
            sender_name=page.title,
            username=options.smtp_username,
            password=options.smtp_password,
            security=options.smtp_security,
            clock=clock,
        )
    return SubscriptionService(
        store,
        SecretSubscriberList(api, options.secret_namespace, options.secret_name),
        clock,
        SubscriptionSettings(
            Site(page.page_id, page.title, page.url),
            options.key,
            id_key=_value(web_options.status_page_id_key) or b"",
        ),
        mailer=mailer,
        webhook=HttpSubscriberWebhook(http, clock=clock),
        page=index,
    )


def build_tracker(options: PostmortemOptions, http: httpx.AsyncClient) -> TicketTracker | None:
    """Jira when its URL, project and token are set, else GitHub when configured, else None."""
    if options.jira_url and options.jira_project and options.jira_token is not None:
        return JiraTracker(
            http,
            options.jira_url,
            options.jira_email,
            options.jira_token,
            options.jira_project,
            issue_type=options.jira_issue_type,
        )
    if options.github_repository and options.github_token is not None:
        return GitHubIssues(
            http, options.github_repository, options.github_token, api_url=options.github_api_url
        )
    return None


def build_annotations(options: PostmortemOptions, http: httpx.AsyncClient) -> Annotations | None:
    if not options.grafana_url:
        return None
    return GrafanaAnnotations(
        http,
        options.grafana_url,
        options.grafana_token,
        dashboard_uid=options.grafana_dashboard_uid or None,
    )


def _value(source: TokenSource | None) -> bytes | None:
    """A secret's value now (read once, at start-up)."""
    return source.current() if source is not None else None


def _text(source: TokenSource | None) -> str | None:
    value = _value(source)
    return value.decode() if value else None


@dataclass(frozen=True)
class _Comms:
    service: CommsService | None = None
    channels: ChannelIndex | None = None
    commands: ChatCommandService | None = None
    stakeholders: StakeholderService | None = None
    chat: SlackChat | None = None


def _build_comms(
    options: CommsOptions,
    store: KubernetesStore,
    clock: Clock,
    http: httpx.AsyncClient,
    *,
    deletions: DeletionService | None = None,
    catalog: CatalogService | None = None,
    choices: DeclareChoices | None = None,
    page: StatusPageIndex | None = None,
) -> _Comms:
    """Adapters for what is configured; nothing configured: no comms service at all."""
    chat = None
    channels = None
    commands = None
    if (token := _text(options.slack_token)) is not None:
        # slack_sdk (~3.5 MB resident) is imported only where Slack is configured.
        from incident_operator.adapters.slack import SlackChat  # noqa: PLC0415

        chat = SlackChat(token, base_url=options.slack_api_url)
        # Fed by handlers/comms.py's watch handler: routes commands and pins by status only.
        channels = ChannelIndex()
        commands = ChatCommandService(
            store,
            clock,
            chat,
            options.commands,
            channels=channels,
            views=chat,
            choices=choices,
            page=page,
        )
    pager = None
    if (key := _text(options.pagerduty_routing_key)) is not None:
        pager = PagerDutyEvents(http, key, url=options.pagerduty_url)
    notifiers: dict[str, Notifier] = {}
    if (teams := _text(options.teams_webhook_url)) is not None:
        notifiers["teams"] = TeamsWebhook(http, teams)
    if options.webhook_url:
        secret = _text(options.webhook_secret) or ""
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
        catalog=catalog,
    )
    if deletions is not None and service.enabled:
        deletions.attach_comms(
            service.sync,
            archive_on_close=options.config.archive_on_close,
            pages=outbox.Medium.PAGER in service.reachable,
            channels=outbox.Medium.CHAT in service.reachable,
        )
    stakeholders = StakeholderService(
        store, clock, chat=chat, notifiers=notifiers, config=options.config
    )
    return _Comms(
        service if service.enabled else None,
        channels,
        commands,
        stakeholders if stakeholders.enabled else None,
        chat,
    )
