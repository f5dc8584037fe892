"""SlackChat's views.open/views.update (the real slack_sdk client) against the Slack fake over
real localhost HTTP, and the fake's own modal contract: a trigger_id is single use, expires
after 3 seconds, and one Slack never issued is invalid; submissions come back shaped as
``view.state.values[block_id][action_id]``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from incident_operator.adapters.slack import SlackChat
from incident_operator.domain.chat_declare import (
    ServiceChoice,
    SeverityChoice,
    declare_view,
    parse_declare,
)
from incident_operator.errors import DeliveryRejected
from tests.fakes.slack import FakeSlack

TOKEN = "xoxb-views-0000"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def world() -> AsyncIterator[tuple[FakeSlack, SlackChat, Clock]]:
    clock = Clock()
    fake = FakeSlack(TOKEN, clock=clock)
    await fake.start()
    try:
        yield fake, SlackChat(TOKEN, base_url=fake.base_url, timeout=5), clock
    finally:
        await fake.stop()


VIEW = declare_view(
    [ServiceChoice("shop", "checkout", "payments")],
    [SeverityChoice("sev-2", 2)],
    default_severity="sev-2",
)


async def code_of(chat: SlackChat, trigger: str) -> str:
    with pytest.raises(DeliveryRejected) as refused:
        await chat.open_view(trigger, VIEW)
    return refused.value.code


async def test_a_trigger_opens_one_modal_once(world: tuple[FakeSlack, SlackChat, Clock]) -> None:
    slack, chat, _ = world
    trigger = slack.trigger()
    view_id = await chat.open_view(trigger, VIEW)
    assert slack.views[view_id]["callback_id"] == VIEW["callback_id"]
    assert await code_of(chat, trigger) == "exchanged_trigger_id"


async def test_a_stale_or_unknown_trigger_is_refused(
    world: tuple[FakeSlack, SlackChat, Clock],
) -> None:
    slack, chat, clock = world
    trigger = slack.trigger()
    clock.now += 3.5
    assert await code_of(chat, trigger) == "expired_trigger_id"
    assert await code_of(chat, "12345.98765.abcdef") == "invalid_trigger_id"
    assert await code_of(chat, "not-a-trigger") == "invalid_trigger_id"
    assert slack.views == {}


async def test_views_are_checked_against_slacks_limits(
    world: tuple[FakeSlack, SlackChat, Clock],
) -> None:
    slack, chat, _ = world
    too_many = declare_view(
        [], [SeverityChoice("sev-2")], default_severity="sev-2", private_metadata=""
    )
    too_many["blocks"][1]["element"]["options"] = [
        {"text": {"type": "plain_text", "text": str(i)}, "value": str(i)} for i in range(101)
    ]
    with pytest.raises(DeliveryRejected) as refused:
        await chat.open_view(slack.trigger(), too_many)
    assert refused.value.code == "invalid_arguments"


async def test_update_replaces_a_view_unless_its_hash_is_stale(
    world: tuple[FakeSlack, SlackChat, Clock],
) -> None:
    slack, chat, _ = world
    view_id = await chat.open_view(slack.trigger(), VIEW)
    first_hash = slack.views[view_id]["hash"]
    await chat.update_view(view_id, {**VIEW, "title": {"type": "plain_text", "text": "Again"}})
    assert slack.views[view_id]["title"]["text"] == "Again"
    with pytest.raises(DeliveryRejected) as refused:
        await chat.update_view(view_id, VIEW, first_hash)
    assert refused.value.code == "hash_conflict"
    with pytest.raises(DeliveryRejected) as missing:
        await chat.update_view("VNOPE", VIEW)
    assert missing.value.code == "not_found"


async def test_a_submission_round_trips_through_the_parser(
    world: tuple[FakeSlack, SlackChat, Clock],
) -> None:
    slack, chat, _ = world
    view_id = await chat.open_view(slack.trigger(), VIEW)
    payload = slack.submission(
        view_id, title="Checkout down", service="shop/checkout", severity="sev-2", private=True
    )
    assert payload["type"] == "view_submission"
    assert payload["view"]["id"] == view_id
    submitted = parse_declare(payload["view"])
    assert (submitted.title, submitted.service, submitted.severity, submitted.private) == (
        "Checkout down",
        "shop/checkout",
        "sev-2",
        True,
    )
