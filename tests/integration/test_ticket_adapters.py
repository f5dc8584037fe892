"""Jira, GitHub Issues and Grafana adapters against local fakes of their APIs, over real HTTP.

Tickets are created with the documented shapes (Jira ADF description, GitHub title/body/
labels), their state is read back and mapped onto action item states; 429/5xx become our
retryable errors, refusals DeliveryRejected — and no token appears in any error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import httpx
import pytest

from incident_operator.adapters.github_issues import GitHubIssues
from incident_operator.adapters.grafana import GrafanaAnnotations
from incident_operator.adapters.jira import JiraTracker
from incident_operator.adapters.secrets import StaticToken
from incident_operator.adapters.tickets_port import TicketRequest
from incident_operator.errors import DeliveryRejected, DeliveryThrottled, DeliveryUnavailable
from tests.fakes.trackers import FakeGitHub, FakeGrafana, FakeJira

JIRA_TOKEN = "ATATT3xJiraSecretToken0123"
GH_TOKEN = "ghp_GitHubSecretToken0123456789"
GRAFANA_TOKEN = "glsa_GrafanaSecret0123"
REQUEST = TicketRequest(
    "Cap retries in the payment client",
    "Action item of postmortem checkout-burn.\nDue 2026-12-04.",
    date(2026, 12, 4),
    ("postmortem", "incident-checkout-burn"),
)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
async def jira() -> AsyncIterator[FakeJira]:
    fake = FakeJira("sre@example.com", JIRA_TOKEN)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub("shop/checkout", GH_TOKEN)
    await fake.start()
    yield fake
    await fake.stop()


def tracker(http: httpx.AsyncClient, jira: FakeJira, token: str = JIRA_TOKEN) -> JiraTracker:
    return JiraTracker(http, jira.url, "sre@example.com", StaticToken(token), "OPS")


async def test_jira_create_and_read_back(http: httpx.AsyncClient, jira: FakeJira) -> None:
    adapter = tracker(http, jira)
    ticket = await adapter.create(REQUEST)
    assert ticket.ref == "OPS-1"
    assert ticket.url == f"{jira.url}/browse/OPS-1"
    assert ticket.status == "open"
    fields = jira.requests[0][2]["fields"]
    assert fields["duedate"] == "2026-12-04"
    assert fields["labels"] == ["postmortem", "incident-checkout-burn"]
    assert fields["description"]["content"][1]["content"][0]["text"] == "Due 2026-12-04."
    jira.set_category("OPS-1", "indeterminate")
    assert (await adapter.get("OPS-1")).status == "in-progress"
    jira.set_category("OPS-1", "done")
    assert (await adapter.get("OPS-1")).status == "done"
    assert adapter.owns(f"{jira.url}/browse/OPS-1") == "OPS-1"
    assert adapter.owns("https://elsewhere.example.com/browse/OPS-1") is None


async def test_jira_errors_are_ours_and_keep_the_token_out(
    http: httpx.AsyncClient, jira: FakeJira
) -> None:
    with pytest.raises(DeliveryRejected) as refused:
        await tracker(http, jira, "wrong").create(REQUEST)
    assert "401" in str(refused.value)
    jira.throttle_next(7)
    with pytest.raises(DeliveryThrottled) as throttled:
        await tracker(http, jira).create(REQUEST)
    assert throttled.value.retry_after == 7
    jira.fail_next()
    with pytest.raises(DeliveryUnavailable):
        await tracker(http, jira).get("OPS-1")
    with pytest.raises(DeliveryRejected) as missing:
        await tracker(http, jira).get("OPS-99")
    assert "does not exist" in str(missing.value)
    bad = JiraTracker(http, jira.url, "sre@example.com", StaticToken(JIRA_TOKEN), "NOPE")
    with pytest.raises(DeliveryRejected) as invalid:
        await bad.create(REQUEST)
    assert "project: valid project is required" in str(invalid.value)
    for error in (refused.value, throttled.value, missing.value, invalid.value):
        assert JIRA_TOKEN not in str(error)


async def test_github_create_read_and_close_reasons(
    http: httpx.AsyncClient, github: FakeGitHub
) -> None:
    adapter = GitHubIssues(http, "shop/checkout", StaticToken(GH_TOKEN), api_url=github.url)
    ticket = await adapter.create(REQUEST)
    assert (ticket.ref, ticket.status) == ("1", "open")
    assert ticket.url == "https://github.com/shop/checkout/issues/1"
    assert github.requests[0][2]["labels"] == ["postmortem", "incident-checkout-burn"]
    github.close(1, "not_planned")
    assert (await adapter.get("1")).status == "wont-fix"
    github.close(1, "completed")
    assert (await adapter.get("1")).status == "done"
    assert adapter.owns("https://github.com/shop/checkout/issues/1") == "1"
    assert adapter.owns("https://github.com/other/repo/issues/1") is None
    wrong = GitHubIssues(http, "shop/checkout", StaticToken("nope"), api_url=github.url)
    with pytest.raises(DeliveryRejected) as refused:
        await wrong.get("1")
    assert "Bad credentials" in str(refused.value)
    with pytest.raises(DeliveryRejected) as invalid:
        await adapter.create(TicketRequest("", ""))
    assert "Validation Failed" in str(invalid.value)


async def test_grafana_annotation(http: httpx.AsyncClient) -> None:
    fake = FakeGrafana(GRAFANA_TOKEN)
    await fake.start()
    try:
        adapter = GrafanaAnnotations(
            http, fake.url, StaticToken(GRAFANA_TOKEN), dashboard_uid="slo-overview"
        )
        at = datetime(2026, 11, 27, 9, 4, tzinfo=UTC)
        assert await adapter.annotate(at, "Incident declared", ("incident", "declared")) == "1"
        assert fake.annotations == [
            {
                "time": int(at.timestamp() * 1000),
                "tags": ["incident", "declared"],
                "text": "Incident declared",
                "dashboardUID": "slo-overview",
            }
        ]
        fake.fail_next(502)
        with pytest.raises(DeliveryUnavailable):
            await adapter.annotate(at, "x", ())
        anonymous = GrafanaAnnotations(http, fake.url, None)
        with pytest.raises(DeliveryRejected):
            await anonymous.annotate(at, "x", ())
    finally:
        await fake.stop()
