"""Stakeholder updates through the outbox: on the cadence, once each, across crashes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incident_operator.adapters.comms_ports import Channel
from incident_operator.adapters.ports import Body
from incident_operator.domain import outbox
from incident_operator.errors import DeliveryUnavailable
from incident_operator.services.stakeholders import StakeholderService
from tests.builders.objects import incident, severity
from tests.fakes.ports.chat import FakeChat
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.paging import FakeNotifier
from tests.fakes.ports.store import FakeStore
from tests.unit.services import test_comms_service as comms

DECLARED = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
NS, NAME = "shop", "checkout-errors"
STAKEHOLDERS = {
    "updateEvery": "30m",
    "channels": ["#exec-updates"],
    "webhooks": True,
    "remindBefore": "5m",
}


def accepted(phase: str = "investigating") -> dict[str, Any]:
    return {
        "phase": phase,
        "roles": {"commander": "alice", "communications": "bob"},
        "timestamps": {"declared": "2026-11-27T14:00:00Z"},
        "timeline": [
            {
                "at": "2026-11-27T14:01:00Z",
                "type": "note",
                "message": "rolling back checkout",
                "key": "note/1",
                "source": "kubectl",
            }
        ],
    }


class World:
    def __init__(self, store: FakeStore | None = None, **policy: Any) -> None:
        self.store = store or FakeStore()
        self.store.severities["sev-2"] = severity(
            displayName="SEV-2 (Major)",
            statusPage={"impact": "major"},
            stakeholders={**STAKEHOLDERS, **policy},
        )
        self.chat = FakeChat()
        self.chat.channels["C0EXEC"] = Channel("C0EXEC", "exec-updates")
        self.webhook = FakeNotifier()
        self.clock = FakeClock(DECLARED + timedelta(seconds=3))
        self.service = self.restart()

    def restart(self) -> StakeholderService:
        """A new process: nothing in memory but what the store holds."""
        self.service = StakeholderService(
            self.store, self.clock, chat=self.chat, notifiers={"webhook": self.webhook}
        )
        return self.service

    async def declare(self, private: bool = False, **spec: Any) -> None:
        await self.store.create_incident(
            NS, incident(NAME, NS, created=None, private=private, **spec)
        )
        await self.store.patch_incident(NS, NAME, status=accepted())

    async def body(self) -> Body:
        found = await self.store.get_incident(NS, NAME)
        assert found is not None
        return found

    async def tick(self, seen: bool = False) -> list[str]:
        body = await self.body() if seen else None
        return (await self.service.tick(NS, NAME, body)).done

    def posts(self) -> list[str]:
        return [m.text for m in self.chat.messages]

    def at(self, minutes: float) -> None:
        self.clock.current = DECLARED + timedelta(minutes=minutes)


@pytest.fixture
def world() -> World:
    return World()


async def test_first_update_at_declaration_to_channel_and_webhook(world: World) -> None:
    await world.declare()
    assert await world.tick() == ["#exec-updates", "webhook/webhook"]
    (text,) = world.posts()
    assert text.splitlines() == [
        "*Stakeholder update #1: Checkout returns 5xx* (SEV-2 (Major), shop/checkout-errors)",
        "Phase: investigating",
        "Impact: major impact on checkout",
        "What is being done: rolling back checkout",
        "Next update: by 2026-11-27T14:30:00Z",
    ]
    (sent,) = world.webhook.sent
    assert sent.event == "stakeholder-update"
    assert sent.idempotency_key == "stakeholder-update/uid-checkout-errors/1"
    assert sent.summary.stakeholder is not None
    assert sent.summary.stakeholder.text == text
    status = (await world.body())["status"]
    assert status["stakeholders"]["sequence"] == 1
    assert status["stakeholders"]["delivered"] == ["#exec-updates", "webhook/webhook"]
    assert status["stakeholders"]["nextDueAt"] == "2026-11-27T14:30:00Z"
    assert status["stakeholders"]["lastSentAt"] == "2026-11-27T14:00:03Z"
    assert not status.get("outbox")
    assert world.store.events == [
        (
            NAME,
            "StakeholderUpdateSent",
            "Stakeholder update #1 sent to #exec-updates, webhook/webhook",
            False,
        )
    ]
    assert world.chat.messages[0].key == "stakeholder-update/uid-checkout-errors/1"


async def test_the_cadence_posts_each_update_once(world: World) -> None:
    await world.declare()
    await world.tick()
    for minutes in (1, 10, 29.9):
        world.at(minutes)
        assert await world.tick(seen=True) == []
    world.at(30.1)
    assert await world.tick(seen=True) == ["#exec-updates", "webhook/webhook"]
    assert await world.tick(seen=True) == []
    assert len(world.posts()) == 2
    assert world.posts()[1].startswith("*Stakeholder update #2")
    assert "Next update: by 2026-11-27T15:00:00Z" in world.posts()[1]
    assert [n.idempotency_key.rsplit("/", 1)[1] for n in world.webhook.sent] == ["1", "2"]


async def test_a_restart_between_updates_neither_repeats_nor_drops_one(world: World) -> None:
    await world.declare()
    await world.tick()
    world.restart()
    world.at(12)
    assert await world.tick(seen=True) == []
    world.restart()
    world.at(30.05)
    assert await world.tick(seen=True) == ["#exec-updates", "webhook/webhook"]
    assert len(world.posts()) == 2


class DiesAfterThePost(FakeStore):
    """The process is killed between a delivery and the status write confirming it."""

    armed = True

    async def patch_incident(self, namespace: str, name: str, **kwargs: Any) -> Body:
        status = kwargs.get("status") or {}
        if self.armed and (status.get("stakeholders") or {}).get("delivered"):
            self.armed = False
            raise SystemExit("killed before the status write")
        return await super().patch_incident(namespace, name, **kwargs)


async def test_a_crash_between_the_post_and_the_status_write_does_not_post_twice() -> None:
    world = World(store=DiesAfterThePost(), webhooks=False)
    await world.declare()
    with pytest.raises(SystemExit):
        await world.tick()
    assert len(world.posts()) == 1
    status = (await world.body())["status"]
    assert status["outbox"]["stakeholder/1/#exec-updates"]["kind"] == "stakeholder-post"
    world.restart()
    assert await world.tick(seen=True) == ["#exec-updates"]
    assert len(world.posts()) == 1, "found by its key, not posted again"
    status = (await world.body())["status"]
    assert status["stakeholders"]["delivered"] == ["#exec-updates"]
    assert not status.get("outbox")


async def test_a_failed_delivery_is_retried_after_its_backoff(world: World) -> None:
    await world.declare()
    world.webhook.fail_next(DeliveryUnavailable("HTTP 503"))
    assert await world.tick() == ["#exec-updates"]
    status = (await world.body())["status"]
    record = status["outbox"]["stakeholder/1/webhook/webhook"]
    assert (record["attempts"], record["lastError"]) == (1, "HTTP 503")
    assert await world.tick() == [], "backing off"
    world.clock.advance(outbox.BACKOFF_MAX)
    assert await world.tick() == ["webhook/webhook"]
    assert len(world.webhook.sent) == 1
    assert len(world.posts()) == 1


async def test_the_next_update_supersedes_what_the_last_still_owed(world: World) -> None:
    await world.declare()
    world.webhook.fail_next(*[DeliveryUnavailable("down")] * 3)
    await world.tick()
    world.at(30.1)
    assert await world.tick() == ["#exec-updates"]  # the webhook is still failing
    status = (await world.body())["status"]
    assert list(status["outbox"]) == ["stakeholder/2/webhook/webhook"]
    assert status["stakeholders"]["sequence"] == 2


async def test_the_lead_is_reminded_before_the_update_is_due(world: World) -> None:
    await world.declare()
    await world.tick()
    world.at(25.5)
    await world.tick(seen=True)
    await world.tick(seen=True)
    reminders = [e for e in world.store.timeline(NS, NAME) if e["type"] == "stakeholder-reminder"]
    assert len(reminders) == 1
    assert reminders[0]["key"] == "stakeholder-reminder/2"
    assert reminders[0]["at"] == "2026-11-27T14:25:00Z"
    assert "due at 2026-11-27T14:30:00Z" in reminders[0]["message"]
    assert "stakeholder-reminder" in outbox.POSTED_TYPES


async def test_early_send_with_the_leads_text_resets_the_cadence(world: World) -> None:
    await world.declare()
    await world.tick()
    world.at(10)
    await world.store.patch_incident(
        NS,
        NAME,
        spec={
            "stakeholderUpdate": {
                "text": "Payments recovered; watching",
                "requestedAt": "2026-11-27T14:10:00Z",
            }
        },
    )
    assert await world.tick(seen=True) == ["#exec-updates", "webhook/webhook"]
    assert "What is being done: Payments recovered; watching" in world.posts()[1]
    assert "Next update: by 2026-11-27T14:40:00Z" in world.posts()[1]
    world.at(30.5)
    assert await world.tick(seen=True) == [], "the cadence restarted at the early update"
    world.at(40.1)
    assert await world.tick(seen=True) == ["#exec-updates", "webhook/webhook"]
    assert len(world.posts()) == 3


async def test_a_final_update_when_resolved(world: World) -> None:
    await world.declare()
    await world.tick()
    world.at(12)
    await world.store.patch_incident(NS, NAME, status={"phase": "resolved"})
    assert await world.tick(seen=True) == ["#exec-updates", "webhook/webhook"]
    assert world.posts()[1].startswith("*Final stakeholder update #2")
    assert "Next update" not in world.posts()[1]
    world.at(90)
    assert await world.tick(seen=True) == []
    assert (await world.body())["status"]["stakeholders"].get("nextDueAt") is None


async def test_a_private_incident_goes_to_no_webhook_and_no_channel_by_default() -> None:
    world = World()
    await world.declare(private=True)
    assert await world.tick() == []
    assert world.posts() == []
    assert world.webhook.sent == []


async def test_a_private_incident_reaches_the_channels_where_the_severity_says_so() -> None:
    world = World(includePrivate=True)
    await world.declare(private=True)
    assert await world.tick() == ["#exec-updates"]
    assert world.webhook.sent == []


async def test_no_cadence_no_reads(world: World) -> None:
    world.store.severities["sev-2"]["spec"].pop("stakeholders")
    await world.declare()
    assert await world.tick() == []
    assert world.posts() == []
    assert "stakeholders" not in (await world.body())["status"]


async def test_slack_text_from_people_is_escaped(world: World) -> None:
    await world.declare(stakeholderUpdate={"text": "<!channel> fixed & done"})
    await world.tick()
    assert "&lt;!channel&gt; fixed &amp; done" in world.posts()[0]
    sent = world.webhook.sent[0].summary.stakeholder
    assert sent is not None
    assert "<!channel> fixed & done" in sent.text


async def test_the_reminder_mentions_the_communications_lead_in_the_incident_channel() -> None:
    """The comms outbox posts the reminder entry, with the lead's Slack mention."""
    world = comms.World()
    await world.store.create_incident(
        comms.NS,
        incident(
            comms.NAME,
            comms.NS,
            created=None,
            roles={"commander": "alice", "communications": "bob"},
        ),
    )
    await world.store.patch_incident(comms.NS, comms.NAME, status=comms.accepted())
    await world.sync()
    entry = {
        "at": "2026-11-27T14:25:00Z",
        "type": "stakeholder-reminder",
        "message": "Stakeholder update #2 is due at 2026-11-27T14:30:00Z",
        "source": "operator",
        "key": "stakeholder-reminder/2",
    }
    await world.store.append_timeline(comms.NS, comms.NAME, [entry])
    await world.sync()
    posted = [m.text for m in world.chat.messages if "Stakeholder update #2 is due" in m.text]
    assert len(posted) == 1
    assert posted[0].endswith("<@U0BBBBBBB>")
