"""Checklists end to end on the in-memory ports: recorded once by a workflow step, numbered
into status.tasks by one writer, ticked from Slack, shown in the pinned status message, and
the private instructions sent once, to the role holder alone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from incident_operator.adapters.comms_ports import Channel
from incident_operator.domain.slack_requests import CommandError, parse_command
from incident_operator.errors import CommandRefused, TemporaryError
from incident_operator.services.chat_commands import ChatCommandService, CommandContext
from incident_operator.services.checklists import ChecklistService
from incident_operator.services.comms import CommsService
from tests.builders.objects import incident, severity
from tests.fakes.ports.chat import FakeChat
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.store import FakeStore
from tests.unit.services.test_workflow_service import (
    NS,
    DiesBeforeTheWorkflowStatusOnce,
    Harness,
    workflow_body,
)

ROTATION = Path(__file__).resolve().parents[3] / "examples" / "20-oncallrotation.yaml"
ALICE, BOB = "U0AAAAAAA", "U0BBBBBBB"
SECRET = "Call the payments director on +49 30 1234"
SEV1_CHECKLISTS = [
    {
        "role": "commander",
        "tasks": ["Open a bridge", "Page the payments lead"],
        "instructions": SECRET,
    },
    {"role": "scribe", "tasks": ["Start the timeline doc"]},
]


def checklist_workflow() -> dict[str, Any]:
    body = workflow_body("checklist")
    body["spec"]["actions"] = [
        {"type": "addNote", "text": "tier-1"},
        {
            "type": "addChecklist",
            "name": "commander-duties",
            "role": "commander",
            "tasks": ["Confirm the blast radius", "Decide on a rollback"],
            "instructions": "Rollback runbook: go/rollback",
        },
    ]
    return body


def tasks(store: FakeStore, name: str = "db-down") -> list[tuple[int, str, str, bool]]:
    return [
        (t["number"], t["role"], t["text"], t["done"])
        for t in store.incidents[(NS, name)]["status"].get("tasks", [])
    ]


async def test_an_add_checklist_step_is_recorded_once_across_a_restart_and_numbered() -> None:
    store = DiesBeforeTheWorkflowStatusOnce()
    h = Harness(checklist_workflow(), store=store)
    h.store.severities["sev-1"] = severity("sev-1", 1, checklists=SEV1_CHECKLISTS)
    checklists = ChecklistService(h.store, h.clock, h.index)
    h.add()
    await h.tick()
    h.escalate()
    store.dying = True
    with pytest.raises(TemporaryError):
        await h.tick()
    for _ in range(3):
        await h.tick()
        await checklists.reconcile(h.body())
    recorded = h.body()["status"]["workflows"]["checklists"]
    (key,) = recorded
    assert key == "wf/uid-checklist/once/1"
    assert recorded[key] == {
        "role": "commander",
        "tasks": ["Confirm the blast radius", "Decide on a rollback"],
        "instructions": True,
        "workflow": "IncidentWorkflow payments/checklist commander-duties",
    }
    assert "go/rollback" not in str(h.body()), "instructions never enter the incident"
    assert tasks(h.store) == [
        (1, "commander", "Open a bridge", False),
        (2, "commander", "Page the payments lead", False),
        (3, "scribe", "Start the timeline doc", False),
        (4, "commander", "Confirm the blast radius", False),
        (5, "commander", "Decide on a rollback", False),
    ]
    assert SECRET not in str(h.body())
    entries = [e for e in h.store.timeline(NS, "db-down") if e["type"] == "workflow-checklist"]
    assert [e["message"] for e in entries] == ["Checklist for the commander: 2 task(s)"]
    assert (
        await checklists.instructions("wf/uid-checklist/once/1") == "Rollback runbook: go/rollback"
    )
    assert await checklists.instructions("severity/sev-1/commander") == SECRET
    assert await checklists.instructions("severity/sev-1/scribe") == ""
    assert await checklists.instructions("wf/uid-gone/once/1") == ""


async def test_the_writer_adds_nothing_twice_and_never_from_a_stale_read() -> None:
    store = FakeStore()
    store.severities["sev-1"] = severity("sev-1", 1, checklists=SEV1_CHECKLISTS)
    store.incidents[(NS, "db-down")] = declared("sev-1")
    clock = FakeClock()
    service = ChecklistService(store, clock)
    stale = dict(store.incidents[(NS, "db-down")])
    await service.reconcile(stale)
    first = tasks(store)
    assert len(first) == 3
    version = store.incidents[(NS, "db-down")]["metadata"]["resourceVersion"]
    await service.reconcile(stale)  # the event's body predates the write: read fresh
    await service.reconcile(store.incidents[(NS, "db-down")])
    assert tasks(store) == first
    assert store.incidents[(NS, "db-down")]["metadata"]["resourceVersion"] == version


async def test_a_severity_raised_later_adds_its_checklist_after_the_first() -> None:
    store = FakeStore()
    store.severities["sev-2"] = severity(checklists=[{"role": "scribe", "tasks": ["Notes"]}])
    store.severities["sev-1"] = severity("sev-1", 1, checklists=SEV1_CHECKLISTS)
    store.incidents[(NS, "db-down")] = declared("sev-2")
    service = ChecklistService(store, FakeClock())
    await service.reconcile(store.incidents[(NS, "db-down")])
    body = store.incidents[(NS, "db-down")]
    body["spec"]["severityRef"] = body["status"]["severity"] = "sev-1"
    await service.reconcile(body)
    assert [n for n, *_ in tasks(store)] == [1, 2, 3, 4]
    assert tasks(store)[0] == (1, "scribe", "Notes", False)


async def test_an_undeclared_incident_gets_no_tasks() -> None:
    store = FakeStore()
    store.severities["sev-1"] = severity("sev-1", 1, checklists=SEV1_CHECKLISTS)
    store.incidents[(NS, "db-down")] = incident("db-down", NS, severityRef="sev-1")
    await ChecklistService(store, FakeClock()).reconcile(store.incidents[(NS, "db-down")])
    assert "tasks" not in (store.incidents[(NS, "db-down")].get("status") or {})


def declared(severity_name: str) -> dict[str, Any]:
    return incident(
        "db-down",
        NS,
        metadata={"resourceVersion": "1", "generation": 1},
        severityRef=severity_name,
        rotationRef="checkout-oncall",
        status={
            "phase": "investigating",
            "severity": severity_name,
            "roles": {"commander": "alice", "scribe": "bob"},
            "timestamps": {"declared": "2026-01-01T00:00:01Z"},
            "chat": {"channelId": "C0INCIDENT", "channelName": "inc-db-down"},
        },
    )


class World:
    """One sev-1 incident with a channel, the rotation, chat commands, comms and the writer."""

    def __init__(self) -> None:
        self.store = FakeStore()
        self.store.severities["sev-1"] = severity("sev-1", 1, checklists=SEV1_CHECKLISTS)
        self.store.rotations[(NS, "checkout-oncall")] = {
            **yaml.safe_load(ROTATION.read_text()),
            "metadata": {"name": "checkout-oncall", "namespace": NS},
        }
        self.store.incidents[(NS, "db-down")] = declared("sev-1")
        self.clock = FakeClock()
        self.chat = FakeChat()
        self.chat.channels["C0INCIDENT"] = Channel("C0INCIDENT", "inc-db-down")
        self.checklists = ChecklistService(self.store, self.clock)
        self.commands = ChatCommandService(self.store, self.clock, self.chat)
        self.comms = CommsService(self.store, self.clock, chat=self.chat)
        self.comms.attach_instructions(self.checklists.instructions)

    @property
    def body(self) -> dict[str, Any]:
        return self.store.incidents[(NS, "db-down")]

    async def reconcile(self) -> None:
        self.clock.advance(timedelta(seconds=5))
        await self.checklists.reconcile(self.body)

    async def slack(self, text: str, user: str = BOB, trigger: str = "t1") -> str:
        context = CommandContext("C0INCIDENT", user, request_id=trigger)
        return await self.commands.execute(parse_command(text), context)


async def test_ticking_from_slack_marks_the_task_done_by_who_ticked_it() -> None:
    w = World()
    await w.reconcile()
    assert await w.slack("task done 2") == f"{NS}/db-down: task 2 done."
    assert w.body["spec"]["tasksDone"] == [2]
    (entry,) = [e for e in w.store.timeline(NS, "db-down") if e["type"] == "task-done"]
    assert (entry["key"], entry["author"], entry["source"]) == ("task/2/done", "bob", "slack")
    assert entry["message"] == "Task 2 done: Page the payments lead"
    await w.reconcile()
    (task,) = [t for t in w.body["status"]["tasks"] if t["number"] == 2]
    assert (task["done"], task["doneBy"]) == (True, "bob")
    assert task["doneAt"]
    assert await w.slack("task done 2", trigger="t2") == f"{NS}/db-down: task 2 is already done."
    assert w.body["spec"]["tasksDone"] == [2]
    reply = await w.slack("task", trigger="t3")
    assert reply.splitlines()[1:] == [
        "• 1. [commander] Open a bridge — open",
        "• 3. [scribe] Start the timeline doc — open",
        "• 2. [commander] Page the payments lead — done (bob)",
    ]


async def test_slack_refuses_an_unknown_task_and_commands_outside_the_channel() -> None:
    w = World()
    await w.reconcile()
    with pytest.raises(CommandRefused, match="has no task 9"):
        await w.slack("task done 9")
    context = CommandContext("C0ELSEWHERE", BOB, request_id="t9")
    with pytest.raises(CommandRefused, match="not an incident channel"):
        await w.commands.execute(parse_command("task done 1"), context)
    assert "tasksDone" not in w.body["spec"]
    for text in ("task undo 1", "task done", "task done x", "task done 1 2"):
        with pytest.raises(CommandError, match="Usage: /incident task"):
            parse_command(text)


async def test_the_pinned_status_shows_the_tasks_and_instructions_go_to_the_holder_once() -> None:
    w = World()
    await w.reconcile()
    await w.comms.sync(NS, "db-down")
    await w.comms.sync(NS, "db-down")
    (status_message,) = [m for m in w.chat.messages if m.channel == "C0INCIDENT" and m.blocks]
    shown = str(status_message.blocks)
    assert "1. [commander] Open a bridge" in shown
    assert "3. [scribe] Start the timeline doc" in shown
    dms = [m for m in w.chat.messages if m.channel.startswith("D")]
    assert [(m.channel, m.key) for m in dms] == [
        (f"D{ALICE}", f"{NS}/db-down/instructions/{dms[0].key.rpartition('/')[2]}")
    ], "one message, to the commander (alice) alone; the scribe's checklist has none"
    assert SECRET in dms[0].text
    assert not any(SECRET in m.text for m in w.chat.messages if not m.channel.startswith("D"))
    assert SECRET not in str(w.body)
    assert len(w.body["status"]["chat"]["instructed"]) == 1
    await w.slack("task done 1")
    await w.reconcile()
    await w.comms.sync(NS, "db-down")
    shown = str(status_message.blocks)
    assert "~1. [commander] Open a bridge~ (bob)" in shown, "the pinned message was updated"
    assert len([m for m in w.chat.messages if m.channel.startswith("D")]) == 1


async def test_no_holder_in_slack_no_message_until_there_is_one() -> None:
    w = World()
    w.body["status"]["roles"] = {"commander": "nobody-known"}
    await w.reconcile()
    await w.comms.sync(NS, "db-down")
    assert not [m for m in w.chat.messages if m.channel.startswith("D")]
    w.body["status"]["roles"] = {"commander": "bob"}
    await w.comms.sync(NS, "db-down")
    assert [m.channel for m in w.chat.messages if m.channel.startswith("D")] == [f"D{BOB}"]


async def test_a_deleted_incident_sends_no_instructions() -> None:
    w = World()
    await w.reconcile()
    w.body["metadata"]["deletionTimestamp"] = "2026-01-01T00:10:00Z"
    await w.comms.sync(NS, "db-down")
    assert not [m for m in w.chat.messages if m.channel.startswith("D")]
