"""Follow-up tickets for postmortem action items: what to create, what to read back — pure.

An action item gets a ticket once: when it has no ``ticket`` link of its own and none was
created for it yet (``synced`` maps item titles to the tickets created). Items whose link
points at the configured tracker have their status read back. Tracker states map onto the
action item states: Jira's status *category* (new / indeterminate / done: the workflow's own
status names vary per project, the category does not) and GitHub's state and state_reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .postmortem import ActionItem

OPEN, IN_PROGRESS, DONE, WONT_FIX = "open", "in-progress", "done", "wont-fix"
CLOSED_ITEM_STATES = frozenset({DONE, WONT_FIX})

JIRA_CATEGORIES: Mapping[str, str] = {"new": OPEN, "indeterminate": IN_PROGRESS, "done": DONE}


def jira_status(category_key: str) -> str:
    return JIRA_CATEGORIES.get(category_key, OPEN)


def github_status(state: str, state_reason: str | None) -> str:
    if state != "closed":
        return OPEN
    return WONT_FIX if state_reason in ("not_planned", "duplicate") else DONE


@dataclass(frozen=True)
class Create:
    item: ActionItem


@dataclass(frozen=True)
class Read:
    title: str
    ref: str


def plan(
    items: Sequence[ActionItem],
    synced: Mapping[str, str],
    owns: Callable[[str], str | None],
) -> tuple[list[Create], list[Read]]:
    """Which items get a new ticket and which tickets to read.

    ``synced``: item title -> ticket ref created earlier; ``owns(url)``: the ref of a URL
    of the configured tracker, else None (a link to elsewhere is left alone).
    """
    creates: list[Create] = []
    reads: list[Read] = []
    for item in items:
        if item.title in synced:
            reads.append(Read(item.title, synced[item.title]))
        elif item.ticket:
            ref = owns(item.ticket)
            if ref is not None:
                reads.append(Read(item.title, ref))
        elif item.status not in CLOSED_ITEM_STATES:
            creates.append(Create(item))
    return creates, reads


def description(item: ActionItem, postmortem: str, incident: str) -> str:
    """Ticket body: where the item comes from (blameless: the owner is the assignee field)."""
    lines = [
        f"Action item of postmortem {postmortem} (incident {incident}).",
        f"Read it with: kubectl incident postmortem {incident}",
    ]
    if item.due is not None:
        lines.append(f"Due {item.due.isoformat()}.")
    return "\n".join(lines)
