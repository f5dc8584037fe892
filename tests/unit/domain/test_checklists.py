"""Checklists in the domain: numbering, exactly-once additions, ticks, the status message."""

from __future__ import annotations

from datetime import UTC, datetime

from incident_operator.domain import chat_render
from incident_operator.domain import checklists as cl
from incident_operator.domain.comms import IncidentSummary

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
SEV = cl.severity_checklist("sev-1", "commander", ("Open a bridge", "Page payments"), True)
STEP = cl.Checklist("wf/uid-1/once/3", "communications", ("Tell support", "Draft an update"))


def test_tasks_are_numbered_in_order_across_checklists() -> None:
    tasks, why = cl.merge((), (SEV, STEP))
    assert why == ""
    assert [(t.number, t.role, t.text, t.source) for t in tasks] == [
        (1, "commander", "Open a bridge", "severity/sev-1/commander"),
        (2, "commander", "Page payments", "severity/sev-1/commander"),
        (3, "communications", "Tell support", "wf/uid-1/once/3"),
        (4, "communications", "Draft an update", "wf/uid-1/once/3"),
    ]
    assert [t.instructions for t in tasks] == [True, True, False, False]
    assert tasks[2].key == "wf/uid-1/once/3/0"


def test_a_checklist_seen_again_adds_nothing_and_numbers_never_move() -> None:
    first, _ = cl.merge((), (SEV,))
    again, _ = cl.merge(first, (SEV, SEV))
    assert again == first
    later, _ = cl.merge(first, (STEP, SEV))
    assert [t.number for t in later] == [1, 2, 3, 4]
    assert later[:2] == first


def test_an_edited_severity_task_is_a_new_task_and_the_old_one_stays() -> None:
    first, _ = cl.merge((), (SEV,))
    edited = cl.severity_checklist("sev-1", "commander", ("Open a bridge", "Page risk"), True)
    tasks, _ = cl.merge(first, (edited,))
    assert [(t.number, t.text) for t in tasks] == [
        (1, "Open a bridge"),
        (2, "Page payments"),
        (3, "Page risk"),
    ]


def test_numbers_are_not_reused_after_the_highest() -> None:
    first, _ = cl.merge((), (SEV,))
    tasks, _ = cl.merge(first[1:], (STEP,))  # a task 1 missing (never happens) is not refilled
    assert [t.number for t in tasks] == [2, 3, 4]


def test_the_incident_holds_at_most_max_tasks() -> None:
    many = tuple(
        cl.Checklist(f"wf/u/once/{i}", "scribe", tuple(f"t{j}" for j in range(20)))
        for i in range(6)
    )
    tasks, why = cl.merge((), many)
    assert len(tasks) == cl.MAX_TASKS
    assert why == f"20 task(s) not added: an incident holds {cl.MAX_TASKS}"


def test_ticks_follow_the_spec_and_take_the_author_of_the_entry() -> None:
    tasks, _ = cl.merge((), (SEV,))
    ticked = cl.tick(tasks, [2], {cl.done_key(2): "alice"}, NOW)
    assert [(t.done, t.done_by, t.done_at) for t in ticked] == [
        (False, "", None),
        (True, "alice", NOW),
    ]
    later = datetime(2026, 12, 7, 16, tzinfo=UTC)
    assert cl.tick(ticked, [2], {cl.done_key(2): "bob"}, later) == ticked, "stamped once"
    assert cl.tick(ticked, [], {}, later) == tasks, "taken out of the spec: open again"


def test_an_entry_written_after_the_tick_fills_in_who() -> None:
    tasks, _ = cl.merge((), (SEV,))
    ticked = cl.tick(tasks, [1], {}, NOW)
    assert ticked[0].done
    assert ticked[0].done_by == ""
    assert cl.tick(ticked, [1], {cl.done_key(1): "carol"}, NOW)[0].done_by == "carol"


def test_instructions_are_known_per_checklist_not_per_task() -> None:
    tasks, _ = cl.merge((), (SEV, STEP))
    assert cl.instructed_checklists(tasks) == {"severity/sev-1/commander": "commander"}
    assert cl.severity_source("severity/sev-1/commander") == ("sev-1", "commander")
    assert cl.workflow_step("wf/uid-1/change-4/3") == ("uid-1", 3)
    assert cl.workflow_step("severity/sev-1/commander") is None
    assert cl.instruction_id("a") != cl.instruction_id("b")


def summary(*tasks: cl.TaskLine) -> IncidentSummary:
    return IncidentSummary(
        namespace="payments",
        name="capture",
        title="Capture fails",
        service="capture",
        severity="sev-1",
        severity_display="SEV-1",
        severity_level=1,
        phase="investigating",
        declared=NOW,
        updated=NOW,
        roles={"commander": "alice"},
        tasks=tasks,
    )


def test_the_status_message_lists_open_tasks_first_and_escapes_them() -> None:
    lines = (
        cl.TaskLine(1, "commander", "Open a bridge", done=True, done_by="alice"),
        cl.TaskLine(2, "commander", "Page <!channel> payments"),
    )
    blocks = chat_render.status_blocks(summary(*lines))
    (section,) = [b for b in blocks if b.get("text", {}).get("text", "").startswith("*Tasks*")]
    assert section["text"]["text"] == (
        "*Tasks* (1 open of 2; `/incident task done N`)\n"
        ":white_large_square: 2. [commander] Page &lt;!channel&gt; payments\n"
        ":white_check_mark: ~1. [commander] Open a bridge~ (alice)"
    )
    assert "Tasks: 1 open of 2" in chat_render.status_text(summary(*lines))


def test_no_tasks_leave_the_status_message_as_it_was() -> None:
    blocks = chat_render.status_blocks(summary())
    assert not any("Tasks" in str(b) for b in blocks)
    assert "Tasks" not in chat_render.status_text(summary())


def test_a_long_list_is_cut_to_fit_one_section() -> None:
    lines = tuple(cl.TaskLine(i, "scribe", "x" * 190) for i in range(1, 40))
    text = chat_render.tasks_text(lines)
    assert len(text) <= chat_render.MAX_TEXT
    assert text.endswith("more (`kubectl incident show`)")
    for width in range(1, 201, 7):  # escaping makes & five characters: any cut still fits
        for count in (1, 14, 99, 100):
            many = tuple(
                cl.TaskLine(i, "communications", "&" * width, done=i % 2 == 0, done_by="b" * 64)
                for i in range(1, count + 1)
            )
            assert len(chat_render.tasks_text(many)) <= chat_render.MAX_TEXT
