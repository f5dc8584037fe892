"""Severity response policy over time: who is escalated to, and when a reminder is due — pure.

The Severity says how fast humans must respond (``ackWithin``, ``updateEvery``); the incident's
OnCallRotation says who comes next (``escalation[]``). This module turns both, the incident's
milestones and ``now`` into decisions; the service resolves a layer to the person on call and
writes timeline entries, so a restart or a late timer tick re-derives exactly the same steps.

Escalation semantics (documented in the CRD field docs as well):

* Nothing escalates before ``ackWithin`` has passed since the declaration: the Severity gives
  the first responder that long.
* A rotation step ``{after: D, notify: layer/X}`` runs at ``declared + max(ackWithin, D)``
  when the incident is still unacknowledged — ``after`` is "time without acknowledgement"
  counted from the declaration, like PagerDuty's cumulative escalation delays.
* A rotation without ``escalation[]`` escalates down its layers: the layer below the top at
  ``ackWithin``, the next one at ``2 * ackWithin``, and so on — the chain every team has even
  when it never wrote one down.
* ``repeats`` runs the whole chain again that many times after it ends, like PagerDuty's
  "repeat this policy": round ``r`` places each step at its first-round time plus ``r``
  times the last step's time, so the first step of a new round follows the last step of
  the previous one by the first step's own delay. Levels keep counting (round 2 of a
  three-step chain starts at level 4), so every run of a step has its own key.
* Acknowledgement (``status.timestamps.acknowledged``) stops the chain. A step whose due time
  lies after the acknowledgement never runs, even when the operator only looks later.

Reminders: while the incident is open and not yet resolved, a reminder is due each time
``updateEvery`` passes without a status update (a note, a status update or a state change).
Keyed by the last update and the count of lapsed periods, so each lapse reminds exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .lifecycle import Phase
from .times import iso


class TargetKind(StrEnum):
    LAYER = "layer"
    PERSON = "person"
    TEAM = "team"


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    name: str

    @classmethod
    def parse(cls, text: str) -> Target:
        """``layer/<name>``, ``person/<name>`` or ``team/<name>`` (the CRD pattern guarantees
        the shape)."""
        kind, _, name = text.partition("/")
        return cls(TargetKind(kind), name)

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class Step:
    """One configured escalation step: after this long without acknowledgement, notify."""

    after: timedelta
    target: Target


@dataclass(frozen=True)
class Escalation:
    """A step placed in time for one incident; ``level`` counts from 1."""

    level: int
    due: datetime
    target: Target

    @property
    def key(self) -> str:
        """Timeline dedup key: one entry per level, however often the timer looks."""
        return f"escalation/{self.level}"


@dataclass(frozen=True)
class Reminder:
    """An update cadence lapsed: ``periods`` whole periods since ``last_update``."""

    due: datetime
    last_update: datetime
    periods: int

    @property
    def overdue_for(self) -> timedelta:
        return self.due - self.last_update

    @property
    def key(self) -> str:
        return f"reminder/{iso(self.last_update)}/{self.periods}"


UPDATE_TYPES: frozenset[str] = frozenset({"note", "status-update", "state-changed"})
"""Timeline entry types that count as a status update for the ``updateEvery`` cadence."""

REMINDED_PHASES: frozenset[Phase] = frozenset({Phase.TRIAGE, Phase.INVESTIGATING, Phase.MITIGATED})
"""A resolved incident owes no more updates (its postmortem has its own due date)."""


def schedule(
    steps: Sequence[Step],
    layers: Sequence[str],
    *,
    declared: datetime,
    ack_within: timedelta,
    repeats: int = 0,
) -> tuple[Escalation, ...]:
    """Every escalation this incident would get if nobody ever acknowledged, in time order.

    ``layers`` are the rotation's layer names top first (used only without configured steps);
    ``repeats`` further rounds of the whole chain follow the first (module docstring).
    """
    if steps:
        offsets = [(max(ack_within, s.after), s.target) for s in steps]
    else:
        offsets = [
            (ack_within * k, Target(TargetKind.LAYER, name))
            for k, name in enumerate(layers[1:], start=1)
        ]
    offsets.sort(key=lambda p: p[0])
    if not offsets:
        return ()
    period = offsets[-1][0]
    placed = [
        (declared + offset + period * r, target)
        for r in range(max(0, repeats) + 1)
        for offset, target in offsets
    ]
    return tuple(Escalation(level, due, target) for level, (due, target) in enumerate(placed, 1))


def due_escalations(
    planned: Iterable[Escalation], *, acknowledged: datetime | None, now: datetime
) -> tuple[Escalation, ...]:
    """The steps that have run by ``now``: due, and due before any acknowledgement."""
    return tuple(
        e for e in planned if e.due <= now and (acknowledged is None or e.due < acknowledged)
    )


def next_escalation(
    planned: Iterable[Escalation], *, acknowledged: datetime | None, now: datetime
) -> Escalation | None:
    """The next step still to run, or None (acknowledged, or the chain is exhausted)."""
    if acknowledged is not None:
        return None
    return next((e for e in planned if e.due > now), None)


def last_update(declared: datetime, updates: Iterable[tuple[str, datetime]]) -> datetime:
    """The latest status update (entries of :data:`UPDATE_TYPES`), at least the declaration."""
    return max([declared, *(at for type_, at in updates if type_ in UPDATE_TYPES)])


def reminder_due(
    phase: Phase, *, last: datetime, update_every: timedelta, now: datetime
) -> Reminder | None:
    """The reminder owed now, if the cadence lapsed; only the latest lapse (no backlog)."""
    if phase not in REMINDED_PHASES or update_every <= timedelta(0):
        return None
    periods = int((now - last) / update_every)
    if periods < 1:
        return None
    return Reminder(last + update_every * periods, last, periods)


def next_update_due(phase: Phase, *, last: datetime, update_every: timedelta) -> datetime | None:
    """When the next reminder falls due if nobody posts an update."""
    if phase not in REMINDED_PHASES or update_every <= timedelta(0):
        return None
    return last + update_every


def escalation_message(escalation: Escalation, person: str | None, severity: str) -> str:
    """Timeline text: what ran, to whom, and why."""
    if escalation.target.kind is TargetKind.TEAM:
        who = f"team {escalation.target.name} ({escalation.target})"
    elif person:
        who = f"{person} ({escalation.target})"
    else:
        who = f"nobody on call in {escalation.target}"
    return (
        f"Not acknowledged by {iso(escalation.due)}: escalation level {escalation.level} "
        f"to {who} (severity {severity})"
    )


def reminder_message(reminder: Reminder) -> str:
    minutes = int(reminder.overdue_for.total_seconds() // 60)
    return f"No status update for {minutes} min (since {iso(reminder.last_update)}): post one"
