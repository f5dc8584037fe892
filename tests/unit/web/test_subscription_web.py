"""The public subscription endpoints (web/subscriptions.py) over HTTP: double opt-in by
e-mail, unsubscribe by signed link (also RFC 8058 one-click), no GET changes anything, and
the form cannot be turned into a mail cannon or an oracle of who is subscribed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from incident_operator.adapters.secrets import StaticToken
from incident_operator.app.operator_main import parse, status_page_settings
from incident_operator.domain import subscriptions as subs
from incident_operator.domain.status_page import Site, build_page
from incident_operator.web.status_page_html import render_html
from incident_operator.web.subscriptions import SendLimit, SignupSettings, SubscriptionEndpoints
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.subscriptions import FakeMailer, FakeSubscriberList

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
KEY = "subscription-key"
SITE = Site("acme", "Acme <Status>", "https://status.example.com/status")


class Setup:
    def __init__(self, *, public_signup: bool = True, per_minute: int = 10) -> None:
        self.subscribers = FakeSubscriberList()
        self.mailer = FakeMailer()
        self.clock = FakeClock(NOW)
        self.endpoints = SubscriptionEndpoints(
            self.subscribers,
            StaticToken(KEY),
            self.clock,
            SignupSettings(SITE, public_signup=public_signup),
            mailer=self.mailer,
            components=lambda: ("checkout", "search"),
            limit=SendLimit(per_minute=per_minute),
        )


async def serve(setup: Setup) -> TestClient[Any, Any]:
    app = web.Application()
    setup.endpoints.add_routes(app)
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
def setup() -> Setup:
    return Setup()


@pytest.fixture
async def client(setup: Setup) -> AsyncIterator[TestClient[Any, Any]]:
    served = await serve(setup)
    yield served
    await served.close()


def link(text: str, path: str) -> str:
    """The path and query of the link to ``path`` in an e-mail."""
    match = re.search(r"https://status\.example\.com(" + re.escape(path) + r"\?\S+)", text)
    assert match, text
    return match.group(1)


async def test_double_opt_in_then_unsubscribe(setup: Setup, client: TestClient[Any, Any]) -> None:
    form = await client.get(subs.SUBSCRIBE_PATH)
    assert form.status == 200
    page = await form.text()
    assert 'name="email"' in page
    assert 'value="checkout"' in page
    assert "Acme &lt;Status&gt;" in page
    answer = await client.post(
        subs.SUBSCRIBE_PATH, data={"email": "Ann@example.com", "component": "checkout"}
    )
    assert answer.status == 202
    assert setup.subscribers.subscribers == []  # nothing stored before confirmation
    [mail] = setup.mailer.sent
    assert mail.to == "Ann@example.com"
    confirm = link(mail.text, subs.CONFIRM_PATH)
    assert (await client.get(confirm)).status == 200  # a scanner's GET changes nothing
    assert setup.subscribers.subscribers == []
    assert (await client.post(confirm)).status == 200
    [subscriber] = setup.subscribers.subscribers
    assert subscriber.address == "Ann@example.com"
    assert subscriber.components == frozenset({"checkout"})
    assert subscriber.since == NOW
    unsubscribe = urlsplit(
        subs.unsubscribe_url("https://status.example.com", KEY.encode(), subscriber.id)
    )
    path = f"{unsubscribe.path}?{unsubscribe.query}"
    assert (await client.get(path)).status == 200
    assert setup.subscribers.subscribers != []
    one_click = await client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status == 200
    assert setup.subscribers.subscribers == []
    assert (await client.post(path)).status == 200  # twice is fine


async def test_forged_or_expired_links_change_nothing(
    setup: Setup, client: TestClient[Any, Any]
) -> None:
    await client.post(subs.SUBSCRIBE_PATH, data={"email": "ann@example.com"})
    confirm = link(setup.mailer.sent[0].text, subs.CONFIRM_PATH)
    tampered = confirm[:-2] + ("00" if not confirm.endswith("00") else "11")
    assert (await client.post(tampered)).status == 400
    setup.clock.advance(subs.CONFIRM_VALIDITY + timedelta(seconds=1))
    assert (await client.post(confirm)).status == 400
    assert setup.subscribers.subscribers == []
    sid = subs.subscriber_id(subs.Kind.EMAIL, "ann@example.com")
    other = subs.unsubscribe_token(KEY.encode(), "someone-else")
    await setup.subscribers.add(subs.Subscriber(subs.Kind.EMAIL, "ann@example.com", NOW))
    for query in (f"?s={sid}&t={other}", f"?s={sid}", "?t=x"):
        assert (await client.post(subs.UNSUBSCRIBE_PATH + query)).status == 403
    assert len(setup.subscribers.subscribers) == 1


@pytest.mark.parametrize(
    "data",
    [
        {"email": "not-an-address"},
        {"email": "ann@example.com\r\nBcc: eve@example.com"},
        {"email": "ann@example.com", "component": "made-up"},
    ],
    ids=["not-an-address", "header-injection", "unknown-component"],
)
async def test_bad_sign_ups_send_nothing(
    setup: Setup, client: TestClient[Any, Any], data: dict[str, str]
) -> None:
    assert (await client.post(subs.SUBSCRIBE_PATH, data=data)).status == 400
    assert setup.mailer.sent == []


async def test_confirmation_mail_is_rate_limited_per_address_and_overall() -> None:
    setup = Setup(per_minute=3)
    client = await serve(setup)
    try:
        statuses = [
            (await client.post(subs.SUBSCRIBE_PATH, data={"email": "ann@example.com"})).status
            for _ in range(2)
        ]
        assert statuses == [202, 429]
        for n in range(4):
            await client.post(subs.SUBSCRIBE_PATH, data={"email": f"u{n}@example.com"})
        assert len(setup.mailer.sent) == 3
    finally:
        await client.close()


async def test_without_public_sign_up_the_page_points_at_the_feed() -> None:
    setup = Setup(public_signup=False)
    client = await serve(setup)
    try:
        page = await (await client.get(subs.SUBSCRIBE_PATH)).text()
        assert "history.atom" in page
        assert 'name="email"' not in page
        answer = await client.post(subs.SUBSCRIBE_PATH, data={"email": "ann@example.com"})
        assert answer.status == 405
        assert setup.mailer.sent == []
    finally:
        await client.close()


def test_the_status_page_links_the_subscribe_page_when_subscriptions_run() -> None:
    page = build_page([], NOW)
    args = parse(["run", "--status-page-url=https://status.example.com/status"])
    for running in (True, False):
        shell = status_page_settings(args, running).shell
        linked = f'href="{subs.SUBSCRIBE_PATH}"' in render_html(page, "Acme Status", shell=shell)
        assert linked is running
