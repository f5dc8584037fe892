"""API <-> domain conversion, in one tested place."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from incident_operator.domain import conditions as domain
from incident_operator.domain import timeline
from incident_operator.domain.times import iso

from .common import CommonStatus, Condition, ConditionStatus
from .incident import TimelineSummary


def condition_to_domain(condition: Condition) -> domain.Condition:
    return domain.Condition(
        type=condition.type,
        status=domain.Status(condition.status.value),
        reason=condition.reason,
        message=condition.message,
        last_transition_time=condition.last_transition_time,
        observed_generation=condition.observed_generation,
    )


def condition_from_domain(condition: domain.Condition) -> Condition:
    return Condition(
        type=condition.type,
        status=ConditionStatus(condition.status.value),
        reason=condition.reason,
        message=condition.message,
        last_transition_time=condition.last_transition_time,
        observed_generation=condition.observed_generation,
    )


def conditions_status(conditions: Iterable[domain.Condition]) -> list[dict[str, Any]]:
    """``status.conditions`` as written in a merge patch (camelCase JSON, no nulls)."""
    return [
        condition_from_domain(c).model_dump(by_alias=True, mode="json", exclude_none=True)
        for c in conditions
    ]


def rebase_conditions(
    base: Sequence[Mapping[str, Any]],
    wanted: Sequence[Mapping[str, Any]],
    fresh: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """A writer's change to ``status.conditions`` replayed onto the object's newest list.

    ``base`` is the list the writer read, ``wanted`` the list it computed from it, ``fresh``
    what the object holds now. Only the types the writer changed (or dropped) are applied, so
    conditions another writer set since the read (Burning next to Ready, ChatDegraded next to
    TransitionRefused) survive: the three-way merge a merge patch of the whole list cannot do.
    """
    before = {str(c.get("type")): c for c in base}
    after = {str(c.get("type")): c for c in wanted}
    changed = {t: c for t, c in after.items() if before.get(t) != c}
    dropped = set(before) - set(after)
    out: list[dict[str, Any]] = []
    for condition in fresh:
        type_ = str(condition.get("type"))
        if type_ in dropped:
            continue
        out.append(dict(changed.pop(type_, condition)))
    out.extend(dict(c) for c in changed.values())
    return out


def conditions_to_domain(conditions: Iterable[Condition]) -> tuple[domain.Condition, ...]:
    return tuple(condition_to_domain(c) for c in conditions)


def existing_conditions(body: Mapping[str, Any]) -> tuple[domain.Condition, ...]:
    """The conditions an object's status already holds; an unreadable status counts as none.

    The status is our own earlier observation: when it cannot be read it is rewritten, and
    never a reason to stop reconciling the object.
    """
    try:
        status = CommonStatus.model_validate(body.get("status") or {})
    except ValidationError:
        return ()
    return conditions_to_domain(status.conditions)


def timeline_summary_to_domain(status: Mapping[str, Any]) -> timeline.Summary | None:
    """``status.timelineSummary`` as the domain's value; absent or unreadable: None."""
    raw = status.get("timelineSummary")
    if not raw:
        return None
    try:
        model = TimelineSummary.model_validate(raw)
    except ValidationError:
        return None
    return timeline.Summary(
        model.entries,
        dict(model.by_type),
        iso(model.first) if model.first else None,
        iso(model.last) if model.last else None,
    )


def timeline_summary_from_domain(summary: timeline.Summary) -> dict[str, Any] | None:
    """The status value to store; None while nothing was folded."""
    if not summary.entries:
        return None
    return {
        "entries": summary.entries,
        "byType": dict(summary.by_type),
        "first": summary.first,
        "last": summary.last,
    }


def merge_timeline(
    status: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The status keys (``timeline``, ``timelineSummary``) after appending; None: no change.

    Dedup, order and bound are the domain's (domain/timeline.py); only the shapes are here.
    """
    merged = timeline.merge(
        status.get("timeline") or [], entries, timeline_summary_to_domain(status)
    )
    if merged is None:
        return None
    out: dict[str, Any] = {"timeline": [dict(e) for e in merged.entries]}
    summary = timeline_summary_from_domain(merged.summary)
    if summary is not None:
        out["timelineSummary"] = summary
    return out
