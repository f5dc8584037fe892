"""Follow-up tickets for postmortem action items: what to create, what to read back — pure.

An action item gets a ticket once: when it has no ``ticket`` link of its own and none was
created for it yet (``synced`` maps item titles to the tickets created). Items whose link
points at the configured tracker have their status read back. Tracker states map onto the
action item states: Jira's status *category* (new / indeterminate / done: the workflow's own
status names vary per project, the category does not) and GitHub's state and state_reason.

Effectively once: the status link is written after the ticket exists, so a crash between the
two would leave a ticket nobody recorded. Every item therefore carries a deterministic
``marker`` (from namespace, postmortem and the item's identity — its title, as everywhere
here) that the tracker stores with the ticket; before creating, the service looks the marker
up and adopts what an earlier attempt left instead of opening a second ticket.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .postmortem import ActionItem

OPEN, IN_PROGRESS, DONE, WONT_FIX = "open", "in-progress", "done", "wont-fix"
CLOSED_ITEM_STATES = frozenset({DONE, WONT_FIX})

MARKER_PREFIX = "incident-operator-"
MARKER_HEX = 16
"""64 bits of a SHA-256: collisions (which would link an item to another item's ticket) are
out of reach for any tracker's lifetime, and the label stays short and readable."""

JIRA_CATEGORIES: Mapping[str, str] = {"new": OPEN, "indeterminate": IN_PROGRESS, "done": DONE}


def jira_status(category_key: str) -> str:
    return JIRA_CATEGORIES.get(category_key, OPEN)


def github_status(state: str, state_reason: str | None) -> str:
    if state != "closed":
        return OPEN
    return WONT_FIX if state_reason in ("not_planned", "duplicate") else DONE


def marker(namespace: str, postmortem: str, title: str) -> str:
    """The action item's idempotency marker, ``incident-operator-<16 hex>``.

    Same inputs, same marker, in every process and release — never change the derivation, or
    tickets created before the change are not found again. Namespace and postmortem names
    cannot contain ``/``, so ``namespace/postmortem/title`` names exactly one item. Lowercase
    hex and hyphens only: valid as a Jira label (no spaces) and inside an HTML comment.
    """
    digest = hashlib.sha256(f"{namespace}/{postmortem}/{title}".encode()).hexdigest()
    return MARKER_PREFIX + digest[:MARKER_HEX]


def workflow_marker(step_key: str) -> str:
    """A workflow step's ticket marker: the step's key, in its own space (``workflow:``: a
    namespace name holds no colon, so it never meets an action item's marker)."""
    digest = hashlib.sha256(f"workflow:{step_key}".encode()).hexdigest()
    return MARKER_PREFIX + digest[:MARKER_HEX]


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
