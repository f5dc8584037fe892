"""SlackChat (the real slack_sdk client) against the Slack fake over real localhost HTTP.

Each Chat method is called twice where the outbox may repeat it: the second call must be a
success that changes nothing. Faults go through the same path as in production: HTTP 429 with
Retry-After, a 5xx from a proxy, a bad token answered with ``ok: false``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from incident_operator.adapters.slack import EVENT_TYPE, SlackChat
from incident_operator.domain.workflow_actions import Card, CardButton, CardField, card_blocks
from incident_operator.errors import (
    ChannelNameTaken,
    DeliveryRejected,
    DeliveryThrottled,
    DeliveryUnavailable,
)
from tests.fakes.slack import BOT_USER, FakeSlack, Limit

TOKEN = "xoxb-1234-5678-s3cr3tT0kenValue"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(TOKEN)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def chat(slack: FakeSlack) -> SlackChat:
    return SlackChat(TOKEN, base_url=slack.base_url, timeout=5)


class Clock:
    """The fake's rate-limit clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def limited() -> AsyncIterator[tuple[FakeSlack, SlackChat, Clock]]:
    """The fake with Slack's rate limits on, paced by a hand-moved clock."""
    clock = Clock()
    fake = FakeSlack(TOKEN, rate_limits=True, clock=clock)
    await fake.start()
    try:
        yield fake, SlackChat(TOKEN, base_url=fake.base_url, timeout=5), clock
    finally:
        await fake.stop()


async def test_create_then_name_taken_then_find(slack: FakeSlack, chat: SlackChat) -> None:
    created = await chat.create_channel("inc-20261127-checkout", private=False)
    assert created.name == "inc-20261127-checkout"
    assert created.id.startswith("C")
    with pytest.raises(ChannelNameTaken) as taken:
        await chat.create_channel("inc-20261127-checkout", private=True)
    assert taken.value.code == "name_taken"
    assert await chat.find_channel("inc-20261127-checkout") == created
    assert await chat.find_channel("#inc-20261127-checkout") == created
    assert await chat.find_channel("inc-nope") is None
    assert slack.calls[0].authorization == f"Bearer {TOKEN}"


async def test_find_channel_pages_and_sees_private_not_archived(
    slack: FakeSlack, chat: SlackChat
) -> None:
    for i in range(450):
        slack.add_channel(f"chan-{i}")
    private = slack.add_channel("secret-inc", private=True)
    slack.add_channel("old-inc", archived=True)
    found = await chat.find_channel("secret-inc")
    assert found is not None
    assert found.id == private.id
    lists = [c for c in slack.calls if c.method == "conversations.list"]
    assert len(lists) == 3  # 200 + 200 + 52 channels
    assert lists[1].params["cursor"]
    assert await chat.find_channel("old-inc") is None


async def test_post_then_find_message_by_key_and_update(slack: FakeSlack, chat: SlackChat) -> None:
    channel = await chat.create_channel("inc-post", private=False)
    assert await chat.find_message(channel.id, "shop/checkout/status") is None
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    ts = await chat.post(channel.id, "hi", blocks=blocks, idempotency_key="shop/checkout/status")
    other = await chat.post("#inc-post", "second", idempotency_key="other")
    assert float(other) > float(ts)
    stored = slack.channels[channel.id].messages[0]
    assert stored["metadata"] == {
        "event_type": EVENT_TYPE,
        "event_payload": {"key": "shop/checkout/status"},
    }
    assert stored["blocks"] == blocks
    assert await chat.find_message(channel.id, "shop/checkout/status") == ts
    assert await chat.find_message(channel.id, "missing") is None

    await chat.update(channel.id, ts, "updated", blocks=blocks)
    assert slack.channels[channel.id].messages[0]["text"] == "updated"
    with pytest.raises(DeliveryRejected) as missing:
        await chat.update(channel.id, "1.000001", "x")
    assert missing.value.code == "message_not_found"


async def test_find_message_scans_a_bounded_number_of_pages(
    slack: FakeSlack, chat: SlackChat
) -> None:
    channel = await chat.create_channel("inc-busy", private=False)
    await chat.post(channel.id, "status", idempotency_key="old-key")
    for i in range(250):
        slack.add_message(channel.id, f"chatter {i}")
    assert await chat.find_message(channel.id, "old-key") is not None  # 3rd page of 100
    for i in range(100):
        slack.add_message(channel.id, f"more {i}")
    before = len(slack.calls)
    assert await chat.find_message(channel.id, "old-key") is None  # beyond 3 pages
    assert len(slack.calls) - before == 3


async def test_pin_invite_archive_repeat_as_success(slack: FakeSlack, chat: SlackChat) -> None:
    channel = await chat.create_channel("inc-repeat", private=True)
    ts = await chat.post(channel.id, "status")
    await chat.pin(channel.id, ts)
    await chat.pin(channel.id, ts)
    assert slack.channels[channel.id].pins == {ts}

    await chat.invite(channel.id, ["U0AAAAAAA", "U0BBBBBBB"])
    await chat.invite(channel.id, ["U0AAAAAAA", "U0BBBBBBB", "U0CCCCCCC", BOT_USER])
    assert slack.channels[channel.id].members == {BOT_USER, "U0AAAAAAA", "U0BBBBBBB", "U0CCCCCCC"}
    errors = [c.error for c in slack.calls if c.method == "conversations.invite"]
    assert errors.count("already_in_channel") == 2
    assert "cant_invite_self" in errors

    await chat.set_topic(channel.id, "SEV-2 | investigating")
    assert slack.channels[channel.id].topic == "SEV-2 | investigating"

    await chat.archive(channel.id)
    await chat.archive(channel.id)
    assert slack.channels[channel.id].is_archived
    assert [c.error for c in slack.calls if c.method == "conversations.archive"] == [
        None,
        "already_archived",
    ]


async def test_message_text_for_a_pinned_message(slack: FakeSlack, chat: SlackChat) -> None:
    channel = await chat.create_channel("inc-read", private=False)
    first = slack.add_message(channel.id, "rolled back checkout to v41")
    slack.add_message(channel.id, "later chatter")
    assert await chat.message_text(channel.id, first) == "rolled back checkout to v41"
    assert await chat.message_text(channel.id, "1600000000.000001") is None


async def test_429_is_throttled_with_retry_after(slack: FakeSlack, chat: SlackChat) -> None:
    slack.throttle_next(1, retry_after=7)
    with pytest.raises(DeliveryThrottled) as throttled:
        await chat.create_channel("inc-throttled", private=False)
    assert throttled.value.retry_after == 7.0
    assert [c.status for c in slack.calls] == [429]  # slack_sdk did not retry by itself
    assert (await chat.create_channel("inc-throttled", private=False)).name == "inc-throttled"


async def test_5xx_is_unavailable(slack: FakeSlack, chat: SlackChat) -> None:
    slack.fail_next(1, status=503)
    with pytest.raises(DeliveryUnavailable, match="HTTP 503"):
        await chat.post("#general", "hi")
    assert len(slack.calls) == 1


async def test_dropped_connection_is_unavailable_and_not_retried_by_slack_sdk(
    slack: FakeSlack, chat: SlackChat
) -> None:
    slack.disconnect_next(1)
    with pytest.raises(DeliveryUnavailable):
        await chat.set_topic("C00000001", "topic")
    assert [c.status for c in slack.calls] == [0]  # slack_sdk's retry handlers are off


async def test_connection_refused_is_unavailable(slack: FakeSlack) -> None:
    url = slack.base_url
    await slack.stop()
    with pytest.raises(DeliveryUnavailable):
        await SlackChat(TOKEN, base_url=url, timeout=2).create_channel("x", private=False)


async def test_invalid_token_is_rejected_without_the_token(slack: FakeSlack) -> None:
    wrong = "xoxb-9999-wrong-t0kenValue"
    with pytest.raises(DeliveryRejected) as rejected:
        await SlackChat(wrong, base_url=slack.base_url).create_channel("x", private=False)
    assert rejected.value.code == "invalid_auth"
    assert wrong not in str(rejected.value)
    assert TOKEN not in str(rejected.value)
    assert slack.calls[-1].error == "invalid_auth"


async def test_unknown_channel_is_rejected_with_code(chat: SlackChat) -> None:
    with pytest.raises(DeliveryRejected) as rejected:
        await chat.post("C99999999", "hi")
    assert rejected.value.code == "channel_not_found"
    assert not isinstance(rejected.value, ChannelNameTaken)


async def test_per_method_tier_limit_is_429_with_retry_after_from_the_window(
    limited: tuple[FakeSlack, SlackChat, Clock],
) -> None:
    slack, chat, clock = limited
    channel = await chat.create_channel("inc-limited", private=False)
    await chat.set_topic(channel.id, "the 1st")
    clock.now += 10
    for i in range(18):  # conversations.setTopic is Tier 2: 20 per minute
        await chat.set_topic(channel.id, f"topic {i}")
    await chat.set_topic(channel.id, "the 20th")
    with pytest.raises(DeliveryThrottled) as throttled:
        await chat.set_topic(channel.id, "one too many")
    assert throttled.value.retry_after == 50.0  # the 1st leaves the minute 50 s from now
    assert slack.calls[-1].status == 429
    assert slack.calls[-1].error == "ratelimited"
    assert slack.rate_limited == 1
    assert slack.channels[channel.id].topic == "the 20th"  # a throttled call changes nothing
    # Limits are per method: chat.update (Tier 3) and posting still go through.
    ts = await chat.post(channel.id, "status")
    await chat.update(channel.id, ts, "status, updated")
    clock.now += 30.5
    with pytest.raises(DeliveryThrottled) as later:
        await chat.set_topic(channel.id, "still too many")
    assert later.value.retry_after == 20.0  # 19.5 s, in whole seconds as Slack sends it
    clock.now += 19.5  # the window has slid past the 1st setTopic
    await chat.set_topic(channel.id, "room again")
    assert slack.channels[channel.id].topic == "room again"


async def test_post_message_is_about_one_per_second_per_channel_with_bursts(
    limited: tuple[FakeSlack, SlackChat, Clock],
) -> None:
    slack, chat, clock = limited
    first = await chat.create_channel("inc-chatty", private=False)
    second = await chat.create_channel("inc-quiet", private=False)
    for i in range(3):  # a short burst is allowed
        await chat.post(first.id, f"burst {i}")
    with pytest.raises(DeliveryThrottled) as throttled:
        await chat.post("#inc-chatty", "too fast")  # by name: the same channel's window
    assert throttled.value.retry_after == 3.0
    await chat.post(second.id, "another channel has its own window")
    clock.now += 1
    with pytest.raises(DeliveryThrottled) as still:
        await chat.post(first.id, "still too fast")
    assert still.value.retry_after == 2.0
    clock.now += 2
    await chat.post(first.id, "paced")
    assert len(slack.channels[first.id].messages) == 4
    assert slack.throttled() == slack.rate_limited == 2


async def test_rate_limits_are_off_unless_asked(slack: FakeSlack, chat: SlackChat) -> None:
    channel = await chat.create_channel("inc-unlimited", private=False)
    for i in range(30):
        await chat.set_topic(channel.id, f"topic {i}")
    assert slack.rate_limited == 0


async def test_override_one_limit(limited: tuple[FakeSlack, SlackChat, Clock]) -> None:
    slack, chat, _ = limited
    slack.limits["conversations.create"] = Limit(1, 10.0)
    await chat.create_channel("inc-one", private=False)
    with pytest.raises(DeliveryThrottled) as throttled:
        await chat.create_channel("inc-two", private=False)
    assert throttled.value.retry_after == 10.0


async def test_not_in_channel_is_rejected_with_code(slack: FakeSlack, chat: SlackChat) -> None:
    outside = slack.add_channel("general", member=False)
    for attempt in (
        chat.post("#general", "hi"),
        chat.set_topic(outside.id, "topic"),
        chat.invite(outside.id, ["U0AAAAAAA"]),
        chat.find_message(outside.id, "key"),
    ):
        with pytest.raises(DeliveryRejected) as rejected:
            await attempt
        assert rejected.value.code == "not_in_channel"
    assert outside.messages == []
    assert outside.members == set()

    # Its own channel: a member until a person removes it, then not_in_channel too.
    own = await chat.create_channel("inc-kicked", private=False)
    await chat.post(own.id, "status")
    slack.remove_member(own.id)
    with pytest.raises(DeliveryRejected) as kicked:
        await chat.post(own.id, "after the kick")
    assert kicked.value.code == "not_in_channel"
    assert len(slack.channels[own.id].messages) == 1


async def test_private_channel_without_the_bot_is_invisible(
    slack: FakeSlack, chat: SlackChat
) -> None:
    hidden = slack.add_channel("secret-ops", private=True, member=False)
    assert await chat.find_channel("secret-ops") is None
    with pytest.raises(DeliveryRejected) as rejected:
        await chat.post(hidden.id, "hi")
    assert rejected.value.code == "channel_not_found"


async def test_user_group_members_and_their_errors(slack: FakeSlack, chat: SlackChat) -> None:
    slack.add_usergroup("S0SEARCH1", "U0AAAAAAA", "W0BBBBBBB")
    assert await chat.group_members("S0SEARCH1") == ("U0AAAAAAA", "W0BBBBBBB")
    with pytest.raises(DeliveryRejected) as unknown:
        await chat.group_members("S0NOPE")
    assert unknown.value.code == "no_such_subteam"
    slack.scopes = {"chat:write", "channels:manage"}
    with pytest.raises(DeliveryRejected) as scope:
        await chat.group_members("S0SEARCH1")
    assert scope.value.code == "missing_scope"
    assert TOKEN not in str(scope.value)
    slack.scopes = None
    slack.throttle_next(1, retry_after=7)
    with pytest.raises(DeliveryThrottled) as throttled:
        await chat.group_members("S0SEARCH1")
    assert throttled.value.retry_after == 7


async def test_a_workflow_card_is_valid_block_kit_and_out_of_bounds_blocks_are_refused(
    slack: FakeSlack, chat: SlackChat
) -> None:
    """The card the operator renders passes Block Kit's bounds as the fake enforces them;
    what Slack documents as too much (11 fields, a 76-character button) is invalid_blocks."""
    channel = await chat.create_channel("inc-cards", private=False)
    card = Card(
        "t" * 400,
        tuple(CardField(f"label {i}", "v" * 3000) for i in range(12)),
        tuple(CardButton("b" * 100, f"https://x.example.com/{i}") for i in range(7)),
    )
    blocks = card_blocks(card, "*workflow-message* hello")
    await chat.post(channel.id, "*workflow-message* hello", blocks=blocks, idempotency_key="k")
    (message,) = slack.channels[channel.id].messages
    assert message["blocks"] == blocks
    fields = [{"type": "mrkdwn", "text": str(i)} for i in range(11)]
    with pytest.raises(DeliveryRejected) as refused:
        await chat.post(channel.id, "x", blocks=[{"type": "section", "fields": fields}])
    assert refused.value.code == "invalid_blocks"
    button = {"type": "button", "text": {"type": "plain_text", "text": "b" * 76}, "url": "u"}
    with pytest.raises(DeliveryRejected):
        await chat.post(channel.id, "x", blocks=[{"type": "actions", "elements": [button]}])
    with pytest.raises(DeliveryRejected):
        await chat.post(channel.id, "x", blocks=[{"type": "rich_text_injected"}])
