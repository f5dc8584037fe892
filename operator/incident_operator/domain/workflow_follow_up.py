"""createFollowUp steps: the action item a step asks for, and which recorded ones the
incident's postmortem still owes.

Pure. A step's follow-up is recorded once on the incident (``status.workflows.followUps``,
by the step key's hash) and added to the incident's own Postmortem once: when the step runs
if the Postmortem exists, else when it is drafted (or, should the draft have been made from
an older incident, at the next look). An item is never added twice and never replaces one a
person wrote: an item of the same title already there counts as added.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from . import workflows as wf

MAX_FOLLOW_UPS = 32
"""Follow-ups the workflows may record on one incident (status.workflows.followUps)."""
MAX_ACTION_ITEMS = 64
"""Action items a Postmortem holds (spec.actionItems maxItems)."""
TITLE_MAX = 256


@dataclass(frozen=True)
class FollowUp:
    title: str
    owner: str = ""
    due: date | None = None
    postmortem: str = ""
    """The postmortem it was added to ("" while none was)."""
    message: str = ""
    """Why it could not be added (e.g. Git declares the postmortem's action items)."""

    @property
    def owed(self) -> bool:
        """Still to be added to a postmortem."""
        return not self.postmortem and not self.message


def follow_up_id(step_key: str) -> str:
    """The follow-up's id in ``status.workflows.followUps``: the step key hashed."""
    return wf.short_hash(step_key)


def follow_up(action: wf.Action, values: Mapping[str, str], now: datetime) -> FollowUp:
    """The action item a createFollowUp step asks for, due ``dueIn`` after ``now``."""
    title = " ".join(wf.render(action.text, values).split())[:TITLE_MAX]
    due = (now + action.due_in).date() if action.due_in else None
    return FollowUp(title=title or "Follow-up", owner=action.owner, due=due)


def item(f: FollowUp) -> dict[str, Any]:
    """The Postmortem's ``spec.actionItems`` entry (status open, the tracker syncs it)."""
    out: dict[str, Any] = {"title": f.title}
    if f.owner:
        out["owner"] = f.owner
    if f.due is not None:
        out["due"] = f.due.isoformat()
    return out


def to_add(existing: Sequence[Mapping[str, Any]], owed: Iterable[FollowUp]) -> list[FollowUp]:
    """The owed follow-ups a postmortem with ``existing`` action items still lacks: one of
    the same title counts as there (never doubled, never overwritten), and the list stays
    within MAX_ACTION_ITEMS."""
    titles = {str(i.get("title") or "") for i in existing}
    out: list[FollowUp] = []
    for f in owed:
        if f.title in titles or len(existing) + len(out) >= MAX_ACTION_ITEMS:
            continue
        titles.add(f.title)
        out.append(f)
    return out
