"""The comms outbox against in-memory chat, pager and webhooks: once, in order, retried."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from incident_operator.adapters.comms_ports import Channel
from incident_operator.domain import outbox, response
from incident_operator.errors import Conflict, DeliveryThrottled, DeliveryUnavailable
from incident_operator.services.chat_channels import ChannelIndex
from incident_operator.services.comms import CommsService, Delivery
from incident_operator.services.comms_facts import CommsConfig
from tests.builders.objects import incident, severity
from tests.fakes.ports.chat import FakeChat
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.paging import FakeNotifier, FakePager
from tests.fakes.ports.store import FakeStore

NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
NS, NAME = "shop", "checkout-errors"
ROTATION = Path(__file__).resolve().parents[3] / "examples" / "20-oncallrotation.yaml"


def accepted(phase: str = "triage", **timestamps: str) -> dict[str, Any]:
    return {
        "phase": phase,
        "roles": {"commander": "alice"},
        "timestamps": {"declared": "2026-11-27T14:00:00Z", **timestamps},
        "timeline": [
            {
                "at": "2026-11-27T14:00:00Z",
                "type": "role-assigned",
                "message": "commander: alice",
                "key": "role/commander/1",
                "source": "operator",
            },
            {
                "at": "2026-11-27T14:00:05Z",
                "type": "chat-pin",
                "message": "from the channel",
                "key": "slack/C/1",
                "source": "slack",
            },
        ],
    }


class World:
    def __init__(
        self,
        private: bool = False,
        store: FakeStore | None = None,
        channels: ChannelIndex | None = None,
        chat: FakeChat | None = None,
        pager: FakePager | None = None,
    ) -> None:
        self.store = store or FakeStore()
        self.store.severities["sev-2"] = severity(
            displayName="SEV-2 (Major)",
            paging={"page": True},
            chat={"createChannel": True, "announceChannels": ["#incidents"]},
            statusPage={"impact": "major"},
            rotationRef="checkout-oncall",
        )
        self.store.rotations[(NS, "checkout-oncall")] = yaml.safe_load(ROTATION.read_text())
        self.chat = chat or FakeChat()
        self.chat.channels["C0INCIDENTS"] = Channel("C0INCIDENTS", "incidents")
        self.pager = pager or FakePager()
        self.teams = FakeNotifier()
        self.clock = FakeClock(NOW)
        self.service = CommsService(
            self.store,
            self.clock,
            chat=self.chat,
            pager=self.pager,
            notifiers={"teams": self.teams},
            config=CommsConfig(bridge_url_template="https://meet.example.com/{name}"),
            channels=channels,
        )
        self.private = private

    async def declare(self) -> None:
        await self.store.create_incident(
            NS,
            incident(NAME, NS, created=None, roles={"commander": "alice"}, private=self.private),
        )
        await self.store.patch_incident(NS, NAME, status=accepted())

    async def body(self) -> dict[str, Any]:
        found = await self.store.get_incident(NS, NAME)
        assert found is not None
        return found

    async def sync(self) -> list[str]:
        return (await self.service.sync(NS, NAME)).done


@pytest.fixture
def world() -> World:
    return World()


def methods(chat: FakeChat) -> list[str]:
    return [m for m, _ in chat.calls]


async def test_declaration_opens_the_channel_announces_pages_and_notifies_once(
    world: World,
) -> None:
    await world.declare()
    done = await world.sync()
    assert done[:3] == ["channel", "page/trigger", "notify/teams/triage/sev-2"]
    assert done[3:] == [
        "announce/#incidents",
        f"invite/{outbox.digest('U0AAAAAAA')}",
        "status",
        done[6],  # topic/<digest>
        done[7],  # the role entry
        "pin",
    ]
    body = await world.body()
    chat = body["status"]["chat"]
    (channel,) = [c for c in world.chat.channels.values() if c.id == chat["channelId"]]
    assert channel.name == "inc-20261127-checkout-returns-5xx"
    assert "labels" not in body["metadata"], "only status names the channel"
    assert world.chat.members[channel.id] >= {"U0AAAAAAA"}
    assert "https://meet.example.com/checkout-errors" in world.chat.topics[channel.id]
    assert (channel.id, chat["statusMessageTs"]) in world.chat.pins
    texts = world.chat.texts(channel.id)
    assert any("commander: alice" in t for t in texts)
    assert not any("from the channel" in t for t in texts), "chat pins are not echoed"
    assert f"<#{channel.id}>" in world.chat.texts("C0INCIDENTS")[0]
    assert world.pager.pages == 1
    assert world.teams.events == ["triage"]
    assert body["status"]["outbox"] == {}
    assert await world.sync() == []  # nothing owed: nothing sent


async def test_changes_update_the_status_message_ack_and_resolve_the_page_archive_on_close(
    world: World,
) -> None:
    await world.declare()
    await world.sync()
    await world.store.patch_incident(
        NS,
        NAME,
        status=accepted("investigating", acknowledged="2026-11-27T14:03:00Z")
        | {"phase": "investigating"},
    )
    await world.store.append_timeline(
        NS,
        NAME,
        [{"at": "2026-11-27T14:03:00Z", "type": "state-changed",
          "message": "State triage -> investigating", "key": "state/investigating/2"}],
    )  # fmt: skip
    done = await world.sync()
    # The repeatable status edit and acknowledge first (outbox.FIRST), then the rest in order.
    assert [k.split("/")[0] for k in done] == ["status", "page", "topic", "entry", "notify"]
    assert "page/acknowledge" in done
    updates = [a for m, a in world.chat.calls if m == "update"]
    assert len(updates) == 1
    assert "investigating" in updates[0][2]
    await world.store.patch_incident(NS, NAME, status={"phase": "closed"})
    await world.sync()
    body = await world.body()
    assert body["status"]["pager"]["state"] == "resolved"
    assert body["status"]["chat"]["archived"] is True
    assert methods(world.chat)[-1] == "archive"


class PagerSeen(FakePager):
    """Marks when an acknowledge has started."""

    def __init__(self) -> None:
        super().__init__()
        self.acknowledging = asyncio.Event()

    async def acknowledge(self, dedup_key: str) -> None:
        self.acknowledging.set()
        await super().acknowledge(dedup_key)


class ChatWaitingForThePager(FakeChat):
    """Edits the pinned status only once the pager's acknowledge has started: run one after
    the other, the edit would wait for good."""

    def __init__(self, pager: PagerSeen) -> None:
        super().__init__()
        self.pager = pager

    async def update(
        self, channel_id: str, ts: str, text: str, *, blocks: Sequence[dict[str, Any]] = ()
    ) -> None:
        await asyncio.wait_for(self.pager.acknowledging.wait(), timeout=2)
        await super().update(channel_id, ts, text, blocks=blocks)


async def test_the_acknowledge_goes_out_beside_the_pinned_status_edit() -> None:
    """outbox.leading_together: the page's acknowledge does not wait for the status edit's
    round trip, and what each confirmed is recorded (neither overwrites the other's)."""
    pager = PagerSeen()
    world = World(chat=ChatWaitingForThePager(pager), pager=pager)
    await world.declare()
    await world.sync()
    pager.acknowledging.clear()
    await world.store.patch_incident(
        NS,
        NAME,
        status=accepted("investigating", acknowledged="2026-11-27T14:03:00Z")
        | {"phase": "investigating"},
    )
    done = await world.sync()
    assert {d.split("/")[0] for d in done[:2]} == {"status", "page"}
    body = await world.body()
    assert body["status"]["pager"]["state"] == "acknowledged"
    assert "investigating" in [a for m, a in world.chat.calls if m == "update"][-1][2]
    assert body["status"]["outbox"] == {}
    assert await world.sync() == [], "both confirmations kept: nothing owed again"


async def test_throttling_waits_for_retry_after_and_other_media_go_on(world: World) -> None:
    await world.declare()
    world.chat.failures.append(DeliveryThrottled("ratelimited", retry_after=30))
    done = await world.sync()
    assert done == ["page/trigger", "notify/teams/triage/sev-2"]
    record = (await world.body())["status"]["outbox"]["channel"]
    assert record["attempts"] == 1
    # Retry-After plus up to a quarter, spread by key so a throttled crowd does not return at once
    retry_at = datetime.fromisoformat(record["nextAttemptAt"].replace("Z", "+00:00"))
    assert NOW + timedelta(seconds=30) <= retry_at <= NOW + timedelta(seconds=37.5)
    assert "ratelimited" in record["lastError"]
    world.clock.current = NOW + timedelta(seconds=10)
    assert await world.sync() == []  # still waiting
    world.clock.current = NOW + timedelta(seconds=38)
    assert (await world.sync())[0] == "channel"
    assert (await world.body())["status"]["outbox"] == {}
    assert world.pager.pages == 1


async def test_a_restart_between_post_and_record_does_not_post_twice(world: World) -> None:
    await world.declare()
    channel = (await world.chat.create_channel("inc-earlier", private=False)).id
    # The process created the channel and posted the status message, then died before
    # writing the message's ts: the outbox still holds the attempt, the message its key.
    await world.chat.post(channel, "status", idempotency_key=f"{NS}/{NAME}/status")
    await world.store.patch_incident(
        NS,
        NAME,
        status={
            "chat": {"channelId": channel, "channelName": "inc-earlier"},
            "outbox": {"status": {"kind": "post-status", "attempts": 1}},
        },
    )
    await world.sync()
    posts = [a for m, a in world.chat.calls if m == "post" and a[0] == channel]
    assert [p[1] for p in posts].count("status") == 1
    found = [a for m, a in world.chat.calls if m == "find_message"]
    assert (channel, f"{NS}/{NAME}/status") in found
    body = await world.body()
    assert body["status"]["chat"]["statusMessageTs"] == world.chat.messages[0].ts
    assert body["status"]["outbox"] == {}


async def test_repeated_failures_degrade_chat_with_an_event_and_recover(world: World) -> None:
    await world.declare()
    for attempt in range(outbox.DEGRADED_AFTER):
        world.chat.failures.append(DeliveryUnavailable("slack is down"))
        world.clock.current = NOW + timedelta(minutes=10 * attempt)
        await world.sync()
    body = await world.body()
    conditions = {c["type"]: c for c in body["status"]["conditions"]}
    assert conditions["ChatDegraded"]["status"] == "True"
    assert "slack is down" in conditions["ChatDegraded"]["message"]
    assert [e for e in world.store.events if e[1] == "ChatDegraded"]
    world.clock.current = NOW + timedelta(hours=1)
    await world.sync()
    body = await world.body()
    conditions = {c["type"]: c for c in body["status"]["conditions"]}
    assert conditions["ChatDegraded"]["status"] == "False"
    assert body["status"]["chat"]["channelId"]


async def test_a_superseded_status_attempt_leaves_the_outbox(world: World) -> None:
    """Chaos finding (CHAOS_SEED=1): an update of the pinned status failed at one version, the
    incident changed, the newer version went out; the old attempt stayed in status.outbox for
    good and kept ChatDegraded True. It is dropped as soon as a newer version is owed."""
    await world.declare()
    await world.sync()
    stale = {"kind": "update-status", "attempts": outbox.DEGRADED_AFTER, "lastError": "slow"}
    await world.store.patch_incident(NS, NAME, status={"outbox": {"status/0123456789ab": stale}})
    assert "status/0123456789ab" in (await world.body())["status"]["outbox"]
    world.clock.current = NOW + timedelta(minutes=30)
    await world.sync()
    body = await world.body()
    assert body["status"]["outbox"] == {}
    conditions = {c["type"]: c["status"] for c in body["status"].get("conditions", [])}
    assert conditions.get("ChatDegraded", "False") == "False"


async def test_private_incidents_get_a_private_channel_and_no_webhooks() -> None:
    world = World(private=True)
    await world.declare()
    await world.sync()
    channel_id = (await world.body())["status"]["chat"]["channelId"]
    assert channel_id in world.chat.private
    assert world.teams.events == []


async def test_private_incidents_are_not_announced_in_shared_channels() -> None:
    """The Severity's announcement channels are shared: a private incident's title and
    service never reach them; its own (private) channel and the pager still get it all."""
    world = World(private=True)
    await world.declare()
    done = await world.sync()
    assert not [key for key in done if key.startswith("announce/")]
    assert world.chat.texts("C0INCIDENTS") == []
    assert not [a for m, a in world.chat.calls if m == "post" and a[0] == "#incidents"]
    body = await world.body()
    assert body["status"]["chat"]["announced"] == []
    assert body["status"]["chat"]["pinned"]
    assert world.pager.pages == 1
    assert await world.sync() == []


async def test_a_retried_channel_creation_never_takes_another_incidents_channel() -> None:
    """Same title, same day: the channel found by name after an unconfirmed create belongs
    to an incident in another namespace, so it is not adopted (it would route that team's
    commands here)."""
    channels = ChannelIndex()
    world = World(channels=channels)
    theirs = await world.chat.create_channel("inc-20261127-checkout-returns-5xx", private=False)
    channels.observe(
        {"metadata": {"namespace": "payments", "name": "other"},
         "status": {"chat": {"channelId": theirs.id}}}
    )  # fmt: skip
    await world.declare()
    await world.store.patch_incident(
        NS, NAME, status={"outbox": {"channel": {"kind": "create-channel", "attempts": 1}}}
    )
    await world.sync()
    ours = (await world.body())["status"]["chat"]["channelId"]
    assert ours
    assert ours != theirs.id
    assert world.chat.channels[ours].name.startswith("inc-20261127-checkout-returns-5xx-")
    assert world.chat.texts(theirs.id) == []


MITIGATION_FAILED = [
    {
        "at": "2026-11-27T14:20:00Z",
        "type": "mitigation",
        "message": "rollback-checkout did not stop the burn",
        "author": "incident-operator",
        "source": "mitigation",
        "key": "mitigation/rollback-checkout/failed",
    },
    {
        "at": "2026-11-27T14:20:00Z",
        "type": "escalated",
        "message": "Mitigation rollback-checkout failed; the responders must take over.",
        "author": "incident-operator",
        "source": "mitigation",
        "key": "mitigation/rollback-checkout/escalated",
    },
]


async def test_a_failed_mitigation_pages_again_with_the_same_key_and_mentions_the_commander(
    world: World,
) -> None:
    await world.declare()
    await world.sync()
    await world.store.patch_incident(
        NS,
        NAME,
        status=accepted("investigating", acknowledged="2026-11-27T14:03:00Z")
        | {"phase": "investigating"},
    )
    await world.sync()  # the page is acknowledged now
    await world.store.append_timeline(NS, NAME, MITIGATION_FAILED)
    escalation = outbox.Entry(
        MITIGATION_FAILED[1]["key"], "escalated", "", "", NOW, "mitigation"
    ).id
    done = await world.sync()
    assert f"page/trigger/{escalation}" in done
    (alert,) = world.pager.alerts
    assert (alert.triggers, alert.state) == (2, "acknowledged")  # appended, still one page
    triggers = [c for c in world.pager.calls if c.action == "trigger"]
    assert [c.dedup_key for c in triggers] == [alert.dedup_key] * 2
    assert triggers[-1].summary is not None
    assert "rollback-checkout failed" in triggers[-1].summary.summary
    pager = (await world.body())["status"]["pager"]
    assert pager["state"] == "acknowledged"
    assert pager["escalations"] == [escalation]
    channel = (await world.body())["status"]["chat"]["channelId"]
    (post,) = [t for t in world.chat.texts(channel) if "responders must take over" in t]
    assert post.endswith("<@U0AAAAAAA>"), "the commander (alice) is mentioned"
    assert await world.sync() == []
    assert len(world.pager.calls) == 3  # trigger, acknowledge, the escalation's trigger


async def test_a_response_policy_escalation_mentions_the_person_it_reached(
    world: World,
) -> None:
    await world.declare()
    await world.sync()
    message = response.escalation_message(
        response.Escalation(1, NOW, response.Target.parse("layer/secondary")), "bob", "sev-2"
    )
    await world.store.patch_incident(NS, NAME, status={"response": {"escalatedTo": ["bob"]}})
    await world.store.append_timeline(
        NS,
        NAME,
        [{"at": "2026-11-27T14:05:00Z", "type": "escalated", "message": message,
          "source": "operator", "key": "escalation/1"}],
    )  # fmt: skip
    done = await world.sync()
    assert not [k for k in done if k.startswith("page/")], "no escalations[] record: no page"
    channel = (await world.body())["status"]["chat"]["channelId"]
    (post,) = [t for t in world.chat.texts(channel) if "escalation level 1" in t]
    assert post.endswith("<@U0BBBBBBB>")
    assert "<@U0AAAAAAA>" not in post


class LifecycleRacesComms(FakeStore):
    """The lifecycle handler writes its condition between the comms read and its write, once."""

    def __init__(self) -> None:
        super().__init__()
        self.conflicts = 0
        self.raced = False

    async def patch_incident(self, namespace: str, name: str, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("resource_version") is not None and not self.raced:
            self.raced = True
            current = self.incidents[(namespace, name)]
            refused = {
                "type": "TransitionRefused",
                "status": "True",
                "reason": "RolesUnfilled",
                "message": "m",
                "lastTransitionTime": "2026-11-27T14:00:00Z",
            }
            conditions = [*(current.get("status") or {}).get("conditions", []), refused]
            await super().patch_incident(namespace, name, status={"conditions": conditions})
        try:
            return await super().patch_incident(namespace, name, **kwargs)
        except Conflict:
            self.conflicts += 1
            raise


async def test_degraded_condition_is_rewritten_onto_a_concurrent_lifecycle_write() -> None:
    store = LifecycleRacesComms()
    world = World(store=store)
    await world.declare()
    for attempt in range(outbox.DEGRADED_AFTER):
        world.chat.failures.append(DeliveryUnavailable("slack is down"))
        world.clock.current = NOW + timedelta(minutes=10 * attempt)
        await world.sync()
    assert store.conflicts == 1
    conditions = {c["type"]: c["status"] for c in (await world.body())["status"]["conditions"]}
    assert conditions["ChatDegraded"] == "True"
    assert conditions["TransitionRefused"] == "True", "the lifecycle's condition survived"
    assert len([e for e in store.events if e[1] == "ChatDegraded"]) == 1, "announced once"


class CountingStore(FakeStore):
    """Counts status writes (each one a request and a watch event on the API server)."""

    def __init__(self) -> None:
        super().__init__()
        self.status_writes = 0

    async def patch_incident(self, namespace: str, name: str, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("status") is not None:
            self.status_writes += 1
        return await super().patch_incident(namespace, name, **kwargs)


class CountingReads(CountingStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get_incident(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.reads += 1
        return await super().get_incident(namespace, name)


async def test_a_watch_body_at_least_as_new_as_the_own_writes_saves_the_read() -> None:
    world = World(store=CountingReads())
    store = world.store
    assert isinstance(store, CountingReads)
    await world.declare()
    await world.sync()
    await investigating(world)
    event = await world.body()
    store.reads = 0
    done = (await world.service.sync(NS, NAME, event)).done
    assert [k.split("/")[0] for k in done] == ["status", "page", "topic", "notify"]  # outbox.FIRST
    # The first pass acts on the event's body; later passes on the answers to its own writes.
    assert store.reads == 0


async def test_a_late_event_older_than_the_own_writes_is_read_fresh_not_acted_on() -> None:
    """Acting on a body from before the sync's own write would deliver again what that
    write recorded: the event that says "state-changed not yet posted" arrives after the post."""
    world = World(store=CountingReads())
    store = world.store
    assert isinstance(store, CountingReads)
    await world.declare()
    await world.sync()
    await investigating(world)
    before_delivery = await world.body()  # what a late watch event would carry
    await world.sync()
    posted = len(world.chat.messages)
    updates = [c for c in world.chat.calls if c[0] == "update"]
    notified = world.teams.attempts
    store.reads = 0
    assert await world.service.sync(NS, NAME, before_delivery) == Delivery()
    assert store.reads == 1
    assert len(world.chat.messages) == posted
    assert [c for c in world.chat.calls if c[0] == "update"] == updates
    assert world.teams.attempts == notified  # the webhook is not sent again


class DiesInSetTopic(FakeChat):
    async def set_topic(self, channel_id: str, topic: str) -> None:
        raise SystemExit("killed mid-call")  # not an adapter error: the process is gone


async def investigating(world: World) -> None:
    await world.store.patch_incident(
        NS,
        NAME,
        status=accepted("investigating", acknowledged="2026-11-27T14:03:00Z")
        | {"phase": "investigating"},
    )


async def test_only_creating_operations_cost_a_write_before_their_call() -> None:
    """Results ride with the next write; a repeatable operation has none before it (issue 15).

    Moving to investigating owes the status edit, the topic and the page acknowledge (all
    repeatable) and the webhook (it creates a delivery): one attempt record before the
    webhook, carrying the three results, and one write of its result.
    """
    world = World(store=CountingStore())
    store = world.store
    assert isinstance(store, CountingStore)
    await world.declare()
    await world.sync()
    await investigating(world)
    before = store.status_writes
    done = await world.sync()
    assert sorted(k.split("/")[0] for k in done) == ["notify", "page", "status", "topic"]
    assert store.status_writes - before == 2
    status = (await world.body())["status"]
    assert status["pager"]["state"] == "acknowledged"
    assert status["chat"]["topicDigest"]
    assert status.get("outbox", {}) == {}


async def test_a_death_mid_call_keeps_what_the_earlier_call_confirmed(world: World) -> None:
    await world.declare()
    await world.sync()
    await investigating(world)
    world.service._chat = DiesInSetTopic(
        channels=world.chat.channels, messages=world.chat.messages, pins=world.chat.pins
    )
    messages = len(world.chat.messages)
    with pytest.raises(SystemExit):
        await world.sync()
    status = (await world.body())["status"]
    channel = status["chat"]["channelId"]
    # The status message was edited; its result and the topic were repeatable, so nothing was
    # on record before them and nothing of theirs is stored yet.
    assert "investigating" in world.chat.texts(channel)[0]
    assert status.get("outbox", {}) == {}
    # The restarted process repeats the edit and the topic, and creates nothing twice.
    world.service._chat = world.chat
    await world.sync()
    status = (await world.body())["status"]
    assert status.get("outbox", {}) == {}
    assert "investigating" in world.chat.texts(channel)[0]
    assert len(world.chat.messages) == messages  # edited in place, nothing posted twice
    assert status["pager"]["state"] == "acknowledged"


async def test_an_unconfirmed_trigger_of_a_resolved_incident_is_resolved_and_drained(
    world: World,
) -> None:
    """Found by the chaos run: killed right after the trigger call (its result unwritten),
    the incident resolved seconds later; the trigger attempt stayed in status.outbox for good
    and the page stayed open. A possibly open page is resolved; then the record goes."""
    await world.declare()
    await world.store.patch_incident(
        NS,
        NAME,
        status={
            "phase": "resolved",
            "outbox": {"page/trigger": {"kind": "page-trigger", "attempts": 1}},
        },
    )
    await world.sync()
    status = (await world.body())["status"]
    assert [c.action.value for c in world.pager.calls] == ["resolve"]
    assert status["pager"]["state"] == "resolved"
    assert "page/trigger" not in status["outbox"]


# --- escalation that reaches people (issue 19 item 2) -------------------------------------

ESCALATIONS = [
    {"level": 1, "target": "layer/secondary", "person": "bob", "at": "2026-11-27T14:10:00Z"},
    {"level": 2, "target": "person/dave", "person": "dave", "at": "2026-11-27T14:20:00Z"},
]


async def escalate(world: World, *records: dict[str, Any]) -> None:
    await world.store.patch_incident(
        NS, NAME, status={"response": {"escalatedTo": ["bob", "dave"], "escalations": records}}
    )


class DiesInTrigger(FakePager):
    async def trigger(self, summary: Any, *, dedup_key: str, urgency: str) -> None:
        await super().trigger(summary, dedup_key=dedup_key, urgency=urgency)
        raise SystemExit("killed after the call, before its result was written")


async def test_each_escalation_step_pages_on_its_own_key_and_messages_its_person(
    world: World,
) -> None:
    await world.declare()
    await world.sync()
    await escalate(world, *ESCALATIONS)
    done = await world.sync()
    assert {"page/escalation/1", "page/escalation/2", "dm/1", "dm/2"} <= set(done)
    base = world.pager.alerts[0].dedup_key
    keys = [a.dedup_key for a in world.pager.alerts]
    assert keys == [base, f"{base}/escalation/1", f"{base}/escalation/2"]
    assert world.pager.alerts[1].summary.title.startswith("[escalation 1: bob]")
    status = (await world.body())["status"]
    channel = status["chat"]["channelId"]
    for user in ("U0BBBBBBB", "U0DDDDDDD"):
        (dm,) = [m for m in world.chat.messages if m.channel == f"D{user}"]
        assert f"<#{channel}>" in dm.text
        assert "/incident ack" in dm.text
    assert status["chat"]["directMessages"] == [1, 2]
    assert [(p["level"], p["state"]) for p in status["pager"]["escalationPages"]] == [
        (1, "triggered"),
        (2, "triggered"),
    ]
    assert await world.sync() == [], "once: nothing is owed again"


async def test_acknowledging_the_incident_acknowledges_every_escalation_page_then_resolves(
    world: World,
) -> None:
    await world.declare()
    await world.sync()
    await escalate(world, *ESCALATIONS)
    await world.sync()
    await investigating(world)
    done = await world.sync()
    assert {"page/acknowledge", "page/escalation/1/acknowledge"} <= set(done)
    assert {a.state for a in world.pager.alerts} == {"acknowledged"}
    # Resolution: the response policy drops status.response; the pager's record still
    # knows the escalation pages and resolves them all.
    await world.store.patch_incident(NS, NAME, status={"phase": "resolved", "response": None})
    await world.sync()
    assert {a.state for a in world.pager.alerts} == {"resolved"}
    status = (await world.body())["status"]
    assert {p["state"] for p in status["pager"]["escalationPages"]} == {"resolved"}
    assert status.get("outbox", {}) == {}


async def test_an_escalation_after_the_acknowledgement_owes_no_page_and_no_message(
    world: World,
) -> None:
    await world.declare()
    await world.sync()
    await investigating(world)
    await world.sync()
    await escalate(world, ESCALATIONS[0])
    done = await world.sync()
    assert [k for k in done if k.startswith(("page/", "dm/"))] == []
    assert [m for m in world.chat.messages if m.channel.startswith("D")] == []


async def test_a_death_after_an_escalation_trigger_repeats_it_on_the_same_alert(
    world: World,
) -> None:
    await world.declare()
    await world.sync()
    await escalate(world, ESCALATIONS[0])
    dying = DiesInTrigger(alerts=world.pager.alerts, calls=world.pager.calls)
    world.service._pager = dying
    with pytest.raises(SystemExit):
        await world.sync()
    status = (await world.body())["status"]
    assert status["outbox"]["page/escalation/1"]["kind"] == "page-escalate"
    world.service._pager = world.pager
    await world.sync()
    escalation_alerts = [a for a in world.pager.alerts if a.dedup_key.endswith("/escalation/1")]
    assert [(a.triggers, a.state) for a in escalation_alerts] == [(2, "triggered")]
    status = (await world.body())["status"]
    assert status.get("outbox", {}) == {}
    assert status["pager"]["escalationPages"][0]["state"] == "triggered"


async def test_the_channel_index_knows_a_new_channel_from_the_write_not_the_watch() -> None:
    """Commands typed in a new channel before its watch event are routed: the comms write
    that names the channel tells the index at once (the watch alone lagged seconds behind
    with many incidents changing)."""
    channels = ChannelIndex()
    world = World(channels=channels)
    await world.declare()
    await world.sync()
    ours = (await world.body())["status"]["chat"]["channelId"]
    assert ours
    assert channels.incidents(ours) == ((NS, NAME),)
    # The watch still has the last word on anything else.
    channels.observe({"metadata": {"namespace": NS, "name": NAME}, "status": {}}, deleted=True)
    channels.wrote({"metadata": {"namespace": NS, "name": NAME}, "status": {"chat": {}}})
    assert channels.incidents(ours) == ()
