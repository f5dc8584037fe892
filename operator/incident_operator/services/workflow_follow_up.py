"""createFollowUp steps: record the action item on the incident and add it to the incident's
own Postmortem once (domain/workflow_follow_up.py decides what is owed).

On whose authority: the step reaches only the Postmortem the incident itself links
(``status.postmortemRef``, written by the operator, same namespace), never one a workflow
names; so a tenant's IncidentWorkflow adds items only to its own namespace's postmortems,
which its ``edit`` role may change anyway. A list of action items Git declares (applied by
another field manager) is not touched: the step fails and says so, and the item stays on
the incident's status for a person to copy into Git.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from incident_operator.adapters.ports import Body
from incident_operator.adapters.postmortem_ports import ActionItems
from incident_operator.domain import workflow_follow_up as fu
from incident_operator.domain import workflows as wf
from incident_operator.errors import FieldOwnedElsewhere, PermanentError

FOLLOW_UP = "workflow-follow-up"
"""The timeline entry of a createFollowUp step (not posted to the channel)."""


def follow_ups_of(body: Mapping[str, Any]) -> dict[str, fu.FollowUp]:
    """The follow-ups recorded on the incident, by id."""
    raw = ((body.get("status") or {}).get("workflows") or {}).get("followUps") or {}
    found = {}
    for key, record in raw.items():
        if not isinstance(record, Mapping) or not record.get("title"):
            continue
        due = record.get("due")
        found[str(key)] = fu.FollowUp(
            title=str(record["title"]),
            owner=str(record.get("owner") or ""),
            due=datetime.fromisoformat(str(due)).date() if due else None,
            postmortem=str(record.get("postmortem") or ""),
            message=str(record.get("message") or ""),
        )
    return found


def follow_up_status(f: fu.FollowUp, workflow: str) -> Body:
    """One ``status.workflows.followUps`` entry."""
    out: Body = {"title": f.title, "workflow": workflow[:256]}
    if f.owner:
        out["owner"] = f.owner
    if f.due is not None:
        out["due"] = f.due.isoformat()
    if f.postmortem:
        out["postmortem"] = f.postmortem
    if f.message:
        out["message"] = f.message[:1024]
    return out


def draft_items(incident: Mapping[str, Any]) -> tuple[list[Body], list[str]]:
    """The action items a Postmortem drafted now starts with (the follow-ups the incident
    owes), and their ids (to mark them carried once the draft exists)."""
    owed = {i: f for i, f in follow_ups_of(incident).items() if f.owed}
    chosen = fu.to_add([], owed.values())
    titles = {f.title for f in chosen}
    return [fu.item(f) for f in chosen], [i for i, f in owed.items() if f.title in titles]


async def add(
    items: ActionItems, namespace: str, postmortem: str, wanted: Sequence[fu.FollowUp]
) -> dict[int, fu.FollowUp]:
    """Add ``wanted`` to the Postmortem (those of a title already there count as added):
    each, by position, with where it landed or why not. Not found: none is marked."""
    full: list[str] = []

    def additions(existing: Sequence[Body]) -> list[Body]:
        chosen = fu.to_add(existing, wanted)
        titles = {str(i.get("title") or "") for i in existing} | {f.title for f in chosen}
        full[:] = [f.title for f in wanted if f.title not in titles]
        return [fu.item(f) for f in chosen]

    try:
        if not await items.add_action_items(namespace, postmortem, additions):
            return {}
    except FieldOwnedElsewhere as exc:
        return {i: replace(f, message=str(exc)) for i, f in enumerate(wanted)}
    limit = f"postmortem {postmortem} holds {fu.MAX_ACTION_ITEMS} action items already"
    return {
        i: replace(f, message=limit) if f.title in full else replace(f, postmortem=postmortem)
        for i, f in enumerate(wanted)
    }


async def carry(body: Mapping[str, Any], items: ActionItems | None) -> Body:
    """The follow-ups still owed to the incident's existing Postmortem, added now (a draft
    made from an incident read before a step recorded one): the followUps patch."""
    postmortem = str((body.get("status") or {}).get("postmortemRef") or "")
    if items is None or not postmortem:
        return {}
    owed = {i: f for i, f in follow_ups_of(body).items() if f.owed}
    if not owed:
        return {}
    meta = body["metadata"]
    done = await add(items, str(meta["namespace"]), postmortem, list(owed.values()))
    ids = list(owed)
    return {
        ids[n]: {"postmortem": f.postmortem or None, "message": f.message or None}
        for n, f in done.items()
    }


async def follow_up_step(
    current: Mapping[str, Any],
    step: wf.Step,
    *,
    workflow: str,
    values: Mapping[str, str],
    now: datetime,
    items: ActionItems | None,
    recorded: dict[str, Body],
) -> str:
    """Record the step's follow-up in ``recorded`` (the followUps written with the done
    keys) and add it to the incident's Postmortem if it has one; the timeline text.
    PermanentError (after recording it) when Git declares the Postmortem's action items."""
    have = follow_ups_of(current)
    key = fu.follow_up_id(step.key)
    f = fu.follow_up(step.action, values, now)
    if key not in have and len(have) + len(recorded) >= fu.MAX_FOLLOW_UPS:
        raise PermanentError(f"this incident has {fu.MAX_FOLLOW_UPS} follow-ups already")
    postmortem = str((current.get("status") or {}).get("postmortemRef") or "")
    if postmortem and items is not None:
        meta = current["metadata"]
        f = (await add(items, str(meta["namespace"]), postmortem, [f])).get(0, f)
    recorded[key] = follow_up_status(f, workflow)
    if f.message:
        raise PermanentError(f.message)
    where = f"added to postmortem {f.postmortem}" if f.postmortem else "for the postmortem"
    who = f", owner {f.owner}" if f.owner else ""
    due = f", due {f.due.isoformat()}" if f.due else ""
    return f"Follow-up {where}: {f.title}{who}{due}"
