"""Public updates reach each status page subscriber once, through the outbox
(services/subscriptions.py): across ticks, restarts and failures; never for private or
unpublished incidents; only public words."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incident_operator.adapters.secrets import StaticToken
from incident_operator.domain import outbox
from incident_operator.domain import subscriptions as subs
from incident_operator.domain.status_page import Site
from incident_operator.errors import DeliveryRejected, DeliveryUnavailable
from incident_operator.services.status_page import StatusPageIndex, incident_record
from incident_operator.services.subscriptions import (
    SubscriptionService,
    SubscriptionSettings,
)
from tests.builders.objects import incident, severity
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.store import FakeStore
from tests.fakes.ports.subscriptions import (
    FakeMailer,
    FakeSubscriberList,
    FakeSubscriberWebhook,
)
from tests.unit.web.test_status_page_catalog_web import service as catalog_service

DECLARED = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
NS, NAME = "shop", "checkout-errors"
INTERNAL = "Checkout pods OOMKilled in shop after deploy 7f9"
SITE = Site("acme", "Acme Status", "https://status.example.com/status")
KEY = "subscription-key"


def public_update(minutes: int, text: str, status: str = "investigating") -> dict[str, Any]:
    at = DECLARED + timedelta(minutes=minutes)
    return {"at": at.isoformat().replace("+00:00", "Z"), "status": status, "text": text}


class World:
    def __init__(self, **spec: Any) -> None:
        self.store = FakeStore()
        self.store.severities["sev-1"] = severity(
            "sev-1", 1, statusPage={"publish": True, "impact": "critical"}
        )
        self.store.severities["sev-3"] = severity("sev-3", 3, statusPage={"impact": "minor"})
        self.store.incidents[(NS, NAME)] = incident(
            NAME,
            title=INTERNAL,
            public={
                "title": "Card payments failing",
                "updates": [public_update(5, "We are looking into failed card payments.")],
            },
            status={"phase": "investigating", "timestamps": {"declared": "2026-12-07T12:00:00Z"}},
            **{"severityRef": "sev-1", **spec},
        )
        since = DECLARED - timedelta(days=1)
        self.subscribers = FakeSubscriberList(
            [
                subs.Subscriber(subs.Kind.EMAIL, "ann@example.com", since),
                subs.Subscriber(
                    subs.Kind.WEBHOOK, "https://hooks.example.com/x", since, secret="hook-secret"
                ),
            ]
        )
        self.mailer = FakeMailer()
        self.webhook = FakeSubscriberWebhook()
        self.clock = FakeClock(DECLARED + timedelta(minutes=6))
        self.page: StatusPageIndex | None = None

    def service(self) -> SubscriptionService:
        """A new service each time: what a restarted operator would build."""
        return SubscriptionService(
            self.store,
            self.subscribers,
            self.clock,
            SubscriptionSettings(SITE, StaticToken(KEY), id_key=b"id-key"),
            mailer=self.mailer,
            webhook=self.webhook,
            page=self.page,
        )

    @property
    def body(self) -> dict[str, Any]:
        return self.store.incidents[(NS, NAME)]

    @property
    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.body["status"]
        return status

    async def tick(self) -> Any:
        return await self.service().tick(NS, NAME, self.body)

    def add_update(self, minutes: int, text: str, status: str = "identified") -> None:
        self.body["spec"]["public"]["updates"].append(public_update(minutes, text, status))


async def test_a_public_update_reaches_each_subscriber_once() -> None:
    world = World()
    done = await world.tick()
    assert len(done.sent) == 2
    [mail] = world.mailer.sent
    [(url, secret, _body, event, key)] = world.webhook.posts
    assert mail.to == "ann@example.com"
    assert (url, secret, event) == (
        "https://hooks.example.com/x",
        b"hook-secret",
        "incident-update",
    )
    assert sorted(world.status["subscriptions"]["delivered"]) == sorted([mail.key, key])
    assert not any(k.startswith("subscriber/") for k in world.status.get("outbox") or {})
    for _ in range(3):  # later ticks and restarts send nothing again
        assert (await world.tick()).sent == []
    assert len(world.mailer.sent) == 1
    assert len(world.webhook.posts) == 1
    world.add_update(20, "The cause is a faulty deploy; rolling back.")
    assert len((await world.tick()).sent) == 2
    assert [m.text.count("rolling back") for m in world.mailer.sent] == [0, 1]


async def test_only_public_words_are_sent() -> None:
    world = World()
    await world.tick()
    [(_, _, body, _, _key)] = world.webhook.posts
    payload = json.loads(body)
    assert payload["incident"]["name"] == "Card payments failing"
    assert payload["update"]["body"] == "We are looking into failed card payments."
    assert payload["unsubscribeUrl"].startswith("https://status.example.com/status/unsubscribe?")
    [mail] = world.mailer.sent
    for text in (body.decode(), mail.subject, mail.text):
        assert INTERNAL not in text
        assert NS not in text
        assert NAME not in text
        assert "sev-1" not in text


@pytest.mark.parametrize(
    ("spec", "reads_subscribers"),
    [({"private": True}, False), ({"severityRef": "sev-3"}, True)],
    ids=["private", "unpublished-severity"],
)
async def test_nothing_for_private_or_unpublished_incidents(
    spec: dict[str, Any], reads_subscribers: bool
) -> None:
    world = World(**spec)
    assert (await world.tick()).sent == []
    assert world.mailer.sent == []
    assert world.webhook.posts == []
    assert "subscriptions" not in world.status
    assert (world.subscribers.loads > 0) is reads_subscribers


async def test_an_incident_without_public_updates_costs_no_read() -> None:
    world = World()
    world.body["spec"]["public"]["updates"] = []
    assert (await world.tick()).sent == []
    assert world.subscribers.loads == 0


async def test_a_failed_delivery_is_retried_under_the_same_key_after_its_backoff() -> None:
    world = World()
    world.mailer.fail_with = DeliveryUnavailable("mail server unreachable (ConnectionRefused)")
    done = await world.tick()
    assert len(done.sent) == 1  # the webhook still went
    assert len(done.failed) == 1
    [(op_key, record)] = [
        (k, v) for k, v in world.status["outbox"].items() if k.startswith("subscriber/")
    ]
    assert record["kind"] == "subscriber-email"
    assert record["attempts"] == 1
    assert "unreachable" in record["lastError"]
    world.mailer.fail_with = None
    assert (await world.tick()).sent == []  # still backing off
    world.clock.advance(timedelta(minutes=1))
    assert len((await world.tick()).sent) == 1
    [mail] = world.mailer.sent
    assert op_key == f"subscriber/{mail.key}"
    assert world.status["outbox"].get(op_key) is None
    assert len(world.webhook.posts) == 1


async def test_an_unconfirmed_attempt_is_sent_again_under_its_key_and_then_never() -> None:
    """The process died between the call and the confirming write: the attempt is on record
    and the key not delivered. It goes out again with the same key (the receiver's to drop)."""
    world = World()
    record = incident_record(world.body, b"id-key")
    assert record is not None
    notifications = subs.owed(
        replace(record, published=True), world.subscribers.subscribers, [], world.clock.now()
    )
    email_key = next(n.key for n in notifications if n.subscriber.kind is subs.Kind.EMAIL)
    world.status["outbox"] = {
        f"subscriber/{email_key}": {"kind": "subscriber-email", "attempts": 1}
    }
    await world.tick()
    assert [m.key for m in world.mailer.sent] == [email_key]
    assert world.status["outbox"].get(f"subscriber/{email_key}") is None
    await world.tick()
    assert len(world.mailer.sent) == 1


async def test_a_refused_address_backs_off_slowly_and_does_not_stop_the_others() -> None:
    world = World()
    world.subscribers.subscribers.append(
        subs.Subscriber(subs.Kind.EMAIL, "bob@example.com", DECLARED - timedelta(days=1))
    )
    world.mailer.fail_with = DeliveryRejected("mail server refused (SMTP 550)", code="smtp 550")
    done = await world.tick()
    assert len(done.failed) == 2  # a refusal is about one address: the next is still tried
    assert world.mailer.attempts == 2


async def test_component_subscribers_and_later_subscribers() -> None:
    world = World()
    since = DECLARED - timedelta(days=1)
    world.subscribers.subscribers = [
        subs.Subscriber(subs.Kind.EMAIL, "search@example.com", since, frozenset({"search"})),
        subs.Subscriber(subs.Kind.EMAIL, "late@example.com", DECLARED + timedelta(minutes=10)),
        subs.Subscriber(subs.Kind.EMAIL, "shop@example.com", since, frozenset({"checkout"})),
    ]
    await world.tick()
    assert [m.to for m in world.mailer.sent] == ["shop@example.com"]


async def test_an_unsubscribed_subscriber_gets_nothing_more_and_is_forgotten() -> None:
    world = World()
    await world.tick()
    hook_id = world.subscribers.subscribers[1].id
    await world.subscribers.remove(hook_id)
    world.add_update(20, "Rolling back.")
    await world.tick()
    assert len(world.webhook.posts) == 1
    assert len(world.mailer.sent) == 2
    assert len(world.status["subscriptions"]["delivered"]) == 2  # the webhook's key is gone


async def test_without_a_mailer_e_mail_subscribers_are_not_owed() -> None:
    world = World()
    service = SubscriptionService(
        world.store,
        world.subscribers,
        world.clock,
        SubscriptionSettings(SITE, StaticToken(KEY)),
        webhook=world.webhook,
    )
    done = await service.tick(NS, NAME, world.body)
    assert len(done.sent) == 1
    assert len(world.status["subscriptions"]["delivered"]) == 1


class CountingStore(FakeStore):
    """Counts fresh reads of incidents."""

    reads = 0

    async def get_incident(self, namespace: str, name: str) -> Any:
        self.reads += 1
        return await super().get_incident(namespace, name)


async def test_a_tick_with_nothing_owed_reads_nothing_fresh() -> None:
    world = World()
    store = CountingStore(incidents=world.store.incidents, severities=world.store.severities)
    world.store = store
    await world.tick()
    assert store.reads == 1
    await world.tick()
    assert store.reads == 1
    world.add_update(20, "Rolling back.")
    await world.tick()
    assert store.reads == 2


def subscribers_degraded(world: World) -> dict[str, Any] | None:
    found = [c for c in world.status.get("conditions") or [] if c["type"] == "SubscribersDegraded"]
    return found[0] if found else None


async def test_deliveries_that_keep_failing_show_as_a_condition_and_an_event() -> None:
    """A mail server down for three attempts is not silent: SubscribersDegraded turns True
    with a Warning Event (once), and False when the mail finally goes."""
    world = World()
    world.mailer.fail_with = DeliveryUnavailable("mail server unreachable (ConnectionRefused)")
    for _ in range(outbox.DEGRADED_AFTER - 1):
        await world.tick()
        world.clock.advance(timedelta(hours=1))
    assert subscribers_degraded(world) is None, "a failure or two is not yet degraded"
    await world.tick()
    degraded = subscribers_degraded(world)
    assert degraded is not None
    assert (degraded["status"], degraded["reason"]) == ("True", "DeliveryFailing")
    assert "1 subscriber deliveries failing" in degraded["message"]
    assert "unreachable" in degraded["message"]
    assert "ann@example.com" not in json.dumps(world.status), "no address in status"
    warnings = [e for e in world.store.events if e[1] == "SubscribersDegraded"]
    assert [(e[0], e[3]) for e in warnings] == [(NAME, True)]
    world.mailer.fail_with = None
    world.clock.advance(timedelta(hours=1))
    assert len((await world.tick()).sent) == 1
    recovered = subscribers_degraded(world)
    assert recovered is not None
    assert (recovered["status"], recovered["reason"]) == ("False", "Delivered")
    assert len([e for e in world.store.events if e[1] == "SubscribersDegraded"]) == 1


async def test_deliveries_that_never_failed_write_no_condition() -> None:
    world = World()
    await world.tick()
    assert len(world.mailer.sent) == 1
    assert subscribers_degraded(world) is None


async def test_the_catalog_names_the_component_as_the_page_does() -> None:
    """An incident on a dependency (no public component) that Checkout shows: subscribers of
    the page's Checkout component get it, under the page's words, never the Service name."""
    world = World(service="payments-gateway")
    del world.body["spec"]["public"]["title"]
    world.page = StatusPageIndex()
    checkout = {"name": "Checkout", "public": True, "showDependencies": True}
    world.page.observe_service(
        catalog_service(
            "checkout", namespace=NS, component=checkout, dependencies=("payments-gateway",)
        )
    )
    world.page.observe_service(catalog_service("payments-gateway", namespace=NS))
    since = DECLARED - timedelta(days=1)
    world.subscribers.subscribers = [
        subs.Subscriber(subs.Kind.EMAIL, "shop@example.com", since, frozenset({"Checkout"})),
        subs.Subscriber(subs.Kind.EMAIL, "gw@example.com", since, frozenset({"payments-gateway"})),
    ]
    await world.tick()
    [mail] = world.mailer.sent
    assert mail.to == "shop@example.com"
    assert "Checkout" in mail.subject
    assert "payments-gateway" not in mail.subject + mail.text
