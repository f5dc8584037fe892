"""The incident state machine: which moves are legal and what each move stamps.

Humans write their intent into ``spec.state``; the operator accepts it into ``status.phase``
only through :func:`decide_transition`, so a refused move is never silently applied.

Transition table (``current -> allowed targets``; staying put is always accepted)::

    triage        -> investigating, mitigated, resolved, closed, declined, merged
    investigating -> mitigated, resolved, closed, declined, merged
    mitigated     -> investigating, resolved, closed, merged
    resolved      -> investigating (reopen), closed, merged
    closed, declined, merged: terminal

Why these shapes:

* ``closed``, ``declined`` and ``merged`` are terminal, which the API server enforces as
  well (CEL transition rules on the spec). Because the API server will never let the spec
  leave them, the operator must never refuse a move *into* them for a reason the user could
  only fix by changing the state again; so closing and merging are legal from every open
  state (the user fixes missing roles or a missing Severity, not the state).
* ``declined`` ("this was not an incident") is only for incidents nobody mitigated yet.
* Nothing goes back to ``triage``: being acknowledged cannot be undone.
* Skipping states is allowed and stamps every milestone it passes that is still unset:
  ``triage -> resolved`` stamps acknowledged, mitigated and resolved at the same instant,
  so MTTA <= MTTM <= MTTR always holds and no figure is missing from the postmortem.
* Reopening (``mitigated``/``resolved -> investigating``) clears the mitigated/resolved
  stamps it undoes: the figures measure the mitigation that held, not the first attempt.
* Resolving and closing need the Severity's required roles filled.
* Closing waits for the postmortem when one is owed (``postmortem_blocking`` says why): the
  user fixes that by publishing it, never by changing the state, so the refusal is lifted
  by the postmortem alone.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Phase(StrEnum):
    TRIAGE = "triage"
    INVESTIGATING = "investigating"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    CLOSED = "closed"
    DECLINED = "declined"
    MERGED = "merged"


class Milestone(StrEnum):
    """Timestamps the lifecycle stamps (``detected``/``declared`` come from the source)."""

    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Duration(StrEnum):
    """MTTx figures, in seconds, named as in ``status.durations``."""

    TIME_TO_DETECT = "timeToDetect"
    TIME_TO_ACKNOWLEDGE = "timeToAcknowledge"
    TIME_TO_MITIGATE = "timeToMitigate"
    TIME_TO_RESOLVE = "timeToResolve"


class RefusalReason(StrEnum):
    """Machine-readable reasons, used as the condition's reason."""

    ILLEGAL_TRANSITION = "IllegalTransition"
    REQUIRED_ROLES_UNFILLED = "RequiredRolesUnfilled"
    SEVERITY_NOT_FOUND = "SeverityNotFound"
    MERGE_TARGET_INVALID = "MergeTargetInvalid"
    POSTMORTEM_NOT_PUBLISHED = "PostmortemNotPublished"


TERMINAL: frozenset[Phase] = frozenset({Phase.CLOSED, Phase.DECLINED, Phase.MERGED})
OPEN: frozenset[Phase] = frozenset(Phase) - TERMINAL
"""Not terminal: counted as open (a resolved incident still awaits closing)."""
ACTIVE: frozenset[Phase] = frozenset({Phase.TRIAGE, Phase.INVESTIGATING, Phase.MITIGATED})
"""Being worked: takes its source's signals, runs mitigations, holds change freezes."""
CONCLUDED: frozenset[Phase] = frozenset({Phase.RESOLVED, Phase.CLOSED})
"""Ended by a resolution (not declined or merged): owes a postmortem decision."""


PROGRESS: tuple[Phase, ...] = (
    Phase.TRIAGE,
    Phase.INVESTIGATING,
    Phase.MITIGATED,
    Phase.RESOLVED,
    Phase.CLOSED,
)
"""How far an incident has come; declined and merged are off this line."""


def is_past(requested: object, conclusion: Phase) -> bool:
    """A human's ``requested`` state already reaches ``conclusion`` (or left the line).

    The operator concludes only forward: a verified mitigation never pulls back an incident
    someone resolved, and nothing is concluded over a terminal request.
    """
    try:
        phase = Phase(str(requested))
    except ValueError:
        return False
    if phase not in PROGRESS or conclusion not in PROGRESS:
        return True
    return PROGRESS.index(phase) >= PROGRESS.index(conclusion)


def accepted(phase: object) -> Phase:
    """``status.phase`` as the lifecycle accepted it: triage until it has accepted one.

    Every "is it still open?" question is decided on this, never on ``spec.state``: a
    requested state the lifecycle refused (roles unfilled, postmortem unpublished) has not
    happened, so it lifts no freeze, stops no mitigation and ends no episode.
    """
    try:
        return Phase(str(phase)) if phase else Phase.TRIAGE
    except ValueError:
        return Phase.TRIAGE


TRANSITIONS: Mapping[Phase, frozenset[Phase]] = {
    Phase.TRIAGE: frozenset(
        {
            Phase.INVESTIGATING,
            Phase.MITIGATED,
            Phase.RESOLVED,
            Phase.CLOSED,
            Phase.DECLINED,
            Phase.MERGED,
        }
    ),
    Phase.INVESTIGATING: frozenset(
        {Phase.MITIGATED, Phase.RESOLVED, Phase.CLOSED, Phase.DECLINED, Phase.MERGED}
    ),
    # Every terminal state is reachable from every open phase. The API server's CEL rules
    # decide what a human may write (declined only from triage/investigating); the operator's
    # phase can lag the spec (mitigated -> investigating -> declined before it saw the middle
    # step), and refusing a terminal spec would leave an object that can never move again.
    Phase.MITIGATED: frozenset(
        {Phase.INVESTIGATING, Phase.RESOLVED, Phase.CLOSED, Phase.DECLINED, Phase.MERGED}
    ),
    Phase.RESOLVED: frozenset({Phase.INVESTIGATING, Phase.CLOSED, Phase.DECLINED, Phase.MERGED}),
    Phase.CLOSED: frozenset(),
    Phase.DECLINED: frozenset(),
    Phase.MERGED: frozenset(),
}

# Milestones reached on entering each phase (in order); skipping a state stamps them all.
REACHES: Mapping[Phase, tuple[Milestone, ...]] = {
    Phase.TRIAGE: (),
    Phase.INVESTIGATING: (Milestone.ACKNOWLEDGED,),
    Phase.MITIGATED: (Milestone.ACKNOWLEDGED, Milestone.MITIGATED),
    Phase.RESOLVED: (Milestone.ACKNOWLEDGED, Milestone.MITIGATED, Milestone.RESOLVED),
    Phase.CLOSED: (
        Milestone.ACKNOWLEDGED,
        Milestone.MITIGATED,
        Milestone.RESOLVED,
        Milestone.CLOSED,
    ),
    # Declined/merged incidents end without being mitigated: only "when did it end".
    Phase.DECLINED: (Milestone.CLOSED,),
    Phase.MERGED: (Milestone.CLOSED,),
}

# Stamps a move back to investigating undoes.
UNDONE_BY_REOPEN: tuple[Milestone, ...] = (Milestone.MITIGATED, Milestone.RESOLVED)

NEEDS_ROLES: frozenset[Phase] = frozenset({Phase.RESOLVED, Phase.CLOSED})

_FIGURES: Mapping[Milestone, Duration] = {
    Milestone.ACKNOWLEDGED: Duration.TIME_TO_ACKNOWLEDGE,
    Milestone.MITIGATED: Duration.TIME_TO_MITIGATE,
    Milestone.RESOLVED: Duration.TIME_TO_RESOLVE,
}


@dataclass(frozen=True)
class Accepted:
    """The requested state becomes the phase.

    ``stamps`` are the milestones to set (None: clear it, after a reopen); ``durations``
    the MTTx figures to set (None: clear). Both hold only what changes.
    """

    phase: Phase
    previous: Phase | None
    stamps: Mapping[Milestone, datetime | None] = field(default_factory=dict)
    durations: Mapping[Duration, float | None] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.phase != self.previous


@dataclass(frozen=True)
class Refused:
    """The phase stays; ``message`` says why in words a responder can act on."""

    phase: Phase
    requested: Phase
    reason: RefusalReason
    message: str


Decision = Accepted | Refused


def missing_roles(filled: Mapping[str, str | None], required: Collection[str]) -> tuple[str, ...]:
    """Required roles without a person, in the order the Severity lists them."""
    return tuple(role for role in required if not filled.get(role))


def decide_transition(
    current: Phase | None,
    requested: Phase,
    now: datetime,
    *,
    roles: Mapping[str, str | None],
    required_roles: Collection[str] | None,
    timestamps: Mapping[Milestone, datetime],
    declared: datetime,
    detected: datetime | None = None,
    severity: str = "",
    merged_into: str | None = None,
    name: str = "",
    merge_target_exists: bool = True,
    postmortem_blocking: str | None = None,
) -> Decision:
    """Judge ``current -> requested``; ``current`` None means the incident is new (triage).

    ``required_roles`` None means the Severity could not be found: moves that need its
    policy are refused rather than guessed. ``declared`` is the origin of the MTTx figures
    (the declaration, else the object's creation); ``detected`` adds time to detect.
    ``postmortem_blocking``: why the owed postmortem keeps the incident from closing, or None.
    """
    start = current if current is not None else Phase.TRIAGE
    if requested != start and requested not in TRANSITIONS[start]:
        return Refused(
            start,
            requested,
            RefusalReason.ILLEGAL_TRANSITION,
            f"{start} -> {requested} is not allowed"
            + (
                f" ({start} is terminal)"
                if start in TERMINAL
                else f"; from {start} the incident may move to "
                + ", ".join(p.value for p in Phase if p in TRANSITIONS[start])
            ),
        )
    if requested in NEEDS_ROLES:
        if required_roles is None:
            return Refused(
                start,
                requested,
                RefusalReason.SEVERITY_NOT_FOUND,
                f"severity {severity} not found: cannot check its required roles before "
                f"{requested}",
            )
        missing = missing_roles(roles, required_roles)
        if missing:
            return Refused(
                start,
                requested,
                RefusalReason.REQUIRED_ROLES_UNFILLED,
                f"cannot move to {requested}: severity {severity} requires role(s) "
                f"{', '.join(missing)} to be filled (spec.roles)",
            )
    if requested is Phase.CLOSED and start is not Phase.CLOSED and postmortem_blocking:
        return Refused(
            start,
            requested,
            RefusalReason.POSTMORTEM_NOT_PUBLISHED,
            f"cannot close: {postmortem_blocking}",
        )
    if requested is Phase.MERGED and (not merged_into or merged_into == name):
        return Refused(
            start,
            requested,
            RefusalReason.MERGE_TARGET_INVALID,
            "merged needs spec.mergedInto naming another incident",
        )
    if requested is Phase.MERGED and start is not Phase.MERGED and not merge_target_exists:
        return Refused(
            start,
            requested,
            RefusalReason.MERGE_TARGET_INVALID,
            f"cannot merge into {merged_into}: no such incident in this namespace",
        )
    return _accept(current, requested, now, timestamps, declared=declared, detected=detected)


def _accept(
    current: Phase | None,
    requested: Phase,
    now: datetime,
    timestamps: Mapping[Milestone, datetime],
    *,
    declared: datetime,
    detected: datetime | None,
) -> Accepted:
    stamps: dict[Milestone, datetime | None] = {}
    if requested is Phase.INVESTIGATING and current in (Phase.MITIGATED, Phase.RESOLVED):
        for milestone in UNDONE_BY_REOPEN:
            if milestone in timestamps:
                stamps[milestone] = None
    if requested != current:
        for milestone in REACHES[requested]:
            if milestone not in timestamps:
                stamps[milestone] = now
    after = {**timestamps, **stamps}
    durations: dict[Duration, float | None] = {}
    for milestone, figure in _FIGURES.items():
        if milestone in stamps:
            at = after.get(milestone)
            durations[figure] = None if at is None else max(0.0, (at - declared).total_seconds())
    if detected is not None:
        durations[Duration.TIME_TO_DETECT] = max(0.0, (declared - detected).total_seconds())
    return Accepted(requested, current, stamps, durations)


def figures(
    timestamps: Mapping[Milestone, datetime], declared: datetime, detected: datetime | None
) -> dict[Duration, float]:
    """Every MTTx figure the timestamps allow (for recomputing after the origin moved)."""
    out = {
        figure: max(0.0, (timestamps[m] - declared).total_seconds())
        for m, figure in _FIGURES.items()
        if m in timestamps
    }
    if detected is not None:
        out[Duration.TIME_TO_DETECT] = max(0.0, (declared - detected).total_seconds())
    return out
