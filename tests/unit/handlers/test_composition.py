"""The composition root (app/composition.py): what each option adds to the operator context."""

from __future__ import annotations

import copy
import dataclasses

import kopf
import pytest
from kubernetes import client

from incident_operator.adapters.secrets import StaticToken
from incident_operator.app import composition
from incident_operator.app.composition import SubscriptionOptions, WebOptions, build_context
from incident_operator.domain.uptime import UptimeComponent
from incident_operator.handlers.context import OperatorContext, context_of, memo_of
from incident_operator.handlers.postmortems import PostmortemOptions
from incident_operator.handlers.runner import CommsOptions, RunOptions
from incident_operator.web.status_page import StatusPageSettings

SUBSCRIPTIONS = SubscriptionOptions(
    secret_namespace="incident-operator",
    secret_name="incident-operator-subscribers",
    key=StaticToken("subscriptions"),
    public_signup=True,
    smtp_host="smtp.example.com",
    smtp_from="status@example.com",
)

ALWAYS = {
    "http",
    "operator_metrics",
    "watch_activity",
    "open_incidents",
    "severity_cache",
    "slo_cache",
    "team_cache",
    "service_cache",
    "catalog_service",
    "slo_bookkeeping",
    "lifecycle_service",
    "postmortem_service",
    "response_service",
    "mitigation_service",
    "change_service",
    "deletion_service",
    "http_listen",
    "expressions",
    "workflow_index",
    "workflow_service",
    "checklist_service",
}
"""Built whatever is configured."""


@pytest.fixture(autouse=True)
def no_kubeconfig(monkeypatch: pytest.MonkeyPatch) -> None:
    """An API client that is never called: building must not reach a cluster."""
    monkeypatch.setattr(composition, "api_client", lambda: client.ApiClient(client.Configuration()))


def unset(context: OperatorContext) -> set[str]:
    return {
        f.name
        for f in dataclasses.fields(context)
        if f.default is None and getattr(context, f.name) is None
    }


async def test_nothing_configured_builds_only_what_always_runs() -> None:
    context = build_context(RunOptions())
    try:
        assert unset(context) == {f.name for f in dataclasses.fields(context)} - ALWAYS - {
            "clock",
            "watch_timeouts",
            "state",
            "evaluation_interval",
            "liveness_allowed_misses",
        }
    finally:
        assert context.http is not None
        await context.http.aclose()


async def test_everything_configured_fills_every_field() -> None:
    options = RunOptions(
        prometheus_url="http://prometheus.example:9090",
        evaluation_interval=12.0,
        liveness_allowed_misses=4,
        watch_timeout=120.0,
        manage_prometheus_rules=True,
        alertmanager_token=StaticToken("am"),
        comms=CommsOptions(
            slack_token=StaticToken("xoxb-1"),
            slack_app_token=StaticToken("xapp-1"),
            pagerduty_routing_key=StaticToken("routing"),
            teams_webhook_url=StaticToken("https://teams.example/hook"),
            webhook_url="https://hooks.example/incidents",
            webhook_secret=StaticToken("hmac"),
        ),
        postmortems=PostmortemOptions(
            github_repository="acme/ops",
            github_token=StaticToken("ghp"),
            grafana_url="https://grafana.example",
        ),
    )
    context = build_context(
        options,
        WebOptions(
            status_page=StatusPageSettings(url="https://status.example.com/status"),
            status_page_id_key=StaticToken("ids"),
            uptime_components=(UptimeComponent("checkout", ("shop",)),),
            subscriptions=SUBSCRIPTIONS,
        ),
    )
    try:
        assert unset(context) == set()
        assert context.evaluation_interval == 12.0
        assert context.liveness_allowed_misses == 4
        assert context.watch_timeouts.server.total_seconds() == 120.0
        memo = memo_of(context)
        # kopf hands each object a shallow copy of the memo: all share the one context.
        assert context_of(copy.copy(memo)) is context
    finally:
        assert context.http is not None
        await context.http.aclose()


@pytest.mark.parametrize(
    ("url", "smtp_from", "message"),
    [
        ("", "status@example.com", "--status-page-url"),
        ("https://s.example/status", "", "--smtp-from"),
    ],
)
async def test_subscriptions_refuse_to_start_without_what_their_links_need(
    url: str, smtp_from: str, message: str
) -> None:
    options = WebOptions(
        status_page=StatusPageSettings(url=url),
        subscriptions=dataclasses.replace(SUBSCRIPTIONS, smtp_from=smtp_from),
    )
    with pytest.raises(ValueError, match=message):
        build_context(RunOptions(), options)


def test_a_memo_without_a_context_is_refused() -> None:
    with pytest.raises(TypeError, match="no OperatorContext"):
        context_of(kopf.Memo())
