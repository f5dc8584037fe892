"""``/incident stakeholder-update [--now] [TEXT]``: the comms lead edits or sends early."""

from __future__ import annotations

import pytest

from incident_operator.domain.slack_requests import Command, Verb, parse_command
from incident_operator.errors import CommandRefused
from tests.unit.services.test_chat_commands import NAME, NS, run, spec, world


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("stakeholder-update", Command(Verb.STAKEHOLDER_UPDATE)),
        ("stakeholder-update --now", Command(Verb.STAKEHOLDER_UPDATE, now=True)),
        (
            "stakeholder-update --NOW Rolling back  now",
            Command(Verb.STAKEHOLDER_UPDATE, text="Rolling back  now", now=True),
        ),
        (
            "stakeholder-update Fix deploying",
            Command(Verb.STAKEHOLDER_UPDATE, text="Fix deploying"),
        ),
    ],
)
def test_parse(text: str, command: Command) -> None:
    assert parse_command(text) == command


async def test_text_then_now_write_the_spec_and_record_who() -> None:
    store, _, service = world("investigating")
    reply = await run(service, "stakeholder-update Rolling back the deploy")
    assert reply == f"{NS}/{NAME}: text set for the next stakeholder update."
    assert spec(store)["stakeholderUpdate"] == {"text": "Rolling back the deploy"}
    reply = await run(service, "stakeholder-update --now")
    assert reply == f"{NS}/{NAME}: stakeholder update requested; it goes out within seconds."
    assert spec(store)["stakeholderUpdate"] == {
        "text": "Rolling back the deploy",
        "requestedAt": "2026-11-27T14:05:00Z",
    }
    commands = [e for e in store.timeline(NS, NAME) if e["type"] == "chat-command"]
    assert [e["message"] for e in commands] == ["/incident stakeholder-update"]  # one request id
    assert commands[0]["author"] == "alice"


async def test_without_arguments_shows_the_latest_update() -> None:
    store, _, service = world("investigating")
    assert await run(service, "stakeholder-update") == "No stakeholder update yet.\nNext due: none"
    store.incidents[(NS, NAME)]["status"]["stakeholders"] = {
        "sequence": 1,
        "text": "*Stakeholder update #1*",
        "nextDueAt": "2026-11-27T14:30:00Z",
    }
    assert await run(service, "stakeholder-update") == (
        "*Stakeholder update #1*\nNext due: 2026-11-27T14:30:00Z"
    )
    assert "stakeholderUpdate" not in spec(store)


async def test_a_text_too_long_is_refused() -> None:
    store, _, service = world("investigating")
    with pytest.raises(CommandRefused, match="at most 1000 characters"):
        await run(service, "stakeholder-update " + "x" * 1001)
    assert "stakeholderUpdate" not in spec(store)
