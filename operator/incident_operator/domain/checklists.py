"""Checklists: the tasks a role owes an incident, numbered once, ticked by people — pure.

Where tasks come from: the Severity in force (``spec.checklists``, one per role, written by
cluster admins) and workflows' ``addChecklist`` steps (recorded by the workflow runner in
``status.workflows.checklists`` under the step's key, with its done key, so a restart or an
overlapping trigger records it once). Both are merged into ``status.tasks`` by one writer,
which gives every task it has not seen a number (the next after the highest so far) and
never renumbers or drops one: the task's key (its checklist's id and the task's text or
position) is what makes an addition happen exactly once.

Ticking is intent in the spec (``spec.tasksDone``, a set of numbers a person writes with
``kubectl incident task done N`` or ``/incident task done N``; the API server's RBAC, or the
chat command's channel, decides who may), the observation in status: the writer marks a
task done when its number is in that set, stamps when it saw it, and takes who from the
``task-done`` timeline entry the tick's writer added (key ``task/<N>/done``).

Instructions (a checklist's private text for the role holder) never enter status: a task
only says its checklist has some (``instructions``); the comms outbox reads the text from
the checklist's source when it sends the one direct message (``instruction_id``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

MAX_TASKS = 100
"""Tasks one incident holds (status.tasks maxItems); later additions are refused."""
MAX_TASKS_PER_CHECKLIST = 20
MAX_TASK_TEXT = 200
MAX_CHECKLISTS = 16
"""Workflow checklists one incident holds (status.workflows.checklists maxProperties)."""
DONE_ENTRY = "task-done"
"""Timeline entry type a tick's writer adds (its author is who ticked)."""
SEVERITY_PREFIX = "severity/"


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Checklist:
    """One role's tasks from one source."""

    id: str
    """``severity/<severity>/<role>`` or a workflow step's key (``wf/<uid>/<occurrence>/<i>``)."""
    role: str
    tasks: tuple[str, ...]
    instructions: bool = False
    """Whether the source has private instructions for the role holder."""
    by_text: bool = False
    """Tasks keyed by their text (a Severity's list may be edited: a new text is a new task)
    rather than by position (a workflow step's list is fixed once it ran)."""

    def task_key(self, index: int, text: str) -> str:
        tail = _hash(text) if self.by_text else str(index)
        return f"{self.id}/{tail}"


@dataclass(frozen=True)
class Task:
    number: int
    key: str
    role: str
    text: str
    source: str
    """The checklist's id."""
    instructions: bool = False
    done: bool = False
    done_by: str = ""
    done_at: datetime | None = None


def severity_checklist(
    severity: str, role: str, tasks: Iterable[str], instructions: bool
) -> Checklist:
    return Checklist(
        f"{SEVERITY_PREFIX}{severity}/{role}",
        role,
        tuple(tasks),
        instructions=instructions,
        by_text=True,
    )


def merge(tasks: Iterable[Task], checklists: Iterable[Checklist]) -> tuple[tuple[Task, ...], str]:
    """``tasks`` with every task of ``checklists`` not there yet appended under the next
    number; and why some were left out ("" when none were: the incident holds MAX_TASKS)."""
    out = list(tasks)
    keys = {t.key for t in out}
    number = max((t.number for t in out), default=0)
    refused = 0
    for checklist in checklists:
        for index, text in enumerate(checklist.tasks[:MAX_TASKS_PER_CHECKLIST]):
            key = checklist.task_key(index, text)
            if key in keys:
                continue
            if len(out) >= MAX_TASKS:
                refused += 1
                continue
            number += 1
            keys.add(key)
            out.append(
                Task(
                    number,
                    key,
                    checklist.role,
                    text[:MAX_TASK_TEXT],
                    checklist.id,
                    checklist.instructions,
                )
            )
    why = f"{refused} task(s) not added: an incident holds {MAX_TASKS}" if refused else ""
    return tuple(out), why


def done_key(number: int) -> str:
    """The key of the ``task-done`` timeline entry for task ``number``."""
    return f"task/{number}/done"


def tick(
    tasks: Iterable[Task], done: Iterable[int], authors: Mapping[str, str], now: datetime
) -> tuple[Task, ...]:
    """Tasks marked done as ``done`` (spec.tasksDone) asks: a newly done one stamped ``now``
    and by the author of its ``task-done`` entry (``authors``: entry key -> author; an
    entry written after the tick fills it in later); one no longer asked for is open again."""
    wanted = set(done)
    return tuple(
        _ticked(t, t.number in wanted, authors.get(done_key(t.number), ""), now) for t in tasks
    )


def _ticked(task: Task, asked: bool, by: str, now: datetime) -> Task:
    if asked and not task.done:
        return replace(task, done=True, done_by=by, done_at=now)
    if asked and by and not task.done_by:  # its entry came after the tick was seen
        return replace(task, done_by=by)
    if not asked and task.done:
        return replace(task, done=False, done_by="", done_at=None)
    return task


def instruction_id(checklist: str) -> str:
    """The id recorded once a checklist's instructions were sent (status.chat.instructed)."""
    return _hash(checklist)


def instructed_checklists(tasks: Iterable[Task]) -> dict[str, str]:
    """Checklist id -> role, for the checklists that have instructions (first task's role)."""
    found: dict[str, str] = {}
    for task in tasks:
        if task.instructions:
            found.setdefault(task.source, task.role)
    return found


def workflow_step(checklist: str) -> tuple[str, int] | None:
    """(workflow id, step index) of a workflow checklist's id; None for another source."""
    if not checklist.startswith("wf/"):
        return None
    parts = checklist.split("/")
    if len(parts) < 4 or not parts[-1].isdigit():
        return None
    return parts[1], int(parts[-1])


def severity_source(checklist: str) -> tuple[str, str] | None:
    """(severity, role) of a Severity checklist's id; None for another source."""
    if not checklist.startswith(SEVERITY_PREFIX):
        return None
    severity, _, role = checklist.removeprefix(SEVERITY_PREFIX).partition("/")
    return (severity, role) if severity and role else None


@dataclass(frozen=True)
class TaskLine:
    """One task as the status message shows it."""

    number: int
    role: str
    text: str
    done: bool = False
    done_by: str = ""


def open_count(lines: Iterable[TaskLine]) -> int:
    return sum(1 for line in lines if not line.done)
