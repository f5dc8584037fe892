"""ChatCommandService on the in-memory store and chat: what each /incident command writes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from incident_operator.domain.slack_requests import ReactionAdded, parse_command
from incident_operator.errors import ChannelNameTaken, CommandRefused, DeliveryThrottled
from incident_operator.services.chat_channels import ChannelIndex
from incident_operator.services.chat_commands import (
    ChatCommandConfig,
    ChatCommandService,
    CommandContext,
    declared_name,
)
from incident_operator.services.status_page import StatusPageIndex
from tests.builders.objects import incident, severity
from tests.fakes.ports.chat import FakeChat
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.store import FakeStore
from tests.unit.web.test_status_page_catalog_web import service as catalog_service

NOW = datetime(2026, 11, 27, 14, 5, tzinfo=UTC)
NS, NAME, CHANNEL = "shop", "checkout-errors", "C0INCIDENT"
ALICE, BOB, STRANGER = "U0AAAAAAA", "U0BBBBBBB", "U0ZZZZZZZ"


def world(
    state: str = "triage", *, with_rotation: bool = True
) -> tuple[FakeStore, FakeChat, ChatCommandService]:
    store = FakeStore()
    store.incidents[(NS, NAME)] = incident(
        NAME, NS, metadata={"generation": 1}, state=state, status={"chat": {"channelId": CHANNEL}}
    )
    store.severities["sev-2"] = (
        severity(rotationRef="checkout-oncall") if with_rotation else severity()
    )
    store.severities["sev-1"] = severity("sev-1", 1)
    store.rotations[(NS, "checkout-oncall")] = {
        "metadata": {"name": "checkout-oncall", "namespace": NS},
        "spec": {
            "timeZone": "UTC",
            "participants": [
                {"name": "alice", "slackUserId": ALICE},
                {"name": "bob", "slackUserId": BOB},
                {"name": "carol"},
            ],
            "layers": [],
        },
    }
    chat = FakeChat()
    service = ChatCommandService(
        store, FakeClock(NOW), chat, ChatCommandConfig(default_namespace="incidents")
    )
    return store, chat, service


def ctx(user: str = ALICE, trigger: str = "trig-1", channel: str = CHANNEL) -> CommandContext:
    return CommandContext(channel_id=channel, user_id=user, user_name="alice", request_id=trigger)


def spec(store: FakeStore) -> dict[str, Any]:
    return dict(store.incidents[(NS, NAME)]["spec"])


async def run(service: ChatCommandService, text: str, context: CommandContext | None = None) -> str:
    return await service.execute(parse_command(text), context or ctx())


async def test_ack_moves_triage_to_investigating_once() -> None:
    store, _, service = world()
    assert await run(service, "ack") == f"Acknowledged {NS}/{NAME}: investigating."
    assert spec(store)["state"] == "investigating"
    generation = store.incidents[(NS, NAME)]["metadata"]["generation"]
    assert (
        await run(service, "ack", ctx(trigger="trig-2")) == f"{NS}/{NAME} is already investigating."
    )
    assert store.incidents[(NS, NAME)]["metadata"]["generation"] == generation
    (entry,) = store.timeline(NS, NAME)
    assert entry == {
        "at": "2026-11-27T14:05:00Z",
        "type": "chat-command",
        "message": "/incident ack",
        "author": "alice",
        "source": "slack",
        "key": "slack/command/trig-1",
    }


async def test_sev_sets_the_severity_ref_and_refuses_unknown() -> None:
    store, _, service = world()
    assert await run(service, "sev 1") == f"{NS}/{NAME}: severity sev-1."
    assert spec(store)["severityRef"] == "sev-1"
    with pytest.raises(CommandRefused, match="no Severity sev-4"):
        await run(service, "sev 4")
    assert spec(store)["severityRef"] == "sev-1"


async def test_role_by_mention_maps_to_the_participant_name() -> None:
    store, _, service = world()
    reply = await run(service, f"role commander <@{BOB}|bobby>")
    assert reply == f"{NS}/{NAME}: commander is bob."
    assert spec(store)["roles"] == {"commander": "bob"}
    await run(service, "role scribe carol", ctx(trigger="t2"))
    assert spec(store)["roles"] == {"commander": "bob", "scribe": "carol"}
    messages = [e["message"] for e in store.timeline(NS, NAME)]
    assert messages == ["/incident role commander bobby", "/incident role scribe carol"]


async def test_role_for_unknown_people_is_refused_clearly() -> None:
    store, _, service = world()
    with pytest.raises(CommandRefused, match=f"<@{STRANGER}> is not a participant of "):
        await run(service, f"role commander <@{STRANGER}>")
    with pytest.raises(CommandRefused, match="dave is not a participant of OnCallRotation"):
        await run(service, "role commander dave")
    assert "roles" not in spec(store)


async def test_role_without_rotation_takes_names_but_not_mentions() -> None:
    store, _, service = world(with_rotation=False)
    with pytest.raises(CommandRefused, match="names no OnCallRotation"):
        await run(service, f"role commander <@{ALICE}>")
    await run(service, "role commander dave")
    assert spec(store)["roles"] == {"commander": "dave"}


async def test_note_is_keyed_by_the_request_so_a_retry_adds_nothing() -> None:
    store, _, service = world()
    assert await run(service, "note rolled back to v41") == f"Note added to {NS}/{NAME}."
    await run(service, "note rolled back to v41")
    await run(service, "note from a stranger", ctx(user=STRANGER, trigger="trig-9"))
    notes = store.timeline(NS, NAME)
    assert [(e["message"], e["author"], e["key"]) for e in notes] == [
        ("rolled back to v41", "alice", "slack/note/trig-1"),
        ("from a stranger", STRANGER, "slack/note/trig-9"),
    ]
    assert {e["type"] for e in notes} == {"note"}


async def test_a_note_too_long_for_the_timeline_is_refused_whole() -> None:
    store, _, service = world()
    with pytest.raises(CommandRefused) as refused:
        await run(service, "note " + "x" * 4097)
    assert str(refused.value) == (
        "The note has 4097 characters, the timeline holds at most 4096. "
        "Nothing was added: split it into shorter notes."
    )
    assert store.timeline(NS, NAME) == []
    await run(service, "note " + "x" * 4096, ctx(trigger="trig-2"))
    assert [e["message"] for e in store.timeline(NS, NAME)] == ["x" * 4096]


async def test_resolve_requests_resolved_and_not_twice() -> None:
    store, _, service = world("investigating")
    assert await run(service, "resolve") == f"Requested resolved for {NS}/{NAME}."
    assert spec(store)["state"] == "resolved"
    assert await run(service, "resolve") == f"{NS}/{NAME} is already resolved."


async def test_status_reply() -> None:
    store, _, service = world("investigating")
    store.incidents[(NS, NAME)]["status"] = {
        "chat": {"channelId": CHANNEL},
        "phase": "triage",
        "roles": {"commander": "alice", "scribe": None},
        "timeline": [{"at": "2026-11-27T14:01:00Z", "type": "declared", "message": "Declared."}],
    }
    assert await run(service, "status") == (
        f"*Checkout returns 5xx* ({NS}/{NAME})\n"
        "Severity: sev-2 · State: investigating (is triage) · Service: checkout\n"
        "Roles: commander: alice\n"
        "Last: 2026-11-27T14:01:00Z declared Declared."
    )


async def test_commands_outside_an_incident_channel_are_refused() -> None:
    store, _, service = world()
    with pytest.raises(CommandRefused, match="not an incident channel"):
        await run(service, "ack", ctx(channel="C0OTHER01"))
    with pytest.raises(CommandRefused):
        await run(service, "ack", ctx(channel="C1,x=y"))  # never reaches a label selector
    assert spec(store)["state"] == "triage"


def other_incident(namespace: str = "payments", name: str = "capture", **status: Any) -> Any:
    """An Incident in another namespace (another tenant's)."""
    return incident(name, namespace, metadata={"generation": 1}, state="triage", status=status)


async def test_a_label_in_another_namespace_captures_nothing() -> None:
    """Another tenant labels its incident with our channel (the old routing key): our
    commands and pins still reach only the incident whose status names the channel."""
    store, chat, service = world()
    capture = other_incident()
    capture["metadata"]["labels"] = {"sre.dev/chat-channel": CHANNEL}
    store.incidents[("payments", "capture")] = capture
    assert await run(service, "ack") == f"Acknowledged {NS}/{NAME}: investigating."
    ts = chat.add_message(CHANNEL, "DB failed over", BOB)
    await service.reaction(ReactionAdded("Ev1", CHANNEL, ts, BOB, "pushpin"))
    assert spec(store)["state"] == "investigating"
    assert [e["type"] for e in store.timeline(NS, NAME)] == ["chat-command", "chat-pin"]
    assert store.incidents[("payments", "capture")]["spec"]["state"] == "triage"
    assert store.timeline("payments", "capture") == []


async def test_the_channel_is_found_by_status_in_any_namespace() -> None:
    store, _, service = world()
    del store.incidents[(NS, NAME)]
    store.incidents[("payments", "older")] = other_incident(
        name="older", chat={"channelId": CHANNEL}
    )
    found = await service.incident_for_channel(CHANNEL)
    assert found is not None
    assert (found["metadata"]["namespace"], found["metadata"]["name"]) == ("payments", "older")


async def test_a_channel_claimed_by_two_incidents_takes_no_commands_or_pins() -> None:
    store, chat, service = world()
    store.incidents[("payments", "capture")] = other_incident(chat={"channelId": CHANNEL})
    with pytest.raises(CommandRefused, match="claimed by 2 incidents"):
        await run(service, "ack")
    ts = chat.add_message(CHANNEL, "DB failed over", BOB)
    await service.reaction(ReactionAdded("Ev1", CHANNEL, ts, BOB, "pushpin"))
    for key in ((NS, NAME), ("payments", "capture")):
        assert store.incidents[key]["spec"]["state"] == "triage"
        assert store.timeline(*key) == []
    # The second claim goes away (as the watch reports it): the channel is ours again.
    del store.incidents[("payments", "capture")]
    service.channels.observe(other_incident(), deleted=True)
    assert await run(service, "ack") == f"Acknowledged {NS}/{NAME}: investigating."


async def test_routing_costs_one_listing_per_process_then_one_get_per_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Measured: the label lookup listed every incident in the cluster per command; the
    index lists once (seeding, before the watch's first events) and then only GETs."""
    store, _, service = world()
    calls: list[str] = []
    find, get = store.find_incidents, store.get_incident

    async def counted_find(*args: Any) -> Any:
        calls.append("list")
        return await find(*args)

    async def counted_get(*args: Any) -> Any:
        calls.append("get")
        return await get(*args)

    monkeypatch.setattr(store, "find_incidents", counted_find)
    monkeypatch.setattr(store, "get_incident", counted_get)
    for n in range(3):
        await run(service, "status", ctx(trigger=f"t{n}"))
    assert calls == ["list", "get", "get", "get"]


async def test_the_index_follows_the_watch_and_a_stale_entry_routes_nowhere() -> None:
    store, _, service = world()
    assert await service.incident_for_channel(CHANNEL) is not None
    # The status moved on (e.g. a restored object) before the watch told the index:
    store.incidents[(NS, NAME)]["status"]["chat"]["channelId"] = "C0ELSEWHERE"
    assert await service.incident_for_channel(CHANNEL) is None
    service.channels.observe(store.incidents[(NS, NAME)])
    assert await service.incident_for_channel("C0ELSEWHERE") is not None
    assert service.channels.incidents(CHANNEL) == ()


def test_seeding_never_overrides_what_the_watch_reported() -> None:
    index = ChannelIndex()
    newer = other_incident(chat={"channelId": "C0NEW"})
    index.observe(newer)
    index.observe(other_incident(name="gone"), deleted=True)
    index.seed(
        [
            other_incident(chat={"channelId": "C0OLD"}),
            other_incident(name="gone", chat={"channelId": "C0OLD"}),
            other_incident(name="unseen", chat={"channelId": "C0UNSEEN"}),
        ]
    )
    assert index.incidents("C0NEW") == (("payments", "capture"),)
    assert index.incidents("C0OLD") == ()
    assert index.incidents("C0UNSEEN") == (("payments", "unseen"),)
    assert index.claimed_by_other("C0NEW", ("payments", "other"))
    assert not index.claimed_by_other("C0NEW", ("payments", "capture"))


async def test_declare_creates_a_chat_incident_idempotently() -> None:
    store, _, service = world()
    reply = await run(service, "declare sev-1 Payments are slow", ctx(trigger="trig-d"))
    name = declared_name("Payments are slow", NOW, "trig-d")
    assert name.startswith("payments-are-slow-20261127-")
    assert reply == f"Declared incident incidents/{name} (sev-1)."
    again = await run(service, "declare sev-1 Payments are slow", ctx(trigger="trig-d"))
    assert again == reply
    created = store.incidents[("incidents", name)]
    assert created["spec"] == {
        "title": "Payments are slow",
        "service": "unknown",
        "severityRef": "sev-1",
        "state": "triage",
        "source": {"type": "chat", "ref": f"slack:{CHANNEL}"},
    }
    (entry,) = store.timeline("incidents", name)
    assert entry["type"] == "declared"
    assert entry["message"] == "Declared from Slack by alice at sev-1."
    assert len([k for k in store.incidents if k[0] == "incidents"]) == 1


async def test_declare_with_unknown_default_severity_is_refused() -> None:
    store, _, service = world()
    with pytest.raises(CommandRefused, match="no Severity sev-3"):
        await run(service, "declare Something odd")
    assert [k for k in store.incidents if k[0] == "incidents"] == []


async def test_help() -> None:
    _, _, service = world()
    assert "role ROLE @person" in await run(service, "help")


async def test_pushpin_copies_the_message_into_the_timeline_once() -> None:
    store, chat, service = world()
    ts = chat.add_message(CHANNEL, "Rolled back checkout to v41", BOB)
    event = ReactionAdded("Ev1", CHANNEL, ts, BOB, "pushpin")
    await service.reaction(event)
    await service.reaction(ReactionAdded("Ev2", CHANNEL, ts, ALICE, "pushpin"))
    assert store.timeline(NS, NAME) == [
        {
            "at": "2026-11-27T14:05:00Z",
            "type": "chat-pin",
            "message": "Rolled back checkout to v41",
            "author": "bob",
            "source": "slack",
            "key": f"slack/{CHANNEL}/{ts}",
        }
    ]


async def test_other_reactions_and_channels_are_ignored() -> None:
    store, chat, service = world()
    ts = chat.add_message(CHANNEL, "hello", BOB)
    await service.reaction(ReactionAdded("Ev1", CHANNEL, ts, BOB, "thumbsup"))
    await service.reaction(ReactionAdded("Ev2", "C0OTHER01", ts, BOB, "pushpin"))
    assert store.timeline(NS, NAME) == []
    assert chat.calls == []  # nothing was even read


async def test_pin_of_an_unreadable_message_still_records_it() -> None:
    store, _, service = world()
    await service.reaction(ReactionAdded("Ev1", CHANNEL, "1700000000.000999", STRANGER, "pushpin"))
    (entry,) = store.timeline(NS, NAME)
    assert entry["message"] == "(message 1700000000.000999 could not be read)"
    assert entry["author"] == STRANGER


async def test_fake_chat_keeps_the_chat_contract() -> None:
    """The in-memory Chat that service tests use behaves as SlackChat does on repeats."""
    chat = FakeChat()
    channel = await chat.create_channel("inc-1", private=True)
    with pytest.raises(ChannelNameTaken):
        await chat.create_channel("inc-1", private=False)
    ts = await chat.post("#inc-1", "status", idempotency_key="shop/x/status")
    assert await chat.find_message(channel.id, "shop/x/status") == ts
    assert await chat.find_message(channel.id, "other") is None
    for _ in range(2):
        await chat.invite(channel.id, [ALICE])
        await chat.pin(channel.id, ts)
        await chat.archive(channel.id)
    assert chat.members[channel.id] == {ALICE}
    assert chat.pins == {(channel.id, ts)}
    assert await chat.find_channel("inc-1") is None  # archived
    chat.failures.append(DeliveryThrottled("429 (fake)", retry_after=3))
    with pytest.raises(DeliveryThrottled):
        await chat.set_topic(channel.id, "t")
    assert chat.calls[-1] == ("set_topic", (channel.id, "t"))


def suggest(store: FakeStore, *names: str, commander: str | None = "alice") -> None:
    """Suggestions waiting for approval (mode suggest), as the mitigation service records them."""
    body = store.incidents[(NS, NAME)]
    if commander:
        body["spec"]["roles"] = {"commander": commander}
    body["status"] = {
        "chat": {"channelId": CHANNEL},
        "mitigations": [
            {
                "name": name,
                "action": "rollback",
                "target": f"Deployment {NS}/checkout",
                "state": "pending-approval",
                "message": "waiting for the commander's approval",
                "source": "slo",
            }
            for name in names
        ]
        + [
            {
                "name": "scale-done",
                "action": "scale",
                "target": f"Deployment {NS}/checkout",
                "state": "applied",
            }
        ],
    }


async def test_mitigate_lists_the_suggestions_waiting_for_approval() -> None:
    store, _, service = world()
    assert (
        await run(service, "mitigate") == f"No mitigations are waiting for approval in {NS}/{NAME}."
    )
    suggest(store, "rollback-checkout")
    reply = await run(service, "mitigate", ctx(user=BOB))
    assert "• rollback-checkout: rollback Deployment shop/checkout" in reply
    assert "scale-done" not in reply
    assert "/incident mitigate approve NAME" in reply


async def test_the_commander_approves_from_slack_like_kubectl_does() -> None:
    store, _, service = world()
    suggest(store, "rollback-checkout")
    reply = await run(service, "mitigate approve rollback-checkout")
    assert reply.startswith(f"{NS}/{NAME}: rollback-checkout approved")
    assert spec(store)["approvedMitigations"] == ["rollback-checkout"]
    (entry,) = store.timeline(NS, NAME)
    assert entry == {
        "at": "2026-11-27T14:05:00Z",
        "type": "mitigation",
        "message": "rollback-checkout approved by the commander (alice) from Slack",
        "author": "alice",
        "source": "slack",
        "key": "mitigation/rollback-checkout/approved",  # the key kubectl's approval writes
    }
    again = await run(service, "mitigate approve rollback-checkout", ctx(trigger="t2"))
    assert again == f"{NS}/{NAME}: rollback-checkout is already approved."
    assert spec(store)["approvedMitigations"] == ["rollback-checkout"]


async def test_approve_without_a_name_takes_the_only_pending_one() -> None:
    store, _, service = world()
    suggest(store, "rollback-checkout", "shift-checkout")
    with pytest.raises(CommandRefused, match="rollback-checkout, shift-checkout"):
        await run(service, "mitigate approve")
    await run(service, "mitigate approve shift-checkout")
    await run(service, "mitigate approve", ctx(trigger="t2"))
    assert spec(store)["approvedMitigations"] == ["shift-checkout", "rollback-checkout"]


async def test_only_the_commander_may_approve() -> None:
    store, _, service = world()
    suggest(store, "rollback-checkout")
    with pytest.raises(CommandRefused, match=r"Only the commander \(alice\).*you are bob"):
        await run(service, "mitigate approve rollback-checkout", ctx(user=BOB))
    with pytest.raises(CommandRefused, match="not a participant of OnCallRotation"):
        await run(service, "mitigate approve rollback-checkout", ctx(user=STRANGER))
    assert "approvedMitigations" not in spec(store)
    assert store.timeline(NS, NAME) == []


async def test_a_slack_id_shared_by_two_participants_approves_nothing() -> None:
    """Approval rests on the Slack user being exactly one participant, the commander."""
    store, _, service = world()
    store.rotations[(NS, "checkout-oncall")]["spec"]["participants"].append(
        {"name": "mallory", "slackUserId": ALICE}
    )
    suggest(store, "rollback-checkout")
    with pytest.raises(CommandRefused, match=r"several participants.*identifies none"):
        await run(service, "mitigate approve rollback-checkout")
    with pytest.raises(CommandRefused, match="several participants"):
        await run(service, f"role commander <@{ALICE}>")
    assert "approvedMitigations" not in spec(store)
    assert spec(store)["roles"] == {"commander": "alice"}


async def test_approval_in_one_channel_never_reaches_another_channels_incident() -> None:
    """The commander of another incident (same person, other channel) cannot approve here,
    and the approval lands on the channel's incident only."""
    store, _, service = world()
    suggest(store, "rollback-checkout", commander="bob")
    store.incidents[("payments", "capture")] = other_incident(
        chat={"channelId": "C0PAYMENTS"}, roles={"commander": "alice"}
    )
    with pytest.raises(CommandRefused, match=r"Only the commander \(bob\).*you are alice"):
        await run(service, "mitigate approve rollback-checkout")
    assert "approvedMitigations" not in spec(store)
    await run(service, "mitigate approve rollback-checkout", ctx(user=BOB))
    assert spec(store)["approvedMitigations"] == ["rollback-checkout"]
    assert "approvedMitigations" not in store.incidents[("payments", "capture")]["spec"]


async def test_approve_refuses_without_a_commander_rotation_or_suggestion() -> None:
    store, _, service = world()
    suggest(store, "rollback-checkout", commander=None)
    with pytest.raises(CommandRefused, match="has no commander"):
        await run(service, "mitigate approve rollback-checkout")
    # The effective commander the operator filled in from the rotation counts too.
    store.incidents[(NS, NAME)]["status"]["roles"] = {"commander": "alice"}
    with pytest.raises(CommandRefused, match="not a mitigation waiting for approval"):
        await run(service, "mitigate approve scale-done")
    other, _, no_rotation = world(with_rotation=False)
    suggest(other, "rollback-checkout")
    with pytest.raises(CommandRefused, match="names no OnCallRotation"):
        await run(no_rotation, "mitigate approve rollback-checkout")
    assert "approvedMitigations" not in spec(store)


async def test_the_incidents_own_rotation_ref_maps_people_first() -> None:
    store, _, service = world()
    store.rotations[(NS, "payments-oncall")] = {
        "metadata": {"name": "payments-oncall", "namespace": NS},
        "spec": {"timeZone": "UTC", "participants": [{"name": "erin", "slackUserId": BOB}]},
    }
    store.incidents[(NS, NAME)]["spec"]["rotationRef"] = "payments-oncall"
    suggest(store, "rollback-checkout", commander="erin")
    await run(service, "mitigate approve rollback-checkout", ctx(user=BOB))
    assert spec(store)["approvedMitigations"] == ["rollback-checkout"]


async def test_help_lists_mitigate() -> None:
    _, _, service = world()
    text = await run(service, "help")
    assert "mitigate approve [NAME]" in text
    assert "mitigate [approve [NAME]]" in text


async def test_update_public_appends_a_public_update_once() -> None:
    store, _, service = world(state="investigating")
    store.incidents[(NS, NAME)]["status"]["phase"] = "mitigated"
    reply = await run(service, 'update --public "A fix is rolling out."')
    assert reply == f"{NS}/{NAME}: public update published (monitoring); the status page shows it."
    assert spec(store)["public"]["updates"] == [
        {
            "at": "2026-11-27T14:05:00Z",
            "status": "monitoring",
            "text": "A fix is rolling out.",
            "author": "alice",
        }
    ]
    # Slack retries the request: nothing new is published.
    again = await run(service, 'update --public "A fix is rolling out."', ctx(trigger="trig-2"))
    assert again == f"{NS}/{NAME}: that public update is already published."
    await run(service, "update --public --status identified Found it.", ctx(BOB, "trig-3"))
    updates = spec(store)["public"]["updates"]
    assert [(u["status"], u["text"], u["author"]) for u in updates] == [
        ("monitoring", "A fix is rolling out.", "alice"),
        ("identified", "Found it.", "bob"),
    ]
    messages = [e["message"] for e in store.timeline(NS, NAME)]
    assert messages == ["/incident update --public", "/incident update --public"]


async def test_update_public_refuses_what_the_api_would() -> None:
    store, _, service = world()
    with pytest.raises(CommandRefused, match="at most 2000 characters"):
        await run(service, "update --public " + "x" * 2001)
    store.incidents[(NS, NAME)]["spec"]["public"] = {
        "updates": [{"at": "2026-11-27T14:00:00Z", "status": "investigating", "text": "t"}] * 50
    }
    with pytest.raises(CommandRefused, match="already has 50 public updates"):
        await run(service, "update --public one more")
    assert len(spec(store)["public"]["updates"]) == 50


async def test_update_public_draft_suggests_and_accept_publishes_it() -> None:
    store, _, service = world(state="investigating")
    store.severities["sev-2"]["spec"]["statusPage"] = {"publish": True, "impact": "major"}
    store.incidents[(NS, NAME)]["spec"]["service"] = "checkout"
    store.incidents[(NS, NAME)]["status"]["phase"] = "investigating"
    shown = await run(service, "update --public draft")
    assert shown.startswith(f"Suggested public update for {NS}/{NAME} (investigating):\n")
    assert "*checkout: partial outage*\nWe are investigating partial outage of checkout." in shown
    assert "public" not in spec(store), "a draft publishes nothing"
    reply = await run(service, "update --public accept", ctx(trigger="trig-2"))
    assert reply.startswith(f"{NS}/{NAME}: public update published (investigating)")
    public = spec(store)["public"]
    assert public["title"] == "checkout: partial outage"
    assert [(u["text"], u["author"]) for u in public["updates"]] == [
        ("We are investigating partial outage of checkout.", "alice")
    ]
    # A public title someone wrote is kept; the Severity's own templates are used.
    store.incidents[(NS, NAME)]["spec"]["public"]["title"] = "Card payments fail"
    store.incidents[(NS, NAME)]["status"]["phase"] = "mitigated"
    store.severities["sev-2"]["spec"]["statusPage"]["draft"] = {
        "monitoring": "Fixed {service}, watching it ({status})."
    }
    await run(service, "update --public accept", ctx(trigger="trig-3"))
    public = spec(store)["public"]
    assert public["title"] == "Card payments fail"
    assert public["updates"][-1]["text"] == "Fixed checkout, watching it (monitoring)."
    assert public["updates"][-1]["status"] == "monitoring"


async def test_the_draft_names_the_component_the_page_shows() -> None:
    """With the catalog, an incident on a dependency is shown on Checkout: the suggested
    wording says Checkout, never the internal Service name."""
    store, chat, _ = world(state="investigating")
    store.severities["sev-2"]["spec"]["statusPage"] = {"publish": True, "impact": "major"}
    store.incidents[(NS, NAME)]["spec"]["service"] = "payments-gateway"
    store.incidents[(NS, NAME)]["status"]["phase"] = "investigating"
    page = StatusPageIndex()
    checkout = {"name": "Checkout", "public": True, "showDependencies": True}
    depends = ("payments-gateway",)
    page.observe_service(
        catalog_service("checkout", namespace=NS, component=checkout, dependencies=depends)
    )
    page.observe_service(catalog_service("payments-gateway", namespace=NS))
    service = ChatCommandService(
        store, FakeClock(NOW), chat, ChatCommandConfig(default_namespace="incidents"), page=page
    )
    shown = await run(service, "update --public draft")
    assert "*Checkout: partial outage*\nWe are investigating partial outage of Checkout." in shown
    assert "payments-gateway" not in shown
